#include "train/train.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>

#include "base/cpu.h"
#include "base/error.h"
#include "base/file_util.h"
#include "model/model_loader.h"
#include "train/model_folder.h"
#include "train/train_data.h"
#include "weights/download.h"
#include "weights/optimizer_state.h"
#include "weights/state_dict_writer.h"
#include "weights/weights_source.h"

namespace resnet_cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kHistoryFile = "train.jsonl";
constexpr const char* kOptimizerFile = "optimizer.pt";

// Refuses to mix runs, and makes sure the folder exists and is writable
// before any work is done.
void prepare_output_dir(const TrainOptions& options) {
  const fs::path& dir = options.output_dir;
  std::error_code ec;
  const bool has_run = fs::exists(dir / kRecordFile, ec);
  if (options.resume && !has_run) {
    throw Error(ErrorKind::kUsage, dir.string() +
                                       ": no training run to "
                                       "resume (no model.json)");
  }
  if (!options.resume && has_run && !options.force) {
    throw Error(ErrorKind::kUsage,
                dir.string() +
                    ": holds another training run; continue it with "
                    "--resume, or replace it with --force");
  }
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw Error(ErrorKind::kOutput, dir.string() + ": not a folder");
  }
  fs::create_directories(dir, ec);
  if (ec) {
    throw Error(ErrorKind::kOutput,
                dir.string() + ": cannot create the folder: " + ec.message());
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw Error(ErrorKind::kOutput,
                dir.string() + ": cannot write there: permission denied");
  }
}

struct Data {
  std::vector<std::string> classes;
  std::vector<ImageFolderSample> train, val;
};

Data load_data(const TrainOptions& options) {
  ImageFolder folder = scan_image_folder(options.data, options.scan);
  Data data;
  data.classes = folder.classes;
  if (options.val_dir.empty()) {
    for (auto& sample : folder.samples) {
      const bool val = in_validation_split(sample.relative, options.val_split);
      (val ? data.val : data.train).push_back(std::move(sample));
    }
    if (data.train.empty()) {
      throw Error(ErrorKind::kUsage,
                  options.data + ": --val-split leaves no training images");
    }
    return data;
  }
  ImageFolder val = scan_image_folder(options.val_dir, options.scan);
  if (val.classes != folder.classes) {
    const auto list = [](const std::vector<std::string>& names) {
      std::string text;
      for (const auto& name : names) text += (text.empty() ? "" : ",") + name;
      return text;
    };
    throw Error(ErrorKind::kUsage, options.val_dir + ": its class folders (" +
                                       list(val.classes) + ") differ from " +
                                       options.data + "'s (" +
                                       list(folder.classes) + ")");
  }
  data.train = std::move(folder.samples);
  data.val = std::move(val.samples);
  return data;
}

using Base = ModelBase;

json recipe_json(const TrainRecipe& r) {
  return {{"train", std::string(enum_name(r.part))},
          {"epochs", r.epochs},
          {"batch_size", r.batch_size},
          {"optimizer", std::string(enum_name(r.optimizer))},
          {"lr", r.learning_rate},
          {"momentum", r.optimizer == OptimizerKind::kSgd ? 0.9 : 0.0},
          {"weight_decay", r.weight_decay},
          {"schedule", std::string(enum_name(r.schedule))},
          {"label_smoothing", r.label_smoothing},
          {"augment", std::string(enum_name(r.augment))},
          {"shuffle", r.shuffle},
          {"seed", r.seed},
          {"freeze_bn", r.freeze_bn}};
}

// Where a run stands: what --resume continues from.
struct Progress {
  int epochs_done = 0;
  std::int64_t batches_done = 0;  // of the epoch after epochs_done
  double loss_sum = 0;
  std::int64_t correct = 0, seen = 0;
  std::vector<json> history;  // train.jsonl's lines
  std::optional<double> best_val_acc1;
  int best_epoch = 0;
};

struct Run {
  const TrainOptions* options = nullptr;
  const TrainProgress* progress = nullptr;
  const std::atomic<bool>* stop = nullptr;
  Data data;
  Base base;
  std::unique_ptr<Trainer> trainer;
  bool features = false;  // fc over cached pooled features
  // Pooled features by sample (features mode), train and val.
  std::vector<std::vector<float>> train_rows, val_rows;
  std::set<std::string> reported;  // broken images already warned about
  // Images that failed to decode on the image path, which stay in the epoch
  // order (so that --resume draws the batches it drew) but not in the counts.
  std::set<std::string> broken_train, broken_val;
  std::uint64_t skipped = 0;
  std::uint64_t cached = 0;
  Progress state;
};

