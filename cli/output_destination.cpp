#include "output_destination.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/error.h"
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

std::shared_ptr<std::unordered_set<std::string>> recorded_paths(
    const std::string& file) {
  auto paths = std::make_shared<std::unordered_set<std::string>>();
  JsonlReader reader(file);
  if (!reader.is_open()) return paths;  // nothing recorded yet
  JsonlLine line;
  while (reader.next(line)) {
    std::string path = record_path_from_json(line.text);
    if (!path.empty()) paths->insert(std::move(path));
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
