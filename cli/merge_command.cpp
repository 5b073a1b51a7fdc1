// merge: the JSON Lines parts of a sharded run into one output.
#include <spdlog/spdlog.h>

#include "base/human_units.h"
#include "commands.h"
#include "output_destination.h"
#include "run/merge.h"

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

}  // namespace resnet_cli::cli