std::uint64_t train_images(const Run& run) {
  return run.data.train.size() - run.broken_train.size();
}

std::uint64_t val_images(const Run& run) {
  return run.data.val.size() - run.broken_val.size();
}

std::string record_text(const Run& run, bool interrupted) {
  const TrainOptions& o = *run.options;
  const Progress& s = run.state;
  const json base = base_record(run.base);
  json data = {{"train", o.data},
               {"train_images", train_images(run)},
               {"val_images", val_images(run)},
               {"skipped", run.skipped}};
  if (o.val_dir.empty()) {
    data["val_split"] = o.val_split;
  } else {
    data["val"] = o.val_dir;
  }
  json metrics = s.history.empty() ? json::object() : s.history.back();
  metrics["best_val_acc1"] =
      s.best_val_acc1 ? json(*s.best_val_acc1) : json(nullptr);
  metrics["best_epoch"] = s.best_epoch;
  const json record = {{"format", kTrainingRecordFormat},
                       {"version", 1},
                       {"arch", run.trainer->architecture()},
                       {"num_classes", run.data.classes.size()},
                       {"classes", run.data.classes},
                       {"base", base},
                       {"transforms", transform_record(run.base.transform)},
                       {"recipe", recipe_json(o.recipe)},
                       {"data", data},
                       {"metrics", metrics},
                       {"progress",
                        {{"epochs_done", s.epochs_done},
                         {"batches_done", s.batches_done},
                         {"loss_sum", s.loss_sum},
                         {"correct", s.correct},
                         {"seen", s.seen},
                         {"interrupted", interrupted}}}};
  return record.dump(2) + "\n";
}

// Every file of the run, as one checkpoint: all are written and synced
// before any replaces its predecessor (model.json last: it says what the
// others hold), so a full disk or a failed write leaves the previous
// checkpoint whole.
void save_run(const Run& run, bool interrupted) {
  const fs::path& dir = run.options->output_dir;
  std::vector<std::unique_ptr<AtomicFile>> written;
  written.push_back(std::make_unique<AtomicFile>(dir / kModelFile));
  write_state_dict(*written.back(), run.trainer->state_dict());
  written.back()->sync();
  written.push_back(std::make_unique<AtomicFile>(dir / kOptimizerFile));
  write_optimizer_state(*written.back(), run.trainer->optimizer_state());
  written.back()->sync();
  std::string lines;
  for (const json& line : run.state.history) lines += line.dump() + "\n";
  const std::pair<const char*, std::string> files[] = {
      {kHistoryFile, lines}, {kRecordFile, record_text(run, interrupted)}};
  for (const auto& [name, bytes] : files) {
    written.push_back(std::make_unique<AtomicFile>(dir / name));
    written.back()->write(bytes);
    written.back()->sync();
  }
  for (auto& file : written) file->commit();
}

void write_labels(const fs::path& dir, const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += name + "\n";
  write_file_atomically(dir / kLabelsFile, text);
}

// --resume: the recorded run must be this data's; its state continues.
Progress resumed_progress(const TrainOptions& options, const Data& data) {
  const json record = read_json(options.output_dir / kRecordFile);
  if (record.value("classes", json::array()) != json(data.classes)) {
    throw Error(ErrorKind::kUsage, options.output_dir.string() +
                                       ": the run's classes differ from " +
                                       options.data + "'s");
  }
  Progress state;
  const json& p = record.at("progress");
  state.epochs_done = p.at("epochs_done").get<int>();
  state.batches_done = p.at("batches_done").get<std::int64_t>();
  state.loss_sum = p.at("loss_sum").get<double>();
  state.correct = p.at("correct").get<std::int64_t>();
  state.seen = p.at("seen").get<std::int64_t>();
  std::ifstream history(options.output_dir / kHistoryFile);
  for (std::string line; std::getline(history, line);) {
    if (line.empty()) continue;
    state.history.push_back(json::parse(line));
    const json& val = state.history.back()["val_acc1"];
    if (val.is_number() &&
        (!state.best_val_acc1 || val.get<double>() > *state.best_val_acc1)) {
      state.best_val_acc1 = val.get<double>();
      state.best_epoch = state.history.back()["epoch"].get<int>();
    }
  }
  return state;
}

