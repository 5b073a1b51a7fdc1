#include "run/inputs.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <utility>

#include "base/error.h"
#include "base/text.h"
#include "image/image_format.h"
#include "video/video_source.h"

namespace resnet_cli {

namespace {

std::uint64_t fnv1a64(const std::string& text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string join(const std::string& folder, const char* name) {
  if (!folder.empty() && folder.back() == '/') return folder + name;
  return folder + "/" + name;
}

}  // namespace

struct InputScanner::FileId {
  dev_t device;
  ino_t inode;
  bool operator==(const FileId& other) const {
    return device == other.device && inode == other.inode;
  }
};

// A folder being scanned: its entries, sorted by name bytes, and where the
// scan is in them.
struct InputScanner::Frame {
  std::string path;
  FileId id;
  std::vector<std::string> names;
  std::size_t next = 0;
};

Shard parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  Shard shard;
  bool ok = slash != std::string_view::npos;
  if (ok) {
    try {
      std::size_t used_index = 0;
      std::size_t used_count = 0;
      const std::string index(text.substr(0, slash));
      const std::string count(text.substr(slash + 1));
      shard.index = std::stoi(index, &used_index);
      shard.count = std::stoi(count, &used_count);
      ok = used_index == index.size() && used_count == count.size() &&
           shard.count >= 1 && shard.index >= 0 && shard.index < shard.count;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok) {
    throw Error(ErrorKind::kUsage, "--shard '" + std::string(text) +
                                       "': expected I/N with 0 <= I < N");
  }
  return shard;
}

bool in_shard(const std::string& path, const Shard& shard) {
  return fnv1a64(path) % static_cast<std::uint64_t>(shard.count) ==
         static_cast<std::uint64_t>(shard.index);
}

const std::vector<std::string>& default_image_extensions() {
  static const std::vector<std::string> extensions = image_format_extensions();
  return extensions;
}

std::vector<std::string> scanned_extensions(const InputOptions& options) {
  if (!options.extensions.empty()) return options.extensions;
  std::vector<std::string> extensions = default_image_extensions();
  if (options.videos) {
    const auto& videos = default_video_extensions();
    extensions.insert(extensions.end(), videos.begin(), videos.end());
  }
  return extensions;
}

std::vector<std::string> parse_extensions(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item = detail::ascii_lower(text.substr(start, comma - start));
    while (!item.empty() && item.front() == '.') item.erase(0, 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  if (out.empty()) {
    throw Error(ErrorKind::kUsage, "--ext '" + std::string(text) +
                                       "': expected extensions like jpg,png");
  }
  return out;
}

InputScanner::InputScanner(InputOptions options)
    : options_(std::move(options)) {
  const std::vector<std::string> extensions = scanned_extensions(options_);
  extensions_.insert(extensions.begin(), extensions.end());
  if (options_.files_from == "-") {
    // The list is read on the pipeline's producer thread while results are
    // written to std::cout on another; std::cin's tie would flush std::cout
    // from the reading thread.
    std::cin.tie(nullptr);
    list_ = &std::cin;
  } else if (!options_.files_from.empty()) {
    list_file_ =
        std::make_unique<std::ifstream>(options_.files_from, std::ios::binary);
    if (!*list_file_) {
      throw Error(ErrorKind::kUsage, options_.files_from +
                                         ": cannot open --files-from list: " +
                                         std::strerror(errno));
    }
    list_ = list_file_.get();
  }
}

InputScanner::~InputScanner() = default;

bool InputScanner::wanted(const std::string& path) const {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
    return false;
  }
  return extensions_.count(
             detail::ascii_lower(std::string_view(path).substr(dot + 1))) > 0;
}

bool InputScanner::keep(const Input& input) {
  if (options_.shard && !in_shard(input.path, *options_.shard)) {
    ++counts_.other_shard;
    return false;
  }
  if (options_.skip && options_.skip->count(input.path)) {
    ++counts_.skipped;
    return false;
  }
  return true;
}

bool InputScanner::next_root(std::string& path) {
  if (next_path_ < options_.paths.size()) {
    path = options_.paths[next_path_++];
    return true;
  }
  while (list_) {
    const char separator = options_.null_separated ? '\0' : '\n';
    if (!std::getline(*list_, path, separator)) {
      list_ = nullptr;  // end of the list, or interrupted
      return false;
    }
    if (!path.empty()) return true;
  }
  return false;
}

// Turns a path into an input, or opens the folder it names. Returns true when
// `input` was filled.
bool InputScanner::expand(const std::string& path, bool explicit_input,
                          Input& input) {
  input = Input{path, std::nullopt};
  if (explicit_input && path == "-") return true;
  if (explicit_input && options_.videos && is_stream_url(path)) return true;

  struct stat link_info {};
  if (::lstat(path.c_str(), &link_info) != 0) {
    // Missing explicit inputs are reported when read, with their reason.
    return explicit_input;
  }
  const bool is_link = S_ISLNK(link_info.st_mode);
  struct stat info = link_info;
  if (is_link && ::stat(path.c_str(), &info) != 0) {
    const int reason = errno;
    if (!explicit_input && !wanted(path)) return false;
    input.error = reason == ELOOP
                      ? RecordError{ErrorKind::kSymlinkLoop,
                                    path + ": symbolic link loop (" +
                                        std::strerror(reason) + ")"}
                      : RecordError{ErrorKind::kNotFound,
                                    path + ": dangling symbolic link (" +
                                        std::strerror(reason) + ")"};
    return true;
  }
  if (!S_ISDIR(info.st_mode)) {
    if (explicit_input || wanted(path)) {
      if (!S_ISREG(info.st_mode)) {
        input.error =
            RecordError{ErrorKind::kNotAFile, path + ": not a regular file"};
      }
      return true;
    }
    ++counts_.other_extension;
    return false;
  }
  // A folder.
  if (is_link && !explicit_input && !options_.follow_symlinks) {
    spdlog::info("{}: symbolic link to a folder, not followed (use --follow)",
                 path);
    return false;
  }
  return open_folder(path, FileId{info.st_dev, info.st_ino}, input);
}

// Lists the folder `path` for the scan, or fills `input` with why it cannot
// (true).
bool InputScanner::open_folder(const std::string& path, const FileId& id,
                               Input& input) {
  for (const auto& frame : frames_) {
    if (frame->id == id) {
      input.error = RecordError{
          ErrorKind::kSymlinkLoop,
          path + ": symbolic link loop (back to " + frame->path + ")"};
      return true;
    }
  }
  DIR* folder = ::opendir(path.c_str());
  if (!folder) {
    const int saved = errno;
    input.error = RecordError{
        saved == EACCES ? ErrorKind::kPermissionDenied : ErrorKind::kIo,
        path + ": cannot read folder: " + std::strerror(saved)};
    return true;
  }
  auto frame = std::make_unique<Frame>();
  frame->path = path;
  frame->id = id;
  errno = 0;
  while (const dirent* entry = ::readdir(folder)) {
    if (std::strcmp(entry->d_name, ".") == 0 ||
        std::strcmp(entry->d_name, "..") == 0) {
      continue;
    }
    frame->names.emplace_back(entry->d_name);
  }
  const int read_error = errno;
  ::closedir(folder);
  if (read_error != 0) {
    input.error = RecordError{ErrorKind::kIo, path + ": cannot read folder: " +
                                                  std::strerror(read_error)};
    return true;
  }
  std::sort(frame->names.begin(), frame->names.end());
  frames_.push_back(std::move(frame));
  return false;
}

bool InputScanner::next(Input& input) {
  for (;;) {
    if (!frames_.empty()) {
      Frame& frame = *frames_.back();
      if (frame.next == frame.names.size()) {
        frames_.pop_back();
        continue;
      }
      const std::string path =
          join(frame.path, frame.names[frame.next++].c_str());
      if (expand(path, /*explicit_input=*/false, input) && keep(input)) {
        ++counts_.produced;
        return true;
      }
      continue;
    }
    std::string root;
    if (!next_root(root)) return false;
    if (expand(root, /*explicit_input=*/true, input) && keep(input)) {
      ++counts_.produced;
      return true;
    }
  }
}

}  // namespace resnet_cli
