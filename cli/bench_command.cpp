// bench: forward-only throughput and latency, and over inputs the whole
// pipeline's, printed as text or JSON.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/human_units.h"
#include "command_registry.h"
#include "commands.h"
#include "model/model_loader.h"
#include "option_table.h"
#include "run/bench.h"
#include "settings.h"

namespace resnet_cli::cli {

namespace {

nlohmann::json forward_report(const Session& session,
                              const PipelineOptions& plan,
                              const BenchSettings& settings,
                              const ForwardBenchmark& forward) {
  return {
      {"device", session.model().device()},
      {"precision", std::string(enum_name(session.model().precision()))},
      {"cores", available_cores()},
      {"workers", plan.workers},
      {"threads_per_worker", plan.threads_per_worker},
      {"batch_size", plan.batch_size},
      {"crop", session.transform().crop_size},
      {"forward",
       {{"images_per_second", forward.images_per_second},
        {"latency_ms", {{"p50", forward.p50_ms}, {"p95", forward.p95_ms}}},
        {"iterations_per_worker", settings.iterations}}},
  };
}

nlohmann::json pipeline_report(const PipelineBenchmark& run,
                               double forward_images_per_second) {
  const PipelineStats& stats = run.stats;
  const double images = static_cast<double>(stats.ok + stats.failed);
  return {
      {"images", stats.ok + stats.failed},
      {"failed", stats.failed},
      {"seconds", run.seconds},
      {"images_per_second", images / run.seconds},
      {"of_forward_rate", images / run.seconds / forward_images_per_second},
      {"batches", stats.batches},
      {"stage_seconds",
       {{"decode", stats.decode_seconds},
        {"preprocess", stats.preprocess_seconds},
        {"inference", stats.inference_seconds},
        {"output", stats.output_seconds},
        {"input_wait", stats.input_wait_seconds}}},
  };
}

void print_text(const nlohmann::json& report, std::ostream& out) {
  char line[256];
  std::snprintf(
      line, sizeof line, "%s %s, %d workers x %d threads, batch %d, crop %d\n",
      report["device"].get<std::string>().c_str(),
      report["precision"].get<std::string>().c_str(),
      report["workers"].get<int>(), report["threads_per_worker"].get<int>(),
      report["batch_size"].get<int>(), report["crop"].get<int>());
  out << line;
  const auto& forward = report["forward"];
  std::snprintf(
      line, sizeof line,
      "forward only: %.1f img/s, latency per batch p50 %.1f ms, p95 %.1f ms\n",
      forward["images_per_second"].get<double>(),
      forward["latency_ms"]["p50"].get<double>(),
      forward["latency_ms"]["p95"].get<double>());
  out << line;
  if (!report.contains("pipeline")) return;
  const auto& pipeline = report["pipeline"];
  const auto& stages = pipeline["stage_seconds"];
  std::snprintf(
      line, sizeof line,
      "pipeline: %s in %.2f s, %.1f img/s (%.0f%% of "
      "forward only)\n",
      count_of(pipeline["images"].get<std::uint64_t>(), "image").c_str(),
      pipeline["seconds"].get<double>(),
      pipeline["images_per_second"].get<double>(),
      100 * pipeline["of_forward_rate"].get<double>());
  out << line;
  std::snprintf(
      line, sizeof line,
      "thread-seconds: decode %.2f, preprocess %.2f, inference "
      "%.2f, output %.2f\n",
      stages["decode"].get<double>(), stages["preprocess"].get<double>(),
      stages["inference"].get<double>(), stages["output"].get<double>());
  out << line;
  if (report["device"].get<std::string>() == "cpu") return;
  // On a device: the driving thread's time, waiting for the device
  // (inference) or with nothing in flight for want of decoded images.
  std::snprintf(
      line, sizeof line,
      "device: %llu batches, %.1f images a batch; idle waiting for "
      "input %.2f s of %.2f s\n",
      static_cast<unsigned long long>(pipeline["batches"].get<std::uint64_t>()),
      pipeline["images"].get<double>() /
          std::max(1.0, pipeline["batches"].get<double>()),
      stages["input_wait"].get<double>(), pipeline["seconds"].get<double>());
  out << line;
}

}  // namespace

ExitCode run_bench(const BenchSettings& settings, std::ostream& out) {
  // LibTorch initialises while the inputs and the output are checked.
  start_loading_model_module();
  const Session session(settings);
  const PipelineOptions plan = session.plan(/*single_input=*/false);
  const ForwardBenchmark forward = benchmark_forward(
      session.model(), plan, session.transform().crop_size,
      std::max(1, settings.iterations), std::max(0, settings.warmup));
  nlohmann::json report = forward_report(session, plan, settings, forward);
  if (!settings.input.paths.empty() || !settings.input.files_from.empty()) {
    InputScanner scanner(settings.input);
    report["pipeline"] = pipeline_report(
        benchmark_pipeline(session, scanner, plan), forward.images_per_second);
  }
  if (settings.format == ReportFormat::kJson) {
    out << report.dump(2) << "\n";
  } else {
    print_text(report, out);
  }
  return kExitOk;
}

namespace {

BenchSettings bench_settings(const OptionValues& values, int verbosity) {
  BenchSettings bench;
  fill_session(bench, values, verbosity);
  bench.input = input_options(values, values.inputs);
  bench.iterations = values.iterations;
  bench.warmup = values.warmup;
  bench.format = values.report_format;
  return bench;
}

}  // namespace

const CommandSpec kBenchCommand{
    Command::kBench,
    "bench",
    "Forward-only throughput and latency; with images or a folder, the whole "
    "pipeline's throughput and time per stage",
    kOnBench,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("inputs", values.inputs,
                     "Images or folders to run through the whole pipeline")
          ->type_name("PATH");
    },
    [](Settings& settings, const OptionValues& values) {
      settings.bench = bench_settings(values, settings.verbosity);
    },
    [](const Settings& settings, std::ostream& out) {
      return run_bench(settings.bench, out);
    }};

}  // namespace resnet_cli::cli