TrainerOptions trainer_options(const TrainOptions& options, const Base& base,
                               std::int64_t classes) {
  TrainerOptions t;
  t.arch = base.arch;
  t.num_classes = classes;
  t.seed = options.recipe.seed;
  t.part = options.recipe.part;
  t.optimizer = options.recipe.optimizer;
  t.learning_rate = options.recipe.learning_rate;
  t.weight_decay = options.recipe.weight_decay;
  t.label_smoothing = options.recipe.label_smoothing;
  t.freeze_bn = options.recipe.freeze_bn;
  t.threads = options.base.model.threads;
  t.device = options.base.model.device;
  t.tf32 = options.base.model.tf32;
  t.bf16 = options.base.model.precision == Precision::kBFloat16;
  return t;
}

// Before anything is written or scanned: the precisions train cannot use.
void check_precision(Precision precision) {
  if (precision == Precision::kFloat16) {
    // fp16 gradients underflow without a gradient scaler, which a plain
    // autocast script would need too.
    throw Error(ErrorKind::kUsage,
                "train: --precision fp16 is not supported (use bf16)");
  }
  if (precision == Precision::kInt8) {
    throw Error(ErrorKind::kUsage,
                "train: --precision int8 is not supported (train in fp32 or "
                "bf16, then make an int8 model with resnet-cli quantize)");
  }
}

void report_failure(Run& run, const std::string& message) {
  if (run.options->strict) throw Error(ErrorKind::kDecode, message);
  if (!run.reported.insert(message).second) return;
  ++run.skipped;
  if (run.progress->skipped) run.progress->skipped(message);
}

// Drops the samples whose features failed.
void keep_computed(Run& run, std::vector<ImageFolderSample>& samples,
                   std::vector<std::vector<float>>& rows) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (rows[i].empty()) continue;
    if (kept != i) {
      samples[kept] = std::move(samples[i]);
      rows[kept] = std::move(rows[i]);
    }
    ++kept;
  }
  samples.resize(kept);
  rows.resize(kept);
  if (samples.empty() && &samples == &run.data.train) {
    throw Error(ErrorKind::kUsage,
                run.options->data + ": no training image could be decoded");
  }
}

void compute_features(Run& run) {
  const TrainOptions& o = *run.options;
  std::vector<ImageFolderSample> all = run.data.train;
  all.insert(all.end(), run.data.val.begin(), run.data.val.end());
  detail::FeatureKey key{run.base.sha256, run.base.arch, run.base.transform,
                         "pooled"};
  SessionOptions session = o.base;
  session.weights_file = run.base.file.string();
  session.weights_url.clear();
  session.model.arch = run.trainer->architecture();
  const fs::path cache =
      o.cache_dir.empty() ? default_feature_cache_dir() : o.cache_dir;
  detail::FeaturePass pass = detail::pooled_features(
      all, session, key, o.decode, cache, run.progress->features, *run.stop);
  if (run.stop->load()) return;  // rows of the images not reached are empty
  for (const std::string& message : pass.failed) report_failure(run, message);
  run.cached = pass.cached;
  const auto middle =
      pass.rows.begin() + static_cast<long>(run.data.train.size());
  run.train_rows.assign(std::make_move_iterator(pass.rows.begin()),
                        std::make_move_iterator(middle));
  run.val_rows.assign(std::make_move_iterator(middle),
                      std::make_move_iterator(pass.rows.end()));
  keep_computed(run, run.data.train, run.train_rows);
  keep_computed(run, run.data.val, run.val_rows);
}

// The inputs of `indices`, ready for the trainer: features or images.
struct Batch {
  std::vector<float> input;
  std::vector<std::int64_t> labels;
  std::int64_t height = 0, width = 0;  // features: feature size, 0
};

Batch make_batch(Run& run, const std::vector<ImageFolderSample>& samples,
                 const std::vector<std::vector<float>>& rows,
                 const std::vector<std::size_t>& indices, Augment augment,
                 std::mt19937_64& rng) {
  Batch batch;
  if (run.features) {
    for (const std::size_t i : indices) {
      batch.input.insert(batch.input.end(), rows[i].begin(), rows[i].end());
      batch.labels.push_back(samples[i].label);
    }
    batch.height = indices.empty()
                       ? 0
                       : static_cast<std::int64_t>(rows[indices[0]].size());
    return batch;
  }
  std::vector<const ImageFolderSample*> chosen;
  for (const std::size_t i : indices) chosen.push_back(&samples[i]);
  const int threads = run.options->base.model.threads > 0
                          ? run.options->base.model.threads
                          : available_cores();
  detail::ImageBatch images = detail::load_image_batch(
      chosen, run.base.transform, augment, run.options->decode, threads, rng);
  for (const std::string& message : images.failed) report_failure(run, message);
  auto& broken =
      &samples == &run.data.train ? run.broken_train : run.broken_val;
  for (std::size_t k = 0, kept = 0; k < chosen.size(); ++k) {
    if (kept < images.kept.size() && images.kept[kept] == k) {
      ++kept;
    } else {
      broken.insert(chosen[k]->path);
    }
  }
  batch.input = std::move(images.pixels);
  for (const std::size_t k : images.kept)
    batch.labels.push_back(chosen[k]->label);
  batch.height = batch.width = run.base.transform.crop_size;
  return batch;
}

