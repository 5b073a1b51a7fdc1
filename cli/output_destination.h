// Where a command's output goes, chosen and checked in one place: standard
// output, a file replaced only when complete (written under a temporary name,
// then renamed), or a JSON Lines file appended to record by record (classify
// --format jsonl -o FILE, continued with --resume).
#pragma once

#include <fstream>
#include <iosfwd>
#include <memory>
#include <string>
#include <unordered_set>

#include "base/file_util.h"

namespace resnet_cli::cli {

class OutputDestination {
 public:
  enum class Mode {
    kReplace,  // a complete file or nothing: commit() renames it in place
    kAppend,   // records added as they come; a torn last line cut first
  };

  // `file` empty: `standard_output`. Opens the file at once, so that a
  // mistake costs no time; throws Error(kOutput) naming it.
  OutputDestination(std::ostream& standard_output, const std::string& file,
                    Mode mode = Mode::kReplace);

  std::ostream& stream() { return *stream_; }
  // "standard output" or the file's name, for messages.
  const std::string& name() const { return name_; }
  bool is_file() const { return !file_.empty(); }

  // Throws Error(kOutput) "NAME: write failed: REASON" when a write failed.
  void check() const;
  // Flushes and checks; a kReplace file then replaces the destination. A
  // destination never committed leaves the previous file as it was.
  void commit();

 private:
  std::string file_;
  std::string name_;
  std::unique_ptr<AtomicFile> atomic_;
  std::ofstream appended_;
  std::ostream* stream_;
};

// --resume: the paths a JSON Lines output already records. A last line
// without its newline (the run was killed while writing it) is cut off with
// a warning, so that appending starts on a clean line. A missing file
// records nothing. Throws Error(kOutput) when the cut fails.
std::shared_ptr<std::unordered_set<std::string>> recorded_paths(
    const std::string& file);

// Whether `file` exists and holds anything.
bool file_has_content(const std::string& file);

}  // namespace resnet_cli::cli
