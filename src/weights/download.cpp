#include "weights/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/human_units.h"
#include "base/temporary_files.h"
#include "weights/registry.h"

namespace resnet_cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0xf]);
  }
  return hex;
}

std::string http_status_text(long status) {
  std::string text = "HTTP status " + std::to_string(status);
  switch (status) {
    case 400:
      return text + " (Bad Request)";
    case 401:
      return text + " (Unauthorized)";
    case 403:
      return text + " (Forbidden)";
    case 404:
      return text + " (Not Found)";
    case 410:
      return text + " (Gone)";
    case 429:
      return text + " (Too Many Requests)";
    case 500:
      return text + " (Internal Server Error)";
    case 502:
      return text + " (Bad Gateway)";
    case 503:
      return text + " (Service Unavailable)";
    case 504:
      return text + " (Gateway Timeout)";
    default:
      return text;
  }
}

// Incremental SHA-256 through OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    if (!context_) throw std::bad_alloc();
    reset();
  }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset() {
    if (EVP_DigestInit_ex(context_, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
    }
  }
  void update(const void* data, std::size_t size) {
    EVP_DigestUpdate(context_, data, size);
  }
  std::string hex_digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(context_, digest, &size);
    return to_hex(digest, size);
  }

 private:
  EVP_MD_CTX* context_;
};

// `<destination>.<32 random hex>.partial`, created exclusively beside the
// destination so that it is on the same file system (rename(2) needs that)
// and no two downloaders share one. Removed unless commit() renamed it.
class PartialFile {
 public:
  explicit PartialFile(const std::filesystem::path& destination)
      : destination_(destination) {
    unsigned char random[16];
    if (RAND_bytes(random, sizeof random) != 1) {
      throw Error(ErrorKind::kDownload,
                  "cannot draw random bytes for a temporary file name");
    }
    path_ =
        destination.string() + "." + to_hex(random, sizeof random) + ".partial";
    // Registered first: a signal between open() and registering would leave
    // the file behind.
    registration_ = std::make_unique<TemporaryFileRegistration>(path_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) {
      const int saved = errno;
      throw Error(ErrorKind::kDownload, "cannot write to the cache folder " +
                                            destination.parent_path().string() +
                                            ": " + std::strerror(saved));
    }
  }

  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  const std::string& path() const { return path_; }

  // Returns false and keeps errno when the write fails (ENOSPC, EFBIG, EIO).
  bool write(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t written = ::write(fd_, data, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      data += written;
      size -= static_cast<std::size_t>(written);
    }
    return true;
  }

  // Empties the file for another attempt.
  void truncate() {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
      fail("cannot truncate", errno);
    }
  }

  // Makes the bytes durable, then atomically replaces the destination.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot write", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot write", errno);
    if (::rename(path_.c_str(), destination_.c_str()) != 0) {
      const int saved = errno;
      throw Error(ErrorKind::kDownload, "cannot rename " + path_ + " to " +
                                            destination_.string() + ": " +
                                            std::strerror(saved));
    }
    committed_ = true;
    // The rename itself is durable once the folder is synced too.
    const int folder = ::open(destination_.parent_path().c_str(),
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder >= 0) {
      ::fsync(folder);
      ::close(folder);
    }
  }

 private:
  [[noreturn]] void fail(const char* what, int error) const {
    throw Error(ErrorKind::kDownload,
                std::string(what) + " " + path_ + ": " + std::strerror(error));
  }

  std::filesystem::path destination_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
  std::unique_ptr<TemporaryFileRegistration> registration_;
};

// Reports a transfer to DownloadOptions::progress, when there is one.
class ProgressReporter {
 public:
  ProgressReporter(const DownloadOptions& options, std::string label)
      : callback_(options.progress), label_(std::move(label)) {}

  void start_attempt() { start_ = Clock::now(); }

  void update(std::uint64_t received, std::uint64_t total) {
    if (received == 0 && total == 0) return;  // nothing yet
    report(DownloadProgress::Phase::kReceiving, received, total, "");
  }
  void end_attempt() {
    report(DownloadProgress::Phase::kAttemptEnded, 0, 0, "");
  }
  void finish(std::uint64_t received, const std::string& summary) {
    report(DownloadProgress::Phase::kFinished, received, received, summary);
  }

