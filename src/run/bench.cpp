#include "run/bench.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "base/error.h"
#include "run/record_json.h"

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

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(
      fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace

ForwardBenchmark benchmark_forward(const Model& model,
                                   const PipelineOptions& plan, int crop,
                                   int iterations, int warmup) {
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
  ForwardBenchmark result;
  const double seconds =
      std::chrono::duration<double>(end - start_line.start()).count();
  result.images_per_second =
      static_cast<double>(latencies_ms.size()) * plan.batch_size / seconds;
  result.p50_ms = percentile(latencies_ms, 0.50);
  result.p95_ms = percentile(latencies_ms, 0.95);
  return result;
}

PipelineBenchmark benchmark_pipeline(const Session& session,
                                     InputScanner& scanner,
                                     const PipelineOptions& plan) {
  const ClassifyJob job =
      session.job(OutputType::kProbability, 5, DecodeOptions{});
  std::atomic<bool> stop{false};
  std::size_t formatted_bytes = 0;
  const auto start = Clock::now();
  PipelineBenchmark result;
  result.stats = run_pipeline(
      scanner, job, plan,
      [&](Record&& record) { formatted_bytes += record_json(record).size(); },
      stop);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  spdlog::debug("bench: {} bytes of JSON Lines formatted", formatted_bytes);
  return result;
}

}  // namespace resnet_cli
