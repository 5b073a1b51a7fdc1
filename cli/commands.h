// The commands' run functions: each one file of cli/, calling the library
// for the work and owning the terminal, the output destination and the exit
// code. run_command dispatches through the registry (command_registry.h).
#pragma once

#include <iosfwd>
#include <string>

#include "exit_codes.h"
#include "options.h"

namespace resnet_cli::cli {

// Runs the parsed command, writing results to `out`. Returns the exit code;
// fatal failures throw resnet_cli::Error (main maps them to exit codes).
ExitCode run_command(const Settings& settings, std::ostream& out);

// The command line as typed (main records it), for messages that say which
// command to run next.
void record_command_line(int argc, char** argv);
// "resnet-cli ARG ...", each argument quoted for a POSIX shell where it needs
// it, then `extra` unless the arguments hold it already.
std::string command_line_with(const std::string& extra);

ExitCode run_classify(const ClassifySettings& settings, std::ostream& out);
ExitCode run_bench(const BenchSettings& settings, std::ostream& out);
ExitCode run_serve(const ServeSettings& settings);
ExitCode run_preprocess(const PreprocessSettings& settings);
ExitCode run_train(const TrainSettings& settings);
ExitCode run_evaluate(const EvaluateSettings& settings, std::ostream& out);
ExitCode run_report(const ReportSettings& settings);
ExitCode run_merge(const MergeCommandSettings& settings, std::ostream& out);
ExitCode run_weights(Command command, const WeightsSettings& settings,
                     std::ostream& out);

}  // namespace resnet_cli::cli
