// train: a folder of class folders in, MODEL_DIR out; the feature pass as a
// bar and a line per epoch on stderr.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "base/error.h"
#include "base/human_units.h"
#include "command_registry.h"
#include "commands.h"
#include "option_table.h"
#include "settings.h"
#include "signals.h"
#include "terminal.h"
#include "train/train.h"

namespace resnet_cli::cli {

namespace {

std::string percent(double value) { return fmt::format("{:.1f}%", value); }

std::string epoch_line(const EpochStats& stats, double eta_seconds) {
  std::string line =
      fmt::format("epoch {}/{}  loss {:.4f}  acc {}", stats.epoch, stats.epochs,
                  stats.loss, percent(stats.train_acc1));
  if (stats.val_acc1) {
    line += fmt::format("  val {} (top-5 {})", percent(*stats.val_acc1),
                        percent(*stats.val_acc5));
  }
  line += fmt::format("  lr {:.3g}  {}", stats.learning_rate,
                      format_seconds(stats.seconds));
  if (stats.epoch < stats.epochs) {
    line += "  ETA " + format_seconds(eta_seconds);
  }
  return line;
}

std::string bar(const char* what, std::uint64_t done, std::uint64_t total) {
  constexpr std::uint64_t kWidth = 30;
  const std::uint64_t filled = total ? kWidth * done / total : kWidth;
  return fmt::format("{} [{}{}] {}/{}", what, std::string(filled, '#'),
                     std::string(kWidth - filled, '.'), done, total);
}

void print_summary(const TrainSettings& settings, const TrainSummary& summary) {
  std::string text = fmt::format(
      "{} training images, {} validation, {} skipped; {} epoch(s) done",
      summary.train_images, summary.val_images, summary.skipped,
      summary.epochs_done);
  if (summary.best_val_acc1) {
    text += fmt::format("; best val acc@1 {} at epoch {}",
                        percent(*summary.best_val_acc1), summary.best_epoch);
  }
  text += "; model in " + settings.train.output_dir.string();
  if (summary.interrupted) text += " (interrupted: continue with --resume)";
  // Always, on a terminal or not: a run of minutes to hours ends saying what
  // it reached and where the model went (a batch job's log keeps it).
  notice(text);
}

}  // namespace

ExitCode run_train(const TrainSettings& settings) {
  const bool show =
      settings.progress == ProgressMode::kAlways ||
      (settings.progress == ProgressMode::kAuto && stderr_is_terminal());
  StatusLine line(show);
  const auto started = std::chrono::steady_clock::now();
  auto epochs_started = started;
  int first_epoch = -1;
  TrainProgress progress;
  progress.features = [&](std::uint64_t done, std::uint64_t total) {
    line.draw(bar("features", done, total));
  };
  progress.batch_done = [&](int epoch, int epochs, std::int64_t done,
                            std::int64_t total, double loss) {
    line.draw(fmt::format("{}  loss {:.4f}",
                          bar(fmt::format("epoch {}/{}", epoch, epochs).c_str(),
                              static_cast<std::uint64_t>(done),
                              static_cast<std::uint64_t>(total)),
                          loss));
  };
  progress.epoch_done = [&](const EpochStats& stats) {
    line.clear();
    const auto now = std::chrono::steady_clock::now();
    if (first_epoch < 0) {
      first_epoch = stats.epoch - 1;
      epochs_started =
          now - std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(stats.seconds));
    }
    const double per_epoch =
        std::chrono::duration<double>(now - epochs_started).count() /
        (stats.epoch - first_epoch);
    const std::string text =
        epoch_line(stats, per_epoch * (stats.epochs - stats.epoch));
    if (show) {
      notice(text);
    } else {
      spdlog::info("{}", text);
    }
  };
  progress.skipped = [&](const std::string& message) {
    spdlog::warn("{} (skipped)", message);
  };
  GracefulInterrupt interrupt;
  const TrainSummary summary =
      train_classifier(settings.train, progress, interrupt.stop_flag());
  line.clear();
  print_summary(settings, summary);
  return summary.interrupted ? kExitInterrupted : kExitOk;
}

namespace {

TrainRecipe train_recipe(const OptionValues& values) {
  if (values.shuffle && values.no_shuffle) {
    throw Error(ErrorKind::kUsage, "give --shuffle or --no-shuffle, not both");
  }
  TrainRecipe recipe;
  recipe.part = values.train_part;
  recipe.epochs = values.epochs;
  recipe.batch_size = values.train_batch_size;
  recipe.optimizer = values.optimizer;
  recipe.learning_rate = values.learning_rate.value_or(
      values.optimizer == OptimizerKind::kSgd ? 0.01 : 0.001);
  recipe.weight_decay = values.weight_decay;
  recipe.schedule = values.schedule;
  recipe.label_smoothing = values.label_smoothing;
  recipe.augment = values.augment;
  recipe.shuffle = !values.no_shuffle;
  recipe.seed = values.seed;
  recipe.freeze_bn = values.freeze_bn;
  return recipe;
}

TrainSettings train_settings(const OptionValues& values, int verbosity) {
  if (values.output_file.empty()) {
    throw Error(ErrorKind::kUsage, "train: give -o MODEL_DIR");
  }
  if (values.resume && values.force) {
    throw Error(ErrorKind::kUsage, "give --resume or --force, not both");
  }
  TrainSettings settings;
  TrainOptions& train = settings.train;
  fill_session(train.base, values, verbosity);
  train.data = values.inputs.front();
  train.val_dir = values.val_dir;
  train.val_split = values.val_split;
  train.scan = input_options(values, {});
  train.decode = decode_options(values);
  train.output_dir = values.output_file;
  train.cache_dir = values.cache_dir;
  train.recipe = train_recipe(values);
  train.strict = values.strict;
  train.resume = values.resume;
  train.force = values.force;
  settings.progress = values.progress;
  return settings;
}

}  // namespace

const CommandSpec kTrainCommand{
    Command::kTrain,
    "train",
    "Train a classifier on a folder of class folders (torchvision's "
    "ImageFolder layout), as a PyTorch script would; writes MODEL_DIR for "
    "classify --model",
    kOnTrain,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("data", values.inputs,
                     "DATA: one sub-folder of images per class")
          ->required()
          ->expected(1);
    },
    [](Settings& settings, const OptionValues& values) {
      settings.train = train_settings(values, settings.verbosity);
    },
    [](const Settings& settings, std::ostream&) {
      return run_train(settings.train);
    }};

}  // namespace resnet_cli::cli
