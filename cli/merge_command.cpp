// merge: the JSON Lines parts of a sharded run into one output.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "base/human_units.h"
#include "command_registry.h"
#include "commands.h"
#include "option_table.h"
#include "output_destination.h"
#include "run/merge.h"
#include "settings.h"

namespace resnet_cli::cli {

ExitCode run_merge(const MergeCommandSettings& settings, std::ostream& out) {
  OutputDestination destination(out, settings.output_file);
  const MergeSummary summary =
      merge_parts(settings.merge, destination.stream());
  destination.commit();
  spdlog::info(
      "merged {} ({} failed) from {} into {}{}",
      count_of(summary.records, "record"), count_of(summary.failed, "input"),
      count_of(settings.merge.parts.size(), "part"), destination.name(),
      settings.merge.inputs ? ", every input recorded once"
                            : " (inputs not checked: no --inputs)");
  // As classify: 1 when some input failed (its record says why).
  return summary.failed > 0 ? kExitInputFailed : kExitOk;
}

namespace {

MergeCommandSettings merge_settings(const OptionValues& values) {
  MergeCommandSettings settings;
  settings.merge.parts = values.merge_parts;
  if (!values.merge_inputs.empty() || !values.files_from.empty()) {
    settings.merge.inputs = input_options(values, values.merge_inputs);
    settings.merge.inputs->videos = true;  // listed as classify lists them
  }
  settings.merge.format = values.merge_format;
  settings.output_file = values.output_file;
  return settings;
}

}  // namespace

const CommandSpec kMergeCommand{
    Command::kMerge,
    "merge",
    "Join the JSON Lines parts of a sharded run (classify --shard I/N "
    "--format jsonl -o part-I.jsonl) into one output; with --inputs or "
    "--files-from, check that every input is recorded exactly once",
    kOnMerge,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("parts", values.merge_parts,
                     "JSON Lines files written by classify --format jsonl")
          ->type_name("FILE")
          ->required();
    },
    [](Settings& settings, const OptionValues& values) {
      settings.merge = merge_settings(values);
    },
    [](const Settings& settings, std::ostream& out) {
      return run_merge(settings.merge, out);
    }};

}  // namespace resnet_cli::cli
