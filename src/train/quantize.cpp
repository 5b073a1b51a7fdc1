#include "train/quantize.h"

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/cpu.h"
#include "base/error.h"
#include "base/file_util.h"
#include "model/model_loader.h"
#include "run/image_step.h"
#include "train/model_folder.h"
#include "weights/state_dict_writer.h"

namespace resnet_cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Refuses to replace another model unless asked.
void check_output_dir(const QuantizeOptions& options) {
  const fs::path& dir = options.output_dir;
  std::error_code ec;
  if (fs::exists(dir / kRecordFile, ec) && !options.force) {
    throw Error(ErrorKind::kUsage,
                dir.string() +
                    ": holds a model already (its model.json); --force "
                    "replaces it");
  }
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw Error(ErrorKind::kUsage, dir.string() + ": not a folder");
  }
}

// The calibration inputs in scan order; scan failures are reported.
std::vector<std::string> calibration_paths(const QuantizeOptions& options,
                                           const QuantizeProgress& progress,
                                           QuantizeSummary& summary) {
  InputScanner scanner(options.calibration);
  std::vector<std::string> paths;
  Input input;
  while (scanner.next(input)) {
    if (input.error) {
      ++summary.skipped;
      if (progress.skipped) progress.skipped(input.error->message);
      continue;
    }
    paths.push_back(input.path);
  }
  if (paths.empty()) {
    std::string where;
    for (const std::string& path : options.calibration.paths) {
      where += (where.empty() ? "" : ", ") + path;
    }
    throw Error(ErrorKind::kUsage,
                "--calibrate " + where + ": no image to calibrate on");
  }
  return paths;
}

// Images [begin, end) of `paths` prepared as the model's input on the
// available cores; `ok` says which succeeded. Failures are reported.
std::vector<float> prepare_batch(const std::vector<std::string>& paths,
                                 std::size_t begin, std::size_t end,
                                 const QuantizeOptions& options,
                                 const TransformSpec& transform,
                                 std::vector<bool>& ok,
                                 std::vector<std::string>& failures) {
  const std::size_t count = end - begin;
  const auto image_floats =
      3 * static_cast<std::size_t>(transform.crop_size) * transform.crop_size;
  std::vector<float> images(count * image_floats);
  ok.assign(count, false);
  failures.assign(count, {});
  const std::size_t threads = std::min<std::size_t>(
      count, static_cast<std::size_t>(std::max(1, available_cores())));
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::size_t i = t; i < count; i += threads) {
        try {
          prepare_input(InputBytes{paths[begin + i]}, options.decode, transform,
                        images.data() + i * image_floats);
          ok[i] = true;
        } catch (const Error& e) {
          failures[i] = e.what();
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  // The images that failed leave the batch; the rest close up.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!ok[i]) continue;
    if (kept != i) {
      std::copy_n(images.data() + i * image_floats, image_floats,
                  images.data() + kept * image_floats);
    }
    ++kept;
  }
  images.resize(kept * image_floats);
  return images;
}

// The class names labels.txt gets: the base's (a labels file, or ImageNet's
// for 1000 classes), else the class indices.
std::vector<std::string> class_names(const QuantizeOptions& options,
                                     std::int64_t num_classes) {
  std::vector<std::string> names =
      load_labels(options.base.labels_file, num_classes);
  if (names.empty()) {
    for (std::int64_t i = 0; i < num_classes; ++i) {
      names.push_back(std::to_string(i));
    }
  }
  return names;
}

std::string record_text(const QuantizeOptions& options, const ModelBase& base,
                        const Calibrator& calibrator,
                        const ConvertedModel& converted,
                        const QuantizeSummary& summary) {
  json observers = json::object();
  for (const ObservedActivation& activation : converted.activations) {
    observers[activation.module] = {{"scale", activation.scale},
                                    {"zero_point", activation.zero_point}};
  }
  const json record = {
      {"format", kQuantizedRecordFormat},
      {"version", 1},
      {"arch", calibrator.architecture()},
      {"num_classes", calibrator.num_classes()},
      {"precision", "int8"},
      {"base", base_record(base)},
      {"transforms", transform_record(base.transform)},
      {"quantization",
       {{"engine", "onednn"},
        {"qconfig", "torch.ao.quantization.get_default_qconfig(\"onednn\")"},
        {"activations", "HistogramObserver, quint8, per_tensor_affine"},
        {"weights", "PerChannelMinMaxObserver, qint8, per_channel_symmetric"},
        {"fused", "conv + bn (+ relu), as torchvision's fuse_model"}}},
      {"calibration",
       {{"inputs", options.calibration.paths},
        {"images", summary.images},
        {"skipped", summary.skipped},
        {"batch_size", options.batch_size},
        {"batches", summary.batches}}},
      {"observers", observers}};
  return record.dump(2) + "\n";
}

