// report: classify's or evaluate's results as one self-contained HTML page.
// It runs no model, so LibTorch is never loaded.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "base/file_util.h"
#include "command_registry.h"
#include "commands.h"
#include "option_table.h"
#include "report/report.h"
#include "settings.h"

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

namespace {

ReportSettings report_settings(const OptionValues& values) {
  if (values.output_file.empty()) {
    throw Error(ErrorKind::kUsage, "report: give -o FILE.html");
  }
  ReportSettings report;
  report.results = values.inputs.front();
  report.output_file = values.output_file;
  report.thumbnail_size = values.thumbnail_size;
  return report;
}

}  // namespace

const CommandSpec kReportCommand{
    Command::kReport,
    "report",
    "One self-contained HTML page of classify's or evaluate's results: "
    "thumbnails, labels, scores, errors, and evaluate's confusion matrix",
    kOnReport,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("results", values.inputs,
                     "classify --format json or jsonl output, or evaluate "
                     "--format json output")
          ->required()
          ->expected(1);
    },
    [](Settings& settings, const OptionValues& values) {
      settings.report = report_settings(values);
    },
    [](const Settings& settings, std::ostream&) {
      return run_report(settings.report);
    }};

}  // namespace resnet_cli::cli
