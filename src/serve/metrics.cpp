#include "serve/metrics.h"

#include <sstream>

namespace resnet_cli::server {

namespace {

std::int64_t seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

void header(std::ostream& out, const char* name, const char* type,
            const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type
      << '\n';
}

}  // namespace

Metrics::Metrics() : start_(std::chrono::steady_clock::now()) {
  second_of_slot_.fill(-1);
}

void Metrics::request(int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++by_status_[status];
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    if (seconds <= kLatencyBounds[i]) ++latency_[i];
  }
  latency_sum_ += seconds;
  ++latency_count_;
}

void Metrics::batch(int size) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < kBatchBounds.size(); ++i) {
    if (size <= kBatchBounds[i]) ++batches_[i];
  }
  ++batch_count_;
  images_ += static_cast<std::uint64_t>(size);
  const std::int64_t second = seconds_since(start_);
  const auto slot = static_cast<std::size_t>(second % kRateWindow);
  if (second_of_slot_[slot] != second) {
    second_of_slot_[slot] = second;
    images_by_second_[slot] = 0;
  }
  images_by_second_[slot] += static_cast<std::uint64_t>(size);
}

std::string Metrics::render(const Gauges& gauges) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  header(out, "resnet_cli_requests_total", "counter",
         "HTTP requests answered, by status code");
  for (const auto& [status, count] : by_status_) {
    out << "resnet_cli_requests_total{code=\"" << status << "\"} " << count
        << '\n';
  }
  header(out, "resnet_cli_request_duration_seconds", "histogram",
         "From a request's first byte to its response");
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    out << "resnet_cli_request_duration_seconds_bucket{le=\""
        << kLatencyBounds[i] << "\"} " << latency_[i] << '\n';
  }
  out << "resnet_cli_request_duration_seconds_bucket{le=\"+Inf\"} "
      << latency_count_ << "\nresnet_cli_request_duration_seconds_sum "
      << latency_sum_ << "\nresnet_cli_request_duration_seconds_count "
      << latency_count_ << '\n';
  header(out, "resnet_cli_batch_size", "histogram", "Images per forward pass");
  for (std::size_t i = 0; i < kBatchBounds.size(); ++i) {
    out << "resnet_cli_batch_size_bucket{le=\"" << kBatchBounds[i] << "\"} "
        << batches_[i] << '\n';
  }
  out << "resnet_cli_batch_size_bucket{le=\"+Inf\"} " << batch_count_
      << "\nresnet_cli_batch_size_sum " << images_
      << "\nresnet_cli_batch_size_count " << batch_count_ << '\n';
  header(out, "resnet_cli_images_total", "counter", "Images classified");
  out << "resnet_cli_images_total " << images_ << '\n';
  // Whole seconds only: the current one is still counting.
  const std::int64_t now = seconds_since(start_);
  std::uint64_t recent = 0;
  for (std::size_t slot = 0; slot < images_by_second_.size(); ++slot) {
    const std::int64_t second = second_of_slot_[slot];
    if (second >= 0 && second < now && second >= now - kRateWindow) {
      recent += images_by_second_[slot];
    }
  }
  const std::int64_t window = std::min<std::int64_t>(now, kRateWindow);
  header(out, "resnet_cli_images_per_second", "gauge",
         "Images classified per second, the last 10 whole seconds");
  out << "resnet_cli_images_per_second "
      << (window > 0 ? static_cast<double>(recent) / window : 0.0) << '\n';
  header(out, "resnet_cli_queue_depth", "gauge",
         "Images waiting for a forward pass");
  out << "resnet_cli_queue_depth " << gauges.queue_depth << '\n';
  header(out, "resnet_cli_images_in_flight", "gauge",
         "Images admitted: being decoded, waiting or in a forward pass");
  out << "resnet_cli_images_in_flight " << gauges.admitted << '\n';
  header(out, "resnet_cli_open_connections", "gauge", "Open connections");
  out << "resnet_cli_open_connections " << gauges.connections << '\n';
  header(out, "resnet_cli_memory_bytes", "gauge",
         "Bytes held against --body-memory and --decode-memory");
  out << "resnet_cli_memory_bytes{pool=\"bodies\"} " << gauges.body_bytes
      << "\nresnet_cli_memory_bytes{pool=\"decodes\"} " << gauges.decode_bytes
      << '\n';
  return out.str();
}

}  // namespace resnet_cli::server
