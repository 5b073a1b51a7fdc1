#include "weights/weights_source.h"

#include <spdlog/spdlog.h>

#include "base/error.h"

namespace resnet_cli {

CacheEntry registry_cache_entry(const WeightsInfo& weights,
                                std::string_view mirror) {
  return {"weights " + weights.name, mirror_url(weights.url, mirror),
          cached_weights_path(weights)};
}

CacheEntry url_cache_entry(const std::string& url) {
  return {"weights from --weights-url", url, cached_url_path(url)};
}

void verify_weights_file(const std::filesystem::path& path) {
  const HashCheck check = check_file_hash(path);
  if (!check.has_prefix()) {
    spdlog::warn(
        "{}: --verify: its name carries no hash to check against (sha256 {})",
        path.string(), check.sha256);
    return;
  }
  if (!check.matches()) {
    throw Error(ErrorKind::kWeights,
                path.string() + ": SHA-256 " + check.sha256 +
                    " does not start with " + check.expected_prefix +
                    ", the hash in its name: the file is damaged or not what "
                    "its name says (delete it to download it again)");
  }
  spdlog::info("{}: sha256 {} verified", path.string(), check.sha256);
}

CacheResult fetch_into_cache(const CacheEntry& entry, const FetchOptions& fetch,
                             bool force) {
  std::error_code ec;
  if (!force && std::filesystem::is_regular_file(entry.path, ec)) {
    if (fetch.verify) verify_weights_file(entry.path);
    return {entry.path, false};
  }
  if (fetch.offline) {
    throw Error(ErrorKind::kWeights,
                entry.what + " are not cached at " + entry.path.string() +
                    " and downloads are off (--offline, RESNET_CLI_OFFLINE); "
                    "download " +
                    entry.url +
                    " to that path (as torch.hub does), or pass "
                    "--weights-file FILE");
  }
  download_file(entry.url, entry.path,
                hash_prefix_from_file_name(entry.path.filename().string()),
                fetch.download);
  return {entry.path, true};
}

std::filesystem::path resolve_weights_file(const WeightsSource& source,
                                           const FetchOptions& fetch) {
  if (!source.file.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(source.file, ec)) {
      throw Error(ErrorKind::kWeights,
                  source.file + ": weights file not found (--weights-file)");
    }
    if (fetch.verify) verify_weights_file(source.file);
    return source.file;
  }
  const CacheEntry entry =
      source.url.empty() ? registry_cache_entry(*source.registry, fetch.mirror)
                         : url_cache_entry(source.url);
  try {
    return fetch_into_cache(entry, fetch).path;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDownload) throw;
    throw Error(ErrorKind::kDownload,
                entry.what + " are not cached at " + entry.path.string() +
                    " and " + e.what() +
                    "; put the file at that path (as torch.hub does), or "
                    "pass --weights-file FILE");
  }
}

std::vector<std::filesystem::path> files_to_verify(const std::string& target) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (target.empty()) {
    for (const WeightsInfo& weights : all_weights()) {
      const auto path = cached_weights_path(weights);
      if (std::filesystem::is_regular_file(path, ec)) files.push_back(path);
    }
    return files;
  }
  const WeightsInfo* weights = nullptr;
  try {
    weights = &find_weights(target);
  } catch (const Error&) {
    // Not a registry name: a file.
  }
  if (weights) {
    const auto path = cached_weights_path(*weights);
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw Error(ErrorKind::kWeights,
                  "weights " + weights->name + " are not cached at " +
                      path.string() + " (resnet-cli weights download " +
                      weights->name + " fetches them)");
    }
    return {path};
  }
  if (!std::filesystem::exists(target, ec)) {
    throw Error(ErrorKind::kWeights,
                target + ": no such file, and not a weights name");
  }
  return {std::filesystem::path(target)};
}

}  // namespace resnet_cli
