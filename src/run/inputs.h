// Where the images come from: paths on the command line, folders scanned
// recursively, lists of paths (--files-from, newline or NUL separated), one
// image on stdin ("-"). Inputs stream out one at a time in a stable order,
// so that memory stays flat however many there are.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "run/record.h"

namespace resnet_cli {

// --shard I/N: input i belongs to shard fnv1a64(path) % N. The hash is of the
// path as listed, so every machine must list the same paths.
struct Shard {
  int index = 0;  // 0 <= index < count
  int count = 1;
};

// "I/N" with 0 <= I < N; throws Error(kUsage).
Shard parse_shard(std::string_view text);
bool in_shard(const std::string& path, const Shard& shard);

struct InputOptions;

// Lower-case extensions (no dot) a folder scan picks up by default: every
// extension of every format in the table of image formats
// (image/image_format.h), in its order.
const std::vector<std::string>& default_image_extensions();

// What a scan with `options` picks up in folders: its --ext, else the
// image extensions and, when videos are inputs, the video ones.
std::vector<std::string> scanned_extensions(const InputOptions& options);

// "jpg,PNG,.webp" -> {"jpg", "png", "webp"}; throws Error(kUsage) when empty.
std::vector<std::string> parse_extensions(std::string_view text);

struct InputOptions {
  std::vector<std::string> paths;  // in order; folders are scanned
  std::string files_from;          // "" none, "-" stdin, else a file
  bool null_separated = false;     // -0: --files-from entries end in NUL
  // empty: default_image_extensions(), and with `videos` the video
  // extensions too (video/video_source.h)
  std::vector<std::string> extensions;
  // Videos are inputs too (classify): stream URLs pass as they are, and
  // folder scans pick up video files by default.
  bool videos = false;
  bool follow_symlinks = false;
  std::optional<Shard> shard;
  // Paths to leave out (--resume: already recorded).
  std::shared_ptr<const std::unordered_set<std::string>> skip;
};

// One input: a path to read, or a failure found while scanning (a dangling
// link, an unreadable folder, a symlink loop) that becomes its record.
struct Input {
  std::string path;
  std::optional<RecordError> error;
};

class InputScanner {
 public:
  // Throws Error(kUsage) when --files-from cannot be opened.
  explicit InputScanner(InputOptions options);
  ~InputScanner();
  InputScanner(const InputScanner&) = delete;
  InputScanner& operator=(const InputScanner&) = delete;

  // The next input, or false when there are no more. Not thread-safe.
  bool next(Input& input);

  // What the scan has seen so far: inputs returned, and what it left out
  // (for saying why a run found nothing to do).
  struct Counts {
    std::uint64_t produced = 0;         // inputs returned by next()
    std::uint64_t other_extension = 0;  // folder entries not of `extensions`
    std::uint64_t other_shard = 0;      // inputs of another --shard
    std::uint64_t skipped = 0;          // inputs in `skip` (--resume)
  };
  const Counts& counts() const { return counts_; }
  std::uint64_t produced() const { return counts_.produced; }

 private:
  struct Frame;
  struct FileId;
  bool next_root(std::string& path);
  bool open_folder(const std::string& path, const FileId& id, Input& input);
  bool expand(const std::string& path, bool explicit_input, Input& input);
  bool wanted(const std::string& path) const;
  bool keep(const Input& input);

  InputOptions options_;
  std::unordered_set<std::string> extensions_;
  std::size_t next_path_ = 0;
  std::unique_ptr<std::istream> list_file_;
  std::istream* list_ = nullptr;
  std::vector<std::unique_ptr<Frame>> frames_;
  Counts counts_;
};

}  // namespace resnet_cli
