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

const std::vector<ExitCodeInfo>& exit_code_table() {
  static const std::vector<ExitCodeInfo> table = {
      {kExitOk, "all inputs ok"},
      {kExitInputFailed, "some input failed"},
      {kExitUsage, "usage error"},
      {kExitModel, "model, weights, download, checkpoint or device error"},
      {kExitOutput, "output not written"},
      {kExitMerge, "merge: the parts do not record every input exactly once"},
      {kExitInternal, "internal error or out of memory"},
      {kExitInterrupted, "interrupted (what was done is written)"},
  };
  return table;
}

ExitCode exit_code_for(const CLI::Error& error) {
  return error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)
             ? kExitOk
             : kExitUsage;
}

std::string exit_codes_help() {
  std::string text = "Exit codes: ";
  for (const ExitCodeInfo& entry : exit_code_table()) {
    if (entry.code != kExitOk) text += ", ";
    text += std::to_string(entry.code) + " " + entry.meaning;
  }
  return text + ".";
}

}  // namespace resnet_cli::cli