std::vector<std::size_t> epoch_order(const Run& run, int epoch) {
  std::vector<std::size_t> order(run.data.train.size());
  std::iota(order.begin(), order.end(), 0);
  if (run.options->recipe.shuffle) {
    std::mt19937_64 rng(run.options->recipe.seed * 1000003ULL +
                        static_cast<std::uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
  }
  return order;
}

// Val acc@1 and acc@5 (top-min(5, K)), percent, in eval mode.
std::pair<double, double> validate(Run& run) {
  const std::int64_t k = static_cast<std::int64_t>(run.data.classes.size());
  const std::size_t top =
      static_cast<std::size_t>(std::min<std::int64_t>(5, k));
  std::mt19937_64 rng(0);
  std::int64_t hit1 = 0, hit5 = 0, total = 0;
  const std::size_t step =
      run.features ? 256
                   : static_cast<std::size_t>(run.options->recipe.batch_size);
  for (std::size_t first = 0; first < run.data.val.size(); first += step) {
    std::vector<std::size_t> indices;
    for (std::size_t i = first; i < std::min(first + step, run.data.val.size());
         ++i) {
      indices.push_back(i);
    }
    const Batch batch = make_batch(run, run.data.val, run.val_rows, indices,
                                   Augment::kNone, rng);
    const auto n = static_cast<std::int64_t>(batch.labels.size());
    if (n == 0) continue;
    std::vector<float> logits(static_cast<std::size_t>(n * k));
    run.trainer->logits(batch.input.data(), run.features, n, batch.height,
                        batch.width, logits.data());
    for (std::int64_t i = 0; i < n; ++i) {
      const float* row = logits.data() + i * k;
      const float mine = row[batch.labels[static_cast<std::size_t>(i)]];
      // Rank: classes scoring above the label's logit.
      std::size_t above = 0;
      for (std::int64_t c = 0; c < k; ++c) above += row[c] > mine;
      hit1 += above == 0;
      hit5 += above < top;
    }
    total += n;
  }
  if (total == 0) return {0, 0};
  return {100.0 * hit1 / total, 100.0 * hit5 / total};
}

}  // namespace

fs::path default_feature_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return fs::path(xdg) / "resnet-cli" / "features";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".cache" / "resnet-cli" /
         "features";
}

double scheduled_learning_rate(const TrainRecipe& recipe, int epoch) {
  if (recipe.schedule == Schedule::kConstant || recipe.epochs <= 0) {
    return recipe.learning_rate;
  }
  // CosineAnnealingLR(T_max=epochs, eta_min=0), closed form.
  return recipe.learning_rate * (1 + std::cos(M_PI * epoch / recipe.epochs)) /
         2;
}

