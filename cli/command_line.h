// The declarations of resnet-cli's command line (command_line.cpp), for the
// parser (routing.cpp).
#pragma once

#include <utility>
#include <vector>

#include "options.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace resnet_cli::cli {

// The whole command line, declared on an app.
struct CommandLine {
  std::vector<std::pair<CLI::App*, Command>> leaves;  // the runnable commands
  std::vector<CLI::App*> all;                         // groups too
  CLI::Option* verbose = nullptr;
  CLI::Option* quiet = nullptr;
};

// Declares every command of the registry, its options from the option table
// bound to `values` (which must outlive `app`) and its positional arguments.
CommandLine declare_command_line(CLI::App& app, OptionValues& values);

}  // namespace resnet_cli::cli
