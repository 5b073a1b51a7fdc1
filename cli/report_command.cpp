// report: classify's or evaluate's results as one self-contained HTML page.
// It runs no model, so LibTorch is never loaded.
#include <spdlog/spdlog.h>

#include "base/file_util.h"
#include "commands.h"
#include "report/report.h"

namespace resnet_cli::cli {

ExitCode run_report(const ReportSettings& settings) {
  AtomicFile html(settings.output_file);
  ReportOptions options;
  options.thumbnail_size = settings.thumbnail_size;
  const ReportSummary summary =
      write_report(settings.results, html.stream(), options);
  html.commit();
  if (summary.unreadable > 0) {
    spdlog::warn(
        "{} of the images could not be read any more (moved?): "
        "shown as placeholders",
        summary.unreadable);
  }
  spdlog::info("{}: {} cards ({} failed inputs)", settings.output_file,
               summary.records, summary.failed);
  return kExitOk;
}

}  // namespace resnet_cli::cli
