// The process exit codes of resnet-cli, and which error kind ends in which.
// Documented in README.md ("Exit codes") and in --help's footer; a test keeps
// the three in step.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace CLI {
class Error;
}

namespace resnet_cli::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitInputFailed = 1,  // some input failed; its record says why
  kExitUsage = 2,        // the command line (or its environment) is wrong
  kExitModel = 3,        // weights, download, checkpoint, model or device error
  kExitOutput = 4,       // the output could not be written
  kExitMerge = 5,  // merge: the parts do not record every input exactly once
  kExitInternal = 70,      // a bug or out of memory (sysexits' EX_SOFTWARE)
  kExitInterrupted = 130,  // SIGINT: what was done is written
};

// kExitInputFailed for input errors, otherwise the code of the fatal kind.
ExitCode exit_code_for(ErrorKind kind);

// Every code with what it means, in ascending order: the one list that
// --help's footer and the man page are made from.
struct ExitCodeInfo {
  ExitCode code;
  const char* meaning;  // "all inputs ok"
};
const std::vector<ExitCodeInfo>& exit_code_table();
// For an error CLI11 threw while parsing: kExitOk for --help (CLI11 throws
// to stop parsing), kExitUsage for every parse error.
ExitCode exit_code_for(const CLI::Error& error);

// The help footer's sentence listing every code.
std::string exit_codes_help();

}  // namespace resnet_cli::cli
