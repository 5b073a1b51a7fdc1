// The option table's interface for the declarations (command_line.cpp)
// and for tests:
// which commands an option belongs to, and attaching a command's options to
// its CLI11 subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include "options.h"

namespace resnet_cli::cli {

enum CommandBit : unsigned {
  kOnClassify = 1u << 0,
  kOnPreprocess = 1u << 1,
  kOnWeightsInfo = 1u << 2,
  kOnWeightsDownload = 1u << 3,
  kOnWeightsPath = 1u << 4,
  kOnWeightsVerify = 1u << 5,
  kOnBench = 1u << 6,
  kOnMerge = 1u << 7,
  kOnWeightsList = 1u << 8,
  kOnServe = 1u << 9,
  kOnTrain = 1u << 10,
  kOnEvaluate = 1u << 11,
  kOnReport = 1u << 12,
  kOnQuantize = 1u << 13,
};

// Adds to `app` every option of the table that belongs to `command`, bound
// to its field of `values`, with its environment variable.
void attach_options(CLI::App& app, OptionValues& values, unsigned command);

}  // namespace resnet_cli::cli
