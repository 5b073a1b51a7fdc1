// quantize: a float network and a folder of calibration images in, an int8
// MODEL_DIR out; the calibration pass as a bar on stderr.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "command_registry.h"
#include "commands.h"
#include "option_table.h"
#include "settings.h"
#include "signals.h"
#include "terminal.h"
#include "train/quantize.h"

namespace resnet_cli::cli {

namespace {

std::string bar(std::uint64_t done, std::uint64_t total) {
  constexpr std::uint64_t kWidth = 30;
  const std::uint64_t filled = total ? kWidth * done / total : kWidth;
  return fmt::format("calibrating [{}{}] {}/{}", std::string(filled, '#'),
                     std::string(kWidth - filled, '.'), done, total);
}

ExitCode run_quantize(const QuantizeSettings& settings) {
  const bool show =
      settings.progress == ProgressMode::kAlways ||
      (settings.progress == ProgressMode::kAuto && stderr_is_terminal());
  StatusLine line(show);
  QuantizeProgress progress;
  progress.calibrated = [&](std::uint64_t done, std::uint64_t total) {
    line.draw(bar(done, total));
  };
  progress.skipped = [&](const std::string& message) {
    line.clear();
    spdlog::warn("{} (skipped)", message);
  };
  GracefulInterrupt interrupt;
  const QuantizeSummary summary =
      quantize_network(settings.quantize, progress, interrupt.stop_flag());
  line.clear();
  if (summary.interrupted) {
    notice("interrupted after " + std::to_string(summary.batches) +
           " calibration batch(es); nothing written");
    return kExitInterrupted;
  }
  const std::string text = fmt::format(
      "calibrated on {} images ({} batches, {} skipped); int8 model in {}",
      summary.images, summary.batches, summary.skipped,
      settings.quantize.output_dir.string());
  if (show) {
    notice(text);
  } else {
    spdlog::info("{}", text);
  }
  return kExitOk;
}

QuantizeSettings quantize_settings(const OptionValues& values, int verbosity) {
  if (values.calibrate.empty()) {
    throw Error(ErrorKind::kUsage, "quantize: give --calibrate DIR");
  }
  if (values.output_file.empty()) {
    throw Error(ErrorKind::kUsage, "quantize: give -o MODEL_DIR");
  }
  QuantizeSettings settings;
  QuantizeOptions& quantize = settings.quantize;
  fill_session(quantize.base, values, verbosity);
  quantize.calibration = input_options(values, {values.calibrate});
  quantize.decode = decode_options(values);
  quantize.output_dir = values.output_file;
  quantize.batch_size = values.calibration_batch_size;
  quantize.force = values.force;
  settings.progress = values.progress;
  return settings;
}

}  // namespace

const CommandSpec kQuantizeCommand{
    Command::kQuantize,
    "quantize",
    "Quantize a float network to int8 as PyTorch's post-training static "
    "quantization does (fused, calibrated on --calibrate DIR, converted); "
    "writes MODEL_DIR for classify --model",
    kOnQuantize,
    nullptr,
    [](Settings& settings, const OptionValues& values) {
      settings.quantize = quantize_settings(values, settings.verbosity);
    },
    [](const Settings& settings, std::ostream&) {
      return run_quantize(settings.quantize);
    }};

}  // namespace resnet_cli::cli