namespace {

// Runs the rest of epoch `epoch` (0-based) from state.batches_done. Returns
// false when stopped before its end.
bool run_epoch(Run& run, int epoch) {
  const TrainRecipe& recipe = run.options->recipe;
  const std::vector<std::size_t> order = epoch_order(run, epoch);
  const auto size = static_cast<std::size_t>(recipe.batch_size);
  Progress& s = run.state;
  for (std::size_t first = static_cast<std::size_t>(s.batches_done) * size;
       first < order.size(); first += size) {
    if (run.stop->load()) return false;
    const std::vector<std::size_t> indices(
        order.begin() + static_cast<long>(first),
        order.begin() +
            static_cast<long>(std::min(first + size, order.size())));
    // Each batch draws its augmentation from a generator of its own, so that
    // --resume in the middle of an epoch draws what the uninterrupted run
    // drew.
    std::seed_seq seeds{static_cast<std::uint32_t>(recipe.seed),
                        static_cast<std::uint32_t>(recipe.seed >> 32),
                        static_cast<std::uint32_t>(epoch),
                        static_cast<std::uint32_t>(s.batches_done)};
    std::mt19937_64 rng(seeds);
    const Batch batch = make_batch(run, run.data.train, run.train_rows, indices,
                                   recipe.augment, rng);
    ++s.batches_done;
    const auto n = static_cast<std::int64_t>(batch.labels.size());
    if (n == 0) continue;
    const BatchResult result = run.trainer->train_batch(
        batch.input.data(), run.features, n, batch.height, batch.width,
        batch.labels.data());
    s.loss_sum += result.loss_sum;
    s.correct += result.correct;
    s.seen += n;
    if (run.progress->batch_done) {
      run.progress->batch_done(
          epoch + 1, recipe.epochs, s.batches_done,
          static_cast<std::int64_t>((order.size() + size - 1) / size),
          s.loss_sum / static_cast<double>(s.seen));
    }
  }
  return true;
}

void finish_epoch(Run& run, int epoch, double seconds) {
  Progress& s = run.state;
  EpochStats stats;
  stats.epoch = epoch + 1;
  stats.epochs = run.options->recipe.epochs;
  stats.loss = s.seen ? s.loss_sum / static_cast<double>(s.seen) : 0;
  stats.train_acc1 = s.seen ? 100.0 * static_cast<double>(s.correct) /
                                  static_cast<double>(s.seen)
                            : 0;
  stats.learning_rate = scheduled_learning_rate(run.options->recipe, epoch);
  stats.seconds = seconds;
  json line = {{"epoch", stats.epoch},
               {"loss", stats.loss},
               {"train_acc1", stats.train_acc1},
               {"val_acc1", nullptr},
               {"val_acc5", nullptr},
               {"lr", stats.learning_rate},
               {"seconds", seconds}};
  if (!run.data.val.empty()) {
    const auto [acc1, acc5] = validate(run);
    stats.val_acc1 = acc1;
    stats.val_acc5 = acc5;
    line["val_acc1"] = acc1;
    line["val_acc5"] = acc5;
    if (!s.best_val_acc1 || acc1 > *s.best_val_acc1) {
      s.best_val_acc1 = acc1;
      s.best_epoch = stats.epoch;
    }
  }
  s.history.push_back(line);
  s.epochs_done = epoch + 1;
  s.batches_done = 0;
  s.loss_sum = 0;
  s.correct = s.seen = 0;
  // As a PyTorch script saves after scheduler.step(): optimizer.pt holds the
  // learning rate the next epoch trains with.
  run.trainer->set_learning_rate(
      scheduled_learning_rate(run.options->recipe, s.epochs_done));
  save_run(run, false);
  if (run.progress->epoch_done) run.progress->epoch_done(stats);
}

TrainSummary summary_of(const Run& run, bool interrupted) {
  TrainSummary summary;
  summary.train_images = train_images(run);
  summary.val_images = val_images(run);
  summary.skipped = run.skipped;
  summary.cached = run.cached;
  summary.epochs_done = run.state.epochs_done;
  summary.best_val_acc1 = run.state.best_val_acc1;
  summary.best_epoch = run.state.best_epoch;
  summary.interrupted = interrupted;
  return summary;
}

}  // namespace

TrainSummary train_classifier(const TrainOptions& options,
                              const TrainProgress& progress,
                              const std::atomic<bool>& stop) {
  check_precision(options.base.model.precision);
  start_loading_model_module();
  prepare_output_dir(options);
  Run run;
  run.options = &options;
  run.progress = &progress;
  run.stop = &stop;
  run.data = load_data(options);
  run.base = resolve_model_base(options.base);
  write_labels(options.output_dir, run.data.classes);
  const auto classes = static_cast<std::int64_t>(run.data.classes.size());
  fs::path start = run.base.file;
  if (options.resume) {
    run.state = resumed_progress(options, run.data);
    start = options.output_dir / kModelFile;
  }
  run.trainer =
      load_trainer(start, trainer_options(options, run.base, classes));
  if (options.resume) {
    run.trainer->load_optimizer_state(
        read_optimizer_state(options.output_dir / kOptimizerFile));
  }
  run.features = options.recipe.part == TrainedPart::kFc &&
                 options.recipe.augment == Augment::kNone;
  if (run.features) compute_features(run);
  if (stop.load()) {
    // Nothing trained yet, but --resume needs a run to continue.
    save_run(run, true);
    return summary_of(run, true);
  }
  for (int epoch = run.state.epochs_done; epoch < options.recipe.epochs;
       ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    run.trainer->set_learning_rate(
        scheduled_learning_rate(options.recipe, epoch));
    if (!run_epoch(run, epoch)) {
      save_run(run, true);
      return summary_of(run, true);
    }
    finish_epoch(run, epoch,
                 std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - started)
                     .count());
  }
  return summary_of(run, false);
}

}  // namespace resnet_cli
