#include "output_destination.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "base/file_util.h"
#include "base/jsonl_reader.h"
#include "run/record_json.h"

namespace resnet_cli::cli {

OutputDestination::OutputDestination(std::ostream& standard_output,
                                     const std::string& file, Mode mode)
    : file_(file),
      name_(file.empty() ? "standard output" : file),
      stream_(&standard_output) {
  if (file.empty()) return;
  if (mode == Mode::kReplace) {
    atomic_ = std::make_unique<AtomicFile>(file);
    stream_ = &atomic_->stream();
    return;
  }
  appended_.open(file, std::ios::binary | std::ios::app);
  if (!appended_) {
    throw Error(ErrorKind::kOutput,
                file + ": cannot open for writing: " + std::strerror(errno));
  }
  stream_ = &appended_;
}

void OutputDestination::check() const {
  if (!*stream_) {
    throw Error(ErrorKind::kOutput,
                name_ + ": write failed: " + std::strerror(errno));
  }
}

void OutputDestination::commit() {
  stream_->flush();
  check();
  if (atomic_) atomic_->commit();
}

bool file_has_content(const std::string& file) {
  std::error_code ec;
  return std::filesystem::exists(file, ec) &&
         std::filesystem::file_size(file, ec) > 0;
}

namespace {

// Rewrites `file` without the frame lines of the videos in `unfinished`
// (and without a torn last line).
void drop_unfinished_videos(const std::string& file,
                            const std::unordered_set<std::string>& unfinished) {
  AtomicFile rewritten(file);
  JsonlReader reader(file);
  std::uint64_t dropped = 0;
  for (JsonlLine line; reader.next(line);) {
    const std::optional<RecordLine> record = read_record_line(line.text);
    if (record && !record->closes_input && unfinished.count(record->path)) {
      ++dropped;
      continue;
    }
    rewritten.write(line.text);
    rewritten.write("\n");
  }
  rewritten.commit();
  spdlog::warn(
      "{}: dropping {} frame records of {} that did not finish; read again "
      "from the first frame",
      file, dropped,
      unfinished.size() == 1 ? "a video"
                             : std::to_string(unfinished.size()) + " videos");
}

}  // namespace

std::shared_ptr<std::unordered_set<std::string>> recorded_paths(
    const std::string& file) {
  auto paths = std::make_shared<std::unordered_set<std::string>>();
  JsonlReader reader(file);
  if (!reader.is_open()) return paths;     // nothing recorded yet
  std::unordered_set<std::string> framed;  // videos with frame records
  for (JsonlLine line; reader.next(line);) {
    std::optional<RecordLine> record = read_record_line(line.text);
    if (!record) continue;
    if (record->closes_input) {
      paths->insert(std::move(record->path));
    } else {
      framed.insert(std::move(record->path));
    }
  }
  // A video is recorded once its closing record is; the frames of one that
  // was stopped (a killed run) would be written twice.
  std::unordered_set<std::string> unfinished;
  for (const std::string& path : framed) {
    if (!paths->count(path)) unfinished.insert(path);
  }
  if (!unfinished.empty()) {
    drop_unfinished_videos(file, unfinished);
    return paths;
  }
  if (reader.torn_bytes() == 0) return paths;
  spdlog::warn("{}: dropping an incomplete last line ({} bytes)", file,
               reader.torn_bytes());
  std::error_code ec;
  std::filesystem::resize_file(file, reader.complete_bytes(), ec);
  if (ec) {
    throw Error(
        ErrorKind::kOutput,
        file + ": cannot cut the incomplete last line: " + ec.message());
  }
  return paths;
}

}  // namespace resnet_cli::cli
