#include "base/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "base/temporary_files.h"

namespace resnet_cli {

namespace {

[[noreturn]] void fail_input(const std::filesystem::path& path, int error) {
  const std::string reason = std::strerror(error);
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      throw Error(ErrorKind::kNotFound, path.string() + ": " + reason);
    case ELOOP:
      throw Error(ErrorKind::kSymlinkLoop, path.string() + ": " + reason);
    case EACCES:
    case EPERM:
      throw Error(ErrorKind::kPermissionDenied, path.string() + ": " + reason);
    case EISDIR:
      throw Error(ErrorKind::kNotAFile, path.string() + ": is a directory");
    default:
      throw Error(ErrorKind::kIo, path.string() + ": " + reason);
  }
}

// The umask, read once: umask(2) reads it only by setting it, and threads
// writing files at once would otherwise see (and restore) each other's 0.
mode_t process_umask() {
  static const mode_t mask = [] {
    const mode_t value = ::umask(0);
    ::umask(value);
    return value;
  }();
  return mask;
}

std::vector<std::uint8_t> read_fd(int fd, const std::string& name,
                                  std::size_t size_hint) {
  std::vector<std::uint8_t> data;
  data.reserve(size_hint);
  std::uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kIo,
                  name + ": read failed: " + std::strerror(errno));
    }
    data.insert(data.end(), buffer, buffer + got);
  }
  return data;
}

}  // namespace

namespace {

// Opens a regular, non-empty file; throws as read_input_file. Returns the
// descriptor and sets `size`.
int open_input_file(const std::filesystem::path& path, std::size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_input(path, errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int saved = errno;
    ::close(fd);
    fail_input(path, saved);
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kNotAFile, path.string() + ": is a directory");
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kNotAFile, path.string() + ": not a regular file");
  }
  if (info.st_size == 0) {
    ::close(fd);
    throw Error(ErrorKind::kEmptyFile, path.string() + ": file is empty");
  }
  size = static_cast<std::size_t>(info.st_size);
  return fd;
}

}  // namespace

std::vector<std::uint8_t> read_input_file(const std::filesystem::path& path) {
  std::size_t size = 0;
  const int fd = open_input_file(path, size);
  try {
    auto data = read_fd(fd, path.string(), size);
    ::close(fd);
    if (data.empty()) {
      throw Error(ErrorKind::kEmptyFile, path.string() + ": file is empty");
    }
    return data;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::vector<std::uint8_t> read_file_head(const std::filesystem::path& path,
                                         std::size_t count) {
  std::size_t size = 0;
  const int fd = open_input_file(path, size);
  std::vector<std::uint8_t> head(std::min(size, count));
  std::size_t done = 0;
  while (done < head.size()) {
    const ssize_t got = ::read(fd, head.data() + done, head.size() - done);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      throw Error(ErrorKind::kIo,
                  path.string() + ": read failed: " + std::strerror(saved));
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  head.resize(done);
  if (head.empty()) {
    throw Error(ErrorKind::kEmptyFile, path.string() + ": file is empty");
  }
  return head;
}

bool is_folder(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::vector<std::uint8_t> read_stdin() {
  auto data = read_fd(STDIN_FILENO, "-", 1 << 20);
  if (data.empty()) {
    throw Error(ErrorKind::kEmptyFile, "-: standard input is empty");
  }
  return data;
}

AtomicFile::AtomicFile(std::filesystem::path destination, Durability durability)
    : destination_(std::move(destination)), durability_(durability) {
  const std::filesystem::path folder = destination_.has_parent_path()
                                           ? destination_.parent_path()
                                           : std::filesystem::path(".");
  std::string pattern =
      (folder / ("." + destination_.filename().string() + ".tmp-XXXXXX"))
          .string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    throw Error(ErrorKind::kOutput, destination_.string() +
                                        ": cannot create a file beside it: " +
                                        std::strerror(errno));
  }
  ::close(fd);
  temporary_ = pattern;
  registration_ = std::make_unique<TemporaryFileRegistration>(pattern);
  stream_.open(temporary_, std::ios::binary | std::ios::trunc);
  if (!stream_) {
    const int saved = errno;
    ::unlink(temporary_.c_str());
    throw Error(ErrorKind::kOutput,
                destination_.string() +
                    ": cannot write beside it: " + std::strerror(saved));
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    stream_.close();
    ::unlink(temporary_.c_str());
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  stream_.write(static_cast<const char*>(data),
                static_cast<std::streamsize>(size));
  if (!stream_) {
    throw Error(ErrorKind::kOutput, destination_.string() + ": write failed: " +
                                        std::strerror(errno));
  }
}

void AtomicFile::sync() {
  if (synced_) return;
  stream_.flush();
  const bool written = static_cast<bool>(stream_);
  const int write_error = errno;
  stream_.close();
  if (!written || stream_.fail()) {
    throw Error(ErrorKind::kOutput,
                destination_.string() + ": write failed: " +
                    std::strerror(written ? errno : write_error));
  }
  // mkstemp creates 0600; give the file the permissions a plain open would.
  ::chmod(temporary_.c_str(), 0666 & ~process_umask());
  if (durability_ == Durability::kRenamedOnly) {
    synced_ = true;
    return;
  }
  const int fd = ::open(temporary_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int saved = errno;
    if (fd >= 0) ::close(fd);
    throw Error(ErrorKind::kOutput, destination_.string() + ": write failed: " +
                                        std::strerror(saved));
  }
  ::close(fd);
  synced_ = true;
}

void AtomicFile::commit() {
  sync();
  if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
    throw Error(
        ErrorKind::kOutput,
        destination_.string() + ": cannot replace: " + std::strerror(errno));
  }
  registration_.reset();
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& path,
                           std::string_view bytes, Durability durability) {
  AtomicFile file(path, durability);
  file.write(bytes);
  file.commit();
}

}  // namespace resnet_cli