// model.pth, labels.txt and model.json: all written and synced before any
// replaces its predecessor, model.json last.
void write_model_dir(const QuantizeOptions& options, const ModelBase& base,
                     const Calibrator& calibrator,
                     const ConvertedModel& converted,
                     const QuantizeSummary& summary) {
  const fs::path& dir = options.output_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw Error(ErrorKind::kOutput,
                dir.string() + ": cannot make the folder: " + ec.message());
  }
  std::vector<std::unique_ptr<AtomicFile>> written;
  written.push_back(std::make_unique<AtomicFile>(dir / kModelFile));
  write_state_dict(*written.back(), converted.entries, converted.versions);
  written.back()->sync();
  std::string labels;
  for (const std::string& name :
       class_names(options, calibrator.num_classes())) {
    labels += name + "\n";
  }
  const std::pair<const char*, std::string> files[] = {
      {kLabelsFile, labels},
      {kRecordFile,
       record_text(options, base, calibrator, converted, summary)}};
  for (const auto& [name, bytes] : files) {
    written.push_back(std::make_unique<AtomicFile>(dir / name));
    written.back()->write(bytes);
    written.back()->sync();
  }
  for (auto& file : written) file->commit();
}

}  // namespace

QuantizeSummary quantize_network(const QuantizeOptions& options,
                                 const QuantizeProgress& progress,
                                 const std::atomic<bool>& stop) {
  if (options.batch_size < 1) {
    throw Error(ErrorKind::kUsage, "--batch-size must be at least 1");
  }
  check_output_dir(options);
  start_loading_model_module();
  QuantizeSummary summary;
  const ModelBase base = resolve_model_base(options.base);
  const std::vector<std::string> paths =
      calibration_paths(options, progress, summary);
  CalibratorOptions calibrator_options;
  calibrator_options.arch = base.arch;
  calibrator_options.threads = options.base.model.threads;
  const std::unique_ptr<Calibrator> calibrator =
      load_calibrator(base.file, calibrator_options);
  if (progress.calibrated) progress.calibrated(0, paths.size());
  const int crop = base.transform.crop_size;
  const auto batch = static_cast<std::size_t>(options.batch_size);
  std::vector<bool> ok;
  std::vector<std::string> failures;
  for (std::size_t begin = 0; begin < paths.size(); begin += batch) {
    if (stop) {
      summary.interrupted = true;
      return summary;
    }
    const std::size_t end = std::min(paths.size(), begin + batch);
    const std::vector<float> images =
        prepare_batch(paths, begin, end, options, base.transform, ok, failures);
    for (const std::string& failure : failures) {
      if (failure.empty()) continue;
      ++summary.skipped;
      if (progress.skipped) progress.skipped(failure);
    }
    const auto kept =
        static_cast<std::int64_t>(std::count(ok.begin(), ok.end(), true));
    if (kept > 0) {
      calibrator->observe(images.data(), kept, crop, crop);
      summary.images += static_cast<std::uint64_t>(kept);
      ++summary.batches;
    }
    if (progress.calibrated) progress.calibrated(end, paths.size());
  }
  if (summary.images == 0) {
    throw Error(ErrorKind::kUsage,
                "no calibration image could be decoded (see the messages "
                "above)");
  }
  if (stop) {
    summary.interrupted = true;
    return summary;
  }
  const ConvertedModel converted = calibrator->convert();
  write_model_dir(options, base, *calibrator, converted, summary);
  return summary;
}

}  // namespace resnet_cli
