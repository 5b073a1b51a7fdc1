// Training a classifier on a folder of class folders (torchvision's
// ImageFolder layout), as a PyTorch script trains one: the data scanned and
// split, the frozen part's output computed once by the inference pipeline and
// cached on disk (--train fc --augment none), epochs of the trainer
// (trainer.h) under a learning-rate schedule, and MODEL_DIR written after
// every epoch, each file atomically:
//   model.pth     torch.save(model.state_dict()), loadable strict by
//   torchvision labels.txt    the class names, one a line, in class-index order
//   model.json    architecture, base weights and their SHA-256, transforms,
//                 classes, recipe, data counts, metrics, progress
//   train.jsonl   one line per epoch: loss, acc@1, val acc@1/acc@5, lr, seconds
//   optimizer.pt  torch.save(optimizer.state_dict()) (optimizer_state.h),
//                 for --resume and for PyTorch to continue from
// Nothing here knows of terminals: progress goes through callbacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "image/decode.h"
#include "model/trainer.h"
#include "run/inputs.h"
#include "run/session.h"
#include "train/image_folder.h"
#include "train/model_folder.h"

namespace resnet_cli {

enum class Augment { kNone, kFlip, kStandard };

template <>
struct EnumNames<Augment> {
  static constexpr std::string_view option = "--augment";
  static constexpr std::array<EnumName<Augment>, 3> names{{
      {"none", Augment::kNone},
      {"flip", Augment::kFlip},
      {"standard", Augment::kStandard},
  }};
};

enum class Schedule { kCosine, kConstant };

template <>
struct EnumNames<Schedule> {
  static constexpr std::string_view option = "--schedule";
  static constexpr std::array<EnumName<Schedule>, 2> names{{
      {"cosine", Schedule::kCosine},
      {"constant", Schedule::kConstant},
  }};
};

struct TrainRecipe {
  TrainedPart part = TrainedPart::kFc;
  int epochs = 10;
  int batch_size = 32;
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double learning_rate = 0.01;
  double weight_decay = 1e-4;
  Schedule schedule = Schedule::kCosine;
  double label_smoothing = 0;
  Augment augment = Augment::kNone;
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool freeze_bn = false;
};

// The learning rate of epoch `epoch` (0-based): torch.optim.lr_scheduler.
// CosineAnnealingLR(T_max=epochs) stepped once per epoch, or constant.
double scheduled_learning_rate(const TrainRecipe& recipe, int epoch);

struct TrainOptions {
  // The base network (weights name, file or URL, arch, transforms, threads,
  // engine of the feature pass). labels_file is unused.
  SessionOptions base;
  std::string data;
  std::string val_dir;     // empty: --val-split of DATA
  double val_split = 0.1;  // fraction of DATA held out without --val
  InputOptions scan;       // extensions and symlinks for the folders
  DecodeOptions decode;
  std::filesystem::path output_dir;
  std::filesystem::path cache_dir;  // empty: default_feature_cache_dir()
  TrainRecipe recipe;
  bool strict = false;  // an image that fails to decode is fatal
  bool resume = false;  // continue the run in output_dir
  bool force = false;   // replace the run in output_dir
};

// $XDG_CACHE_HOME/resnet-cli/features, or ~/.cache/resnet-cli/features.
std::filesystem::path default_feature_cache_dir();

struct EpochStats {
  int epoch = 0;  // 1-based
  int epochs = 0;
  double loss = 0;        // mean over the epoch's training images
  double train_acc1 = 0;  // percent
  std::optional<double> val_acc1, val_acc5;  // percent; none without val
  double learning_rate = 0;
  double seconds = 0;
};

struct TrainProgress {
  // The feature pass: images done of total (cache hits count at once).
  std::function<void(std::uint64_t done, std::uint64_t total)> features;
  // A training batch done: batches done of the epoch's, and the mean loss
  // so far (epochs over images take minutes; this shows they move).
  std::function<void(int epoch, int epochs, std::int64_t done,
                     std::int64_t total, double loss)>
      batch_done;
  std::function<void(const EpochStats&)> epoch_done;
  // An image skipped because it failed to decode: the one-line reason.
  std::function<void(const std::string& message)> skipped;
};

struct TrainSummary {
  std::uint64_t train_images = 0;
  std::uint64_t val_images = 0;
  std::uint64_t skipped = 0;
  std::uint64_t cached = 0;  // feature vectors read from the cache
  int epochs_done = 0;
  std::optional<double> best_val_acc1;
  int best_epoch = 0;
  bool interrupted = false;
};

// Trains as `options` says and writes output_dir. When `stop` becomes true
// the running batch finishes, the state is saved and the summary says
// interrupted. Throws Error: kUsage (the data, output_dir holding another
// run, a --resume without one), kOutput (output_dir cannot be written; the
// previous epoch's files stay), the base's kinds (weights, checkpoint,
// model), and an input kind for a broken image with `strict`.
TrainSummary train_classifier(const TrainOptions& options,
                              const TrainProgress& progress,
                              const std::atomic<bool>& stop);

}  // namespace resnet_cli
