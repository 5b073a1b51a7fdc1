// The server's counters, written as Prometheus' text exposition format.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace resnet_cli::server {

// What /metrics reports beside the counters, read when it is asked.
struct Gauges {
  std::size_t queue_depth = 0;  // images waiting for a forward pass
  int admitted = 0;             // images being decoded, queued or run
  int connections = 0;
  std::size_t body_bytes = 0;    // held against --body-memory
  std::size_t decode_bytes = 0;  // held against --decode-memory
};

class Metrics {
 public:
  Metrics();
  void request(int status, double seconds);
  void batch(int size);
  std::string render(const Gauges& gauges) const;

 private:
  static constexpr std::array<double, 11> kLatencyBounds = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  static constexpr std::array<int, 7> kBatchBounds = {1, 2, 4, 8, 16, 32, 64};
  static constexpr int kRateWindow = 10;  // seconds

  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::map<int, std::uint64_t> by_status_;
  std::array<std::uint64_t, kLatencyBounds.size()> latency_{};
  double latency_sum_ = 0;
  std::uint64_t latency_count_ = 0;
  std::array<std::uint64_t, kBatchBounds.size()> batches_{};
  std::uint64_t batch_count_ = 0;
  std::uint64_t images_ = 0;
  // Images per whole second, the last kRateWindow seconds (by second % size).
  std::array<std::uint64_t, kRateWindow> images_by_second_{};
  std::array<std::int64_t, kRateWindow> second_of_slot_{};
};

}  // namespace resnet_cli::server
