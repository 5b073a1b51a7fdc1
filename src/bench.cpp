#include "resnet_cli/bench.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <streambuf>
#include <thread>

#include "resnet_cli/error.h"

namespace resnet_cli {

namespace {

using Clock = std::chrono::steady_clock;

// Lets every worker start its timed passes at the same moment.
class StartLine {
 public:
  explicit StartLine(int count) : waiting_(count) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--waiting_ == 0) {
      start_ = Clock::now();
      open_.notify_all();
    } else {
      open_.wait(lock, [this] { return waiting_ == 0; });
    }
  }
  Clock::time_point start() const { return start_; }

 private:
  std::mutex mutex_;
  std::condition_variable open_;
  int waiting_;
  Clock::time_point start_;
};

// Swallows output: the pipeline run formats records as classify would, but
// keeps none.
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize count) override {
    return count;
  }
};

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(
      fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

struct ForwardResult {
  double images_per_second = 0;
  double p50_ms = 0;
  double p95_ms = 0;
};

ForwardResult bench_forward(const Model& model, const PipelineOptions& plan,
                            int crop, int iterations, int warmup) {
  const std::size_t image_floats = 3 * static_cast<std::size_t>(crop) * crop;
  std::vector<float> input(image_floats *
                           static_cast<std::size_t>(plan.batch_size));
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& value : input) value = normal(random);

  StartLine start_line(plan.workers);
  std::mutex mutex;
  std::vector<double> latencies_ms;
  Clock::time_point end = Clock::now();
  std::exception_ptr failure;
  std::vector<std::thread> workers;
  for (int w = 0; w < plan.workers; ++w) {
    workers.emplace_back([&] {
      std::vector<double> mine;
      try {
        model.bind_thread(plan.threads_per_worker);
        std::vector<float> output(
            static_cast<std::size_t>(model.num_classes()) * plan.batch_size);
        for (int i = 0; i < warmup; ++i) {
          model.forward(input.data(), plan.batch_size, crop, crop,
                        output.data());
        }
        start_line.arrive_and_wait();
        for (int i = 0; i < iterations; ++i) {
          const auto before = Clock::now();
          model.forward(input.data(), plan.batch_size, crop, crop,
                        output.data());
          mine.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - before)
                  .count());
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
      end = std::max(end, Clock::now());
    });
  }
  for (std::thread& worker : workers) worker.join();
  if (failure) std::rethrow_exception(failure);
  ForwardResult result;
  const double seconds =
      std::chrono::duration<double>(end - start_line.start()).count();
  result.images_per_second =
      static_cast<double>(latencies_ms.size()) * plan.batch_size / seconds;
  result.p50_ms = percentile(latencies_ms, 0.50);
  result.p95_ms = percentile(latencies_ms, 0.95);
  return result;
}

}  // namespace

int run_bench(const BenchSettings& settings, std::ostream& out) {
  const ClassifySettings& classify = settings.classify;
  const WeightsInfo& weights = find_weights(classify.weights);
  const TransformSpec transform =
      apply_overrides(weights.transforms, classify.transform);
  const std::unique_ptr<Model> model = load_model(classify, weights);
  const PipelineOptions plan =
      plan_pipeline(classify, /*single_input=*/false, available_cores());
  const ForwardResult forward = bench_forward(*model, plan, transform.crop_size,
                                              std::max(1, settings.iterations),
                                              std::max(0, settings.warmup));

  nlohmann::json report = {
      {"device", model->device()},
      {"precision",
       classify.model.precision == Precision::kBFloat16 ? "bf16" : "fp32"},
      {"cores", available_cores()},
      {"workers", plan.workers},
      {"threads_per_worker", plan.threads_per_worker},
      {"batch_size", plan.batch_size},
      {"crop", transform.crop_size},
      {"forward",
       {{"images_per_second", forward.images_per_second},
        {"latency_ms", {{"p50", forward.p50_ms}, {"p95", forward.p95_ms}}},
        {"iterations_per_worker", settings.iterations}}},
  };

  const bool folder_given =
      !classify.input.paths.empty() || !classify.input.files_from.empty();
  if (folder_given) {
    const std::vector<std::string> labels = imagenet_categories();
    const ClassifyJob job = classify_job(classify, *model, transform, labels);
    NullBuffer null_buffer;
    std::ostream null_stream(&null_buffer);
    WriterOptions writer_options;
    writer_options.format = OutputFormat::kJsonl;
    auto writer = make_record_writer(writer_options, null_stream);
    InputScanner scanner(classify.input);
    std::atomic<bool> stop{false};
    const auto start = Clock::now();
    const PipelineStats stats = run_pipeline(
        scanner, job, plan, [&](Record&& record) { writer->write(record); },
        stop);
    const double seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    const double images = static_cast<double>(stats.ok + stats.failed);
    report["pipeline"] = {
        {"images", stats.ok + stats.failed},
        {"failed", stats.failed},
        {"seconds", seconds},
        {"images_per_second", images / seconds},
        {"of_forward_rate", images / seconds / forward.images_per_second},
        {"stage_seconds",
         {{"decode", stats.decode_seconds},
          {"preprocess", stats.preprocess_seconds},
          {"inference", stats.inference_seconds},
          {"output", stats.output_seconds}}},
    };
  }

  if (settings.json) {
    out << report.dump(2) << "\n";
    return kExitOk;
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "%s %s, %d workers x %d threads, batch %d, crop %d\n",
                report["device"].get<std::string>().c_str(),
                report["precision"].get<std::string>().c_str(), plan.workers,
                plan.threads_per_worker, plan.batch_size, transform.crop_size);
  out << line;
  std::snprintf(
      line, sizeof line,
      "forward only: %.1f img/s, latency per batch p50 %.1f ms, p95 %.1f ms\n",
      forward.images_per_second, forward.p50_ms, forward.p95_ms);
  out << line;
  if (report.contains("pipeline")) {
    const auto& pipeline = report["pipeline"];
    const auto& stages = pipeline["stage_seconds"];
    std::snprintf(line, sizeof line,
                  "pipeline: %llu images in %.2f s, %.1f img/s (%.0f%% of "
                  "forward only)\n",
                  pipeline["images"].get<unsigned long long>(),
                  pipeline["seconds"].get<double>(),
                  pipeline["images_per_second"].get<double>(),
                  100 * pipeline["of_forward_rate"].get<double>());
    out << line;
    std::snprintf(
        line, sizeof line,
        "thread-seconds: decode %.2f, preprocess %.2f, inference %.2f, "
        "output %.2f\n",
        stages["decode"].get<double>(), stages["preprocess"].get<double>(),
        stages["inference"].get<double>(), stages["output"].get<double>());
    out << line;
  }
  return kExitOk;
}

}  // namespace resnet_cli
