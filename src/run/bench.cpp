#include "run/bench.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
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

std::vector<float> random_batch(std::size_t floats) {
  std::vector<float> input(floats);
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& value : input) value = normal(random);
  return input;
}

// A device's rate: the same batch submitted from every host buffer, all but
// one in flight, as the pipeline keeps them; the latency is a batch's from
// submit to collect.
ForwardBenchmark benchmark_queue(BatchQueue& queue, const PipelineOptions& plan,
                                 int iterations, int warmup,
                                 const std::vector<float>& input) {
  for (int slot = 0; slot < queue.slots(); ++slot) {
    std::copy(input.begin(), input.end(), queue.input(slot));
  }
  const int in_flight = std::max(1, queue.slots() - 1);
  std::deque<std::pair<int, Clock::time_point>> pending;
  std::vector<double> latencies_ms;
  int next_slot = 0;
  Clock::time_point start = Clock::now();
  for (int i = 0; i < warmup + iterations; ++i) {
    if (i == warmup) {
      while (!pending.empty()) {
        queue.collect(pending.front().first);
        pending.pop_front();
      }
      start = Clock::now();
    }
    if (static_cast<int>(pending.size()) >= in_flight) {
      queue.collect(pending.front().first);
      if (i > warmup) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(
                                   Clock::now() - pending.front().second)
                                   .count());
      }
      pending.pop_front();
    }
    queue.submit(next_slot, plan.batch_size);
    pending.emplace_back(next_slot, Clock::now());
    next_slot = (next_slot + 1) % queue.slots();
  }
  while (!pending.empty()) {
    queue.collect(pending.front().first);
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(
                               Clock::now() - pending.front().second)
                               .count());
    pending.pop_front();
  }
  ForwardBenchmark result;
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  result.images_per_second =
      static_cast<double>(iterations) * plan.batch_size / seconds;
  result.p50_ms = percentile(latencies_ms, 0.50);
  result.p95_ms = percentile(latencies_ms, 0.95);
  return result;
}

}  // namespace

ForwardBenchmark benchmark_forward(const Model& model,
                                   const PipelineOptions& plan, int crop,
                                   int iterations, int warmup) {
  const std::size_t image_floats = 3 * static_cast<std::size_t>(crop) * crop;
  const std::vector<float> input =
      random_batch(image_floats * static_cast<std::size_t>(plan.batch_size));
  BatchShape shape;
  shape.max_batch = plan.batch_size;
  shape.height = shape.width = crop;
  if (const std::unique_ptr<BatchQueue> queue = model.open_batch_queue(shape)) {
    return benchmark_queue(*queue, plan, iterations, warmup, input);
  }

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
