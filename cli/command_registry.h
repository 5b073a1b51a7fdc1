// Every command of resnet-cli, one registration line each
// (command_registry.cpp): its name, help, option rows, positional arguments,
// how its settings are built and how it runs. The declarations
// (command_line.cpp), the parser, the option table's owners, --help and the
// generated man page and completions all read this list.
//
// A new command is its own file (its CommandSpec, settings builder and run
// function), its rows of the option table (option_table.cpp) and its line
// here; its settings struct, Command value and option bit live in options.h
// and option_table.h beside the others'.
#pragma once

#include <iosfwd>
#include <vector>

#include "exit_codes.h"
#include "options.h"

namespace CLI {
class App;
}

namespace resnet_cli::cli {

struct CommandSpec {
  Command command = Command::kNone;
  // "classify", or "weights list": the first word of a two-word path is a
  // group (command_groups()).
  const char* path = nullptr;
  const char* help = nullptr;
  unsigned options = 0;  // its rows of the option table (CommandBit)
  // Declares its positional arguments on its app; nullptr: none.
  void (*arguments)(CLI::App& app, OptionValues& values) = nullptr;
  // Builds settings' part for this command from the parsed values (with
  // settings.verbosity set). Throws Error(kUsage) for what the table's
  // checks cannot see.
  void (*settle)(Settings& settings, const OptionValues& values) = nullptr;
  // Runs it, results to `out`. Returns the exit code; fatal failures throw
  // resnet_cli::Error (main maps them to exit codes).
  ExitCode (*run)(const Settings& settings, std::ostream& out) = nullptr;
};

// In the order --help lists them.
const std::vector<CommandSpec>& command_registry();

// The command named `command`; throws Error(kUsage) for kNone.
const CommandSpec& command_spec(Command command);

// Words that group commands ("weights"), with their help.
struct CommandGroup {
  const char* name;
  const char* help;
};
const std::vector<CommandGroup>& command_groups();

// Each command's registration, defined in its own file.
extern const CommandSpec kClassifyCommand;
extern const CommandSpec kPreprocessCommand;
extern const CommandSpec kWeightsListCommand;
extern const CommandSpec kWeightsInfoCommand;
extern const CommandSpec kWeightsDownloadCommand;
extern const CommandSpec kWeightsPathCommand;
extern const CommandSpec kWeightsVerifyCommand;
extern const CommandSpec kTrainCommand;
extern const CommandSpec kBenchCommand;
extern const CommandSpec kMergeCommand;
extern const CommandSpec kServeCommand;
extern const CommandSpec kEvaluateCommand;
extern const CommandSpec kReportCommand;
extern const CommandSpec kQuantizeCommand;

}  // namespace resnet_cli::cli