  double elapsed_seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  void report(DownloadProgress::Phase phase, std::uint64_t received,
              std::uint64_t total, const std::string& summary) {
    if (!callback_) return;
    DownloadProgress progress;
    progress.phase = phase;
    progress.label = label_;
    progress.received = received;
    progress.total = total;
    progress.seconds = elapsed_seconds();
    progress.summary = summary;
    callback_(progress);
  }

  const std::function<void(const DownloadProgress&)>& callback_;
  std::string label_;
  Clock::time_point start_ = Clock::now();
};

// What libcurl's callbacks write into during one attempt.
struct Transfer {
  PartialFile* file = nullptr;
  Sha256* hasher = nullptr;
  ProgressReporter* progress = nullptr;
  std::uint64_t received = 0;
  int write_errno = 0;  // set when writing the partial file failed
};

extern "C" std::size_t on_body(char* data, std::size_t size, std::size_t count,
                               void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (!transfer->file->write(data, bytes)) {
    transfer->write_errno = errno;
    return 0;  // anything but `bytes` makes libcurl stop with a write error
  }
  transfer->hasher->update(data, bytes);
  transfer->received += bytes;
  return bytes;
}

extern "C" int on_progress(void* user, curl_off_t total, curl_off_t now,
                           curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  transfer->progress->update(static_cast<std::uint64_t>(now),
                             static_cast<std::uint64_t>(total));
  return 0;
}

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(ErrorKind::kDownload, "cannot initialise libcurl");
    }
  });
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};

// How one attempt ended.
struct AttemptOutcome {
  bool ok = false;
  bool retryable = false;
  std::string reason;  // for the user, without the URL
};

bool is_transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

AttemptOutcome run_attempt(CURL* curl, Transfer& transfer,
                           const DownloadOptions& options) {
  char error_buffer[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

  AttemptOutcome outcome;
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_OK) {
    if (transfer.received == 0) {
      outcome.reason = "the server sent an empty body";
      return outcome;
    }
    outcome.ok = true;
    return outcome;
  }
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    outcome.reason = http_status_text(status);
    outcome.retryable = status >= 500;
    return outcome;
  }
  if (code == CURLE_WRITE_ERROR && transfer.write_errno != 0) {
    outcome.reason = "cannot write " + transfer.file->path() + ": " +
                     std::strerror(transfer.write_errno);
    return outcome;
  }
  if (code == CURLE_PARTIAL_FILE) {
    curl_off_t expected = -1;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
    outcome.reason = "the body is shorter than its Content-Length: " +
                     std::to_string(transfer.received) + " of " +
                     std::to_string(expected) + " bytes came";
    outcome.retryable = true;
    return outcome;
  }
  if (code == CURLE_OPERATION_TIMEDOUT && status != 0) {
    outcome.reason = "the transfer stalled (no data for " +
                     std::to_string(options.stall_timeout_s) + " s)";
    outcome.retryable = true;
    return outcome;
  }
  outcome.reason = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
  outcome.retryable = is_transient(code);
  return outcome;
}

void configure(CURL* curl, const std::string& url, Transfer& transfer,
               const DownloadOptions& options) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85: the string forms
  // A local mirror may be a folder (file://); a redirect never may.
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS,
                   CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS,
                   CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "resnet-cli");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                   static_cast<long>(options.connect_timeout_s));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options.stall_timeout_s));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
}

}  // namespace

bool HashCheck::matches() const {
  return sha256.compare(0, expected_prefix.size(), expected_prefix) == 0;
}

namespace {

// download_file without the URL in its messages: throws Error(kDownload) with
// the reason alone.
std::string download_or_throw_reason(const std::string& url,
                                     const std::filesystem::path& destination,
                                     const std::string& expected_hash_prefix,
                                     const DownloadOptions& options) {
  ensure_curl_initialised();
  const std::filesystem::path folder = destination.parent_path().empty()
                                           ? std::filesystem::path(".")
                                           : destination.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    throw Error(ErrorKind::kDownload, "cannot create the cache folder " +
                                          folder.string() + ": " +
                                          ec.message());
  }
  PartialFile file(destination);
  Sha256 hasher;
  ProgressReporter progress(options, destination.filename().string());
  Transfer transfer;
  transfer.file = &file;
  transfer.hasher = &hasher;
  transfer.progress = &progress;

  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw Error(ErrorKind::kDownload, "cannot initialise libcurl");
  configure(curl.get(), url, transfer, options);

