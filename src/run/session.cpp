#include "run/session.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/error.h"
#include "model/device.h"
#include "model/model_loader.h"

namespace resnet_cli {

std::vector<std::string> load_labels(const std::string& labels_file,
                                     std::int64_t num_classes) {
  if (labels_file.empty()) {
    if (num_classes !=
        static_cast<std::int64_t>(imagenet_categories().size())) {
      spdlog::warn(
          "the model has {} classes, not ImageNet's 1000; labels are class "
          "indices (give names with --labels FILE)",
          num_classes);
      return {};
    }
    return imagenet_categories();
  }
  std::vector<std::string> labels = read_labels_file(labels_file);
  if (static_cast<std::int64_t>(labels.size()) != num_classes) {
    throw Error(ErrorKind::kUsage,
                labels_file + ": has " + std::to_string(labels.size()) +
                    " labels but the model has " + std::to_string(num_classes) +
                    " classes");
  }
  return labels;
}

namespace {

// Asks the kernel to start reading the whole file into the page cache, so
// that the model finds its bytes there. Advice only: failures do not matter.
void read_ahead(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
  ::close(fd);
}

// The registry entry the options name. With --precision int8 and no file
// of its own, a float entry stands for its quantized counterpart, whose file
// and transforms are used.
const WeightsInfo& choose_weights(const SessionOptions& options) {
  const WeightsInfo& named = find_weights(options.weights, options.model.arch);
  if (options.model.precision != Precision::kInt8 || named.quantized() ||
      !options.weights_file.empty() || !options.weights_url.empty()) {
    return named;
  }
  if (const WeightsInfo* quantized = quantized_counterpart(named)) {
    spdlog::info("--precision int8: {} (quantized from {})",
                 quantized->qualified_name(), named.qualified_name());
    return *quantized;
  }
  throw Error(ErrorKind::kUsage,
              "--precision int8: torchvision publishes no quantized weights "
              "made from " +
                  named.qualified_name() +
                  " (resnet-cli weights list shows the quantized entries); "
                  "make an int8 model of it with `resnet-cli quantize "
                  "--calibrate DIR -o MODEL_DIR`");
}

}  // namespace

PipelineOptions plan_pipeline(const PlanOptions& options,
                              const ModelOptions& model, bool single_input,
                              int available_cores) {
  const int threads = model.threads > 0 ? model.threads : available_cores;
  const bool cuda = parse_device(model.device).cuda;
  PipelineOptions plan;
  plan.ordered = options.ordered;
  if (options.workers > 0) {
    plan.workers = options.workers;
  } else {
    plan.workers = cuda || single_input ? 1 : threads;
  }
  // The threads are shared out; a worker never gets fewer than one.
  plan.threads_per_worker = std::max(1, threads / plan.workers);
  // On CPU a worker runs two images per pass when it has them: the weights
  // then stream through the cache once for both (measured: 51 against 49
  // img/s on 2 cores). One image alone runs as soon as it is ready. A GPU
  // needs dozens of images a pass to fill its multiprocessors.
  plan.batch_size = options.batch_size > 0 ? options.batch_size
                    : single_input         ? 1
                    : cuda                 ? kCudaBatchSize
                                           : 2;
  // On CUDA every thread decodes: the thread that drives the GPU mostly
  // waits for it.
  plan.decode_threads = options.decode_threads > 0
                            ? options.decode_threads
                            : (single_input ? 1 : std::max(1, threads));
  return plan;
}

Session::Session(const SessionOptions& options)
    : options_(options),
      weights_(&choose_weights(options)),
      transform_(apply_overrides(weights_->transforms, options.transform)) {
  // -vv shows where a cold start's time goes.
  const auto started = std::chrono::steady_clock::now();
  const auto since_start = [started] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         started)
        .count();
  };
  // LibTorch initialises on its own thread while the weights are found
  // (perhaps downloaded) and their pages read ahead.
  start_loading_model_module();
  const WeightsSource source{weights_, options.weights_file,
                             options.weights_url};
  const std::filesystem::path checkpoint =
      resolve_weights_file(source, options.fetch);
  read_ahead(checkpoint);
  wait_for_model_module();
  spdlog::debug("session: model module ready after {:.3f} s", since_start());
  ModelOptions model_options = options.model;
  if (source.file.empty() && source.url.empty()) {
    model_options.arch = weights_->arch;
  }
  model_ = load_model(checkpoint, model_options);
  spdlog::debug("session: model loaded after {:.3f} s", since_start());
  if (options.read_labels) {
    labels_ = load_labels(options.labels_file, model_->num_classes());
  }
}

PipelineOptions Session::plan(bool single_input) const {
  const PipelineOptions plan = plan_pipeline(options_.plan, options_.model,
                                             single_input, available_cores());
  spdlog::debug(
      "pipeline: {} workers x {} threads, {} decode threads, batch {}",
      plan.workers, plan.threads_per_worker, plan.decode_threads,
      plan.batch_size);
  return plan;
}

ClassifyJob Session::job(OutputType output_type, int topk,
                         const DecodeOptions& decode) const {
  ClassifyJob job;
  job.model = model_.get();
  job.transform = transform_;
  job.decode = decode;
  job.output_type = output_type;
  job.topk = topk;
  job.labels = &labels_;
  return job;
}

}  // namespace resnet_cli
