// Errors that resnet-cli reports to its user.
//
// Every failure a user can cause (a bad image, a missing weights file, a
// hostile checkpoint) is thrown as resnet_cli::Error with a kind. Per-input
// kinds become an error record and the batch goes on; the others end the run.
// The library never decides a process exit code: the front end maps kinds to
// codes (cli/exit_codes.h).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace resnet_cli {

enum class ErrorKind {
  // Per-input errors: recorded for that input, the run goes on.
  kNotFound,
  kPermissionDenied,
  kNotAFile,
  kEmptyFile,
  kUnsupportedFormat,
  kDecode,
  kTooLarge,
  kSymlinkLoop,
  kIo,
  // Fatal errors: the run stops.
  kUsage,
  kWeights,
  kDownload,  // fetching weights: network, HTTP, hash, cache folder
  kCheckpoint,
  kModel,
  kDevice,
  kOutput,
  // merge: the parts of a sharded run do not record every input exactly once.
  kMerge,
};

// The snake_case name used in error records ("not_found", "decode", ...).
std::string_view error_kind_name(ErrorKind kind);

// True for the kinds that concern one input and never stop a batch.
bool is_input_error(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  // `message` is the whole one-line message shown to the user; it names the
  // file it is about.
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}

  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace resnet_cli
