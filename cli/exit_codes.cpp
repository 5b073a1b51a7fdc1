#include "exit_codes.h"

#include <CLI/Error.hpp>

namespace resnet_cli::cli {

ExitCode exit_code_for(ErrorKind kind) {
  if (is_input_error(kind)) return kExitInputFailed;
  switch (kind) {
    case ErrorKind::kUsage:
      return kExitUsage;
    case ErrorKind::kOutput:
      return kExitOutput;
    case ErrorKind::kMerge:
      return kExitMerge;
    default:
      return kExitModel;
  }
}

ExitCode exit_code_for(const CLI::Error& error) {
  return error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)
             ? kExitOk
             : kExitUsage;
}

std::string exit_codes_help() {
  return "Exit codes: 0 all inputs ok, 1 some input failed, 2 usage error, "
         "3 model, weights, download, checkpoint or device error, 4 output "
         "not written, 5 merge: the parts do not record every input exactly "
         "once, 70 internal error or out of memory, 130 interrupted (what was "
         "done is written).";
}

}  // namespace resnet_cli::cli
