// Where a checkpoint comes from, and how it becomes a verified local file:
// the one place that decides between a given file, torch.hub's cache and a
// download. classify, bench and `weights download|verify` all come here.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "weights/download.h"
#include "weights/registry.h"

namespace resnet_cli {

// How a checkpoint that is not given as a file is found and fetched.
struct FetchOptions {
  std::string mirror;    // replaces kTorchvisionDownloadBase; empty: none
  bool offline = false;  // never download: a file not cached is an error
  bool verify = false;   // re-hash a cached (or given) file before use
  DownloadOptions download;
};

// The checkpoint a command runs with. `registry` always chooses the
// transforms; the file is `file` when given, else the one cached for `url`
// when given, else the registry entry's.
struct WeightsSource {
  const WeightsInfo* registry = nullptr;
  std::string file;  // --weights-file
  std::string url;   // --weights-url
};

// A file of torch.hub's cache and the URL it comes from.
struct CacheEntry {
  std::string what;  // for messages: "weights IMAGENET1K_V2"
  std::string url;   // the mirror's, when there is one
  std::filesystem::path path;
};

// The cache entry of a registry entry (fetched from `mirror` when not empty),
// or of any URL (load_state_dict_from_url's file name).
CacheEntry registry_cache_entry(const WeightsInfo& weights,
                                std::string_view mirror);
CacheEntry url_cache_entry(const std::string& url);

struct CacheResult {
  std::filesystem::path path;
  bool downloaded = false;  // false: it was cached already
};

// The cached file, downloaded first when missing (or always, with `force`;
// the cached file stays until the new one is verified). With fetch.verify a
// cached file is re-hashed. Throws Error(kWeights) when offline and missing,
// Error(kDownload) when the download fails.
CacheResult fetch_into_cache(const CacheEntry& entry, const FetchOptions& fetch,
                             bool force = false);

// The local checkpoint for `source`, fetched as needed. A missing file or a
// failed download throws an error naming the URL, the cache path and
// --weights-file.
std::filesystem::path resolve_weights_file(const WeightsSource& source,
                                           const FetchOptions& fetch);

// torch.hub trusts a cached file forever; this re-hashes it against the hash
// prefix in its name. Throws Error(kWeights) on a mismatch; a name without a
// hash gets a warning.
void verify_weights_file(const std::filesystem::path& path);

// What `weights verify TARGET` checks: a registry NAME's cached file, a FILE,
// or (empty target) every cached registry file. Throws Error(kWeights) for a
// NAME that is not cached or a FILE that does not exist.
std::vector<std::filesystem::path> files_to_verify(const std::string& target);

}  // namespace resnet_cli
