// Downloading weights into torch.hub's cache, and checking them.
//
// What torch.hub's download_url_to_file and load_state_dict_from_url do,
// without their gaps: the bytes go to a uniquely named partial file beside
// the destination, are hashed while they stream, are checked against the
// hash prefix in the file name, and only then renamed over the destination
// (rename(2) is atomic, so concurrent downloaders each finish with the same
// verified file and a reader never sees half of one). Any failure removes the
// partial file and leaves an existing destination as it was.
//
// libcurl does the transfer, so its usual proxy variables (http_proxy,
// https_proxy, no_proxy, ...) apply. Every failure throws
// Error(ErrorKind::kDownload) with one line naming the URL or file and the
// reason. The partial file is registered with temporary_files.h, so that the
// front end's signal handler can remove it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace resnet_cli {

// torchvision's download base, which a mirror replaces.
inline constexpr std::string_view kTorchvisionDownloadBase =
    "https://download.pytorch.org/models/";

// One report of a download in progress.
struct DownloadProgress {
  enum class Phase {
    kReceiving,     // bytes are arriving
    kAttemptEnded,  // an attempt ended (a retry or the end may follow)
    kFinished,      // verified and in place; `summary` says so in one line
  };
  Phase phase = Phase::kReceiving;
  std::string label;           // the file's name
  std::uint64_t received = 0;  // bytes so far in this attempt
  std::uint64_t total = 0;     // bytes expected; 0 when unknown
  double seconds = 0;          // since this attempt started
  std::string summary;         // kFinished: URL, path, size, rate, SHA-256
};

struct DownloadOptions {
  // Further attempts after a connection error, a body shorter than its
  // Content-Length, a stalled transfer or an HTTP 5xx. Never after a 4xx.
  int retries = 3;
  // Wait before the first retry, milliseconds; doubled before each next one.
  int retry_delay_ms = 500;
  // Name lookup and connect, per attempt, seconds. With the defaults a host
  // that cannot be reached fails within 4 * 5 + 0.5 + 1 + 2 = 23.5 s.
  int connect_timeout_s = 5;
  // An attempt that receives no byte for this many seconds is aborted.
  int stall_timeout_s = 30;
  // Told about the transfer as it goes, from the downloading thread; empty:
  // nothing is reported.
  std::function<void(const DownloadProgress&)> progress;
};

// Downloads `url` to `destination` through
// `<destination>.<random hex>.partial`, creating the destination's folder
// when missing. When `expected_hash_prefix` is not empty the SHA-256 of the
// body must start with it (torch.hub's check_hash). Returns the body's
// SHA-256, 64 lowercase hex digits. Throws Error(kDownload).
std::string download_file(const std::string& url,
                          const std::filesystem::path& destination,
                          const std::string& expected_hash_prefix,
                          const DownloadOptions& options);

// The file name torch.hub caches `url` under: the last segment of the URL's
// path, query and fragment dropped ("https://h/x/m-1234.pth?dl=1" ->
// "m-1234.pth"). Throws Error(kUsage) when there is none.
std::string url_file_name(std::string_view url);

// Where torch.hub caches `url`: hub_checkpoint_dir() / url_file_name(url).
std::filesystem::path cached_url_path(std::string_view url);

// `url` fetched from `mirror` instead: mirror + "/" + the path below
// kTorchvisionDownloadBase ("quantized/resnet50_fbgemm-23753f79.pth" keeps
// its folder), or + url_file_name(url) for any other URL (one '/' between
// them). An empty mirror gives `url` unchanged.
std::string mirror_url(std::string_view url, std::string_view mirror);

// The SHA-256 of a file, 64 lowercase hex digits. Throws Error(kWeights)
// naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

// A file's SHA-256 against the prefix its name carries (torch.hub's rule,
// see hash_prefix_from_file_name).
struct HashCheck {
  std::string sha256;           // the whole digest, lowercase hex
  std::string expected_prefix;  // from the file name; empty when it has none
  bool has_prefix() const { return !expected_prefix.empty(); }
  // True when the digest starts with the prefix (or there is none).
  bool matches() const;
};

// Hashes `path` and checks it against its own file name's prefix. Throws
// Error(kWeights) when the file cannot be read.
HashCheck check_file_hash(const std::filesystem::path& path);

}  // namespace resnet_cli
