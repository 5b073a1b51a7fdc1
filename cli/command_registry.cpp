#include "command_registry.h"

#include "base/error.h"
#include "commands.h"

namespace resnet_cli::cli {

const std::vector<CommandSpec>& command_registry() {
  static const std::vector<CommandSpec> commands = {
      kClassifyCommand,      kPreprocessCommand,      kWeightsListCommand,
      kWeightsInfoCommand,   kWeightsDownloadCommand, kWeightsPathCommand,
      kWeightsVerifyCommand, kTrainCommand,           kBenchCommand,
      kMergeCommand,         kServeCommand,           kEvaluateCommand,
      kReportCommand,        kQuantizeCommand,
  };
  return commands;
}

const std::vector<CommandGroup>& command_groups() {
  static const std::vector<CommandGroup> groups = {
      {"weights", "The weights registry"},
  };
  return groups;
}

const CommandSpec& command_spec(Command command) {
  for (const CommandSpec& spec : command_registry()) {
    if (spec.command == command) return spec;
  }
  throw Error(ErrorKind::kUsage, "no command given (see resnet-cli --help)");
}

ExitCode run_command(const Settings& settings, std::ostream& out) {
  return command_spec(settings.command).run(settings, out);
}

}  // namespace resnet_cli::cli