  const int attempts = 1 + std::max(0, options.retries);
  int delay_ms = std::max(0, options.retry_delay_ms);
  AttemptOutcome outcome;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      file.truncate();
      hasher.reset();
      transfer.received = 0;
      transfer.write_errno = 0;
    }
    progress.start_attempt();
    outcome = run_attempt(curl.get(), transfer, options);
    progress.end_attempt();
    if (outcome.ok || !outcome.retryable || attempt == attempts) break;
    spdlog::warn("{}: {}; retrying in {} ms (attempt {} of {})", url,
                 outcome.reason, delay_ms, attempt + 1, attempts);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    delay_ms *= 2;
  }
  if (!outcome.ok) {
    if (outcome.retryable && attempts > 1) {
      outcome.reason += " (" + std::to_string(attempts) + " attempts)";
    }
    throw Error(ErrorKind::kDownload, outcome.reason);
  }

  const std::string digest = hasher.hex_digest();
  if (digest.compare(0, expected_hash_prefix.size(), expected_hash_prefix) !=
      0) {
    throw Error(ErrorKind::kDownload, "the SHA-256 of what came, " + digest +
                                          ", does not start with " +
                                          expected_hash_prefix +
                                          ", the hash in the file name");
  }
  const double seconds = progress.elapsed_seconds();
  file.commit();

  std::string summary = "downloaded " + url + " to " + destination.string() +
                        " (" + format_bytes(transfer.received);
  if (seconds > 0) {
    summary += " in " + format_seconds(seconds) + ", " +
               format_bytes(transfer.received / seconds) + "/s";
  }
  summary += "), sha256 " + digest;
  summary += expected_hash_prefix.empty() ? " (no hash in the name to check)"
                                          : " (verified)";
  progress.finish(transfer.received, summary);
  return digest;
}

}  // namespace

std::string download_file(const std::string& url,
                          const std::filesystem::path& destination,
                          const std::string& expected_hash_prefix,
                          const DownloadOptions& options) {
  try {
    return download_or_throw_reason(url, destination, expected_hash_prefix,
                                    options);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDownload) throw;
    throw Error(ErrorKind::kDownload,
                "cannot download " + url + ": " + std::string(e.what()));
  }
}

std::string url_file_name(std::string_view url) {
  std::string_view rest = url.substr(0, url.find_first_of("?#"));
  const std::size_t scheme = rest.find("://");
  if (scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
    const std::size_t path_start = rest.find('/');
    rest = path_start == std::string_view::npos ? std::string_view()
                                                : rest.substr(path_start);
  }
  const std::size_t slash = rest.rfind('/');
  const std::string_view name =
      slash == std::string_view::npos ? rest : rest.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    throw Error(ErrorKind::kUsage,
                std::string(url) +
                    ": the URL names no file (a download is cached under the "
                    "last part of its path)");
  }
  return std::string(name);
}

std::filesystem::path cached_url_path(std::string_view url) {
  return hub_checkpoint_dir() / url_file_name(url);
}

std::string mirror_url(std::string_view url, std::string_view mirror) {
  if (mirror.empty()) return std::string(url);
  std::string base(mirror);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (url.substr(0, kTorchvisionDownloadBase.size()) ==
      kTorchvisionDownloadBase) {
    return base + "/" +
           std::string(url.substr(kTorchvisionDownloadBase.size()));
  }
  return base + "/" + url_file_name(url);
}

std::string sha256_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorKind::kWeights,
                path.string() + ": cannot read: " + std::strerror(errno));
  }
  Sha256 hasher;
  std::unique_ptr<char[]> buffer(new char[1 << 20]);
  for (;;) {
    const ssize_t got = ::read(fd, buffer.get(), 1 << 20);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      throw Error(ErrorKind::kWeights,
                  path.string() + ": cannot read: " + std::strerror(saved));
    }
    hasher.update(buffer.get(), static_cast<std::size_t>(got));
  }
  ::close(fd);
  return hasher.hex_digest();
}

HashCheck check_file_hash(const std::filesystem::path& path) {
  HashCheck check;
  check.expected_prefix = hash_prefix_from_file_name(path.filename().string());
  check.sha256 = sha256_file(path);
  return check;
}

}  // namespace resnet_cli
