#include "terminal.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "resnet_cli/human_units.h"

namespace resnet_cli::cli {

namespace {

// The live line currently drawn (at most one), so that log messages can
// clear it. Guarded by g_terminal_mutex, which also serializes writes.
// Drawing pads with blanks over the rest of a longer previous line rather
// than sending terminal escapes, so that dumb terminals show it right too.
std::mutex g_terminal_mutex;
std::size_t g_drawn_width = 0;  // 0: no live line
std::atomic<bool> g_notices_on{true};

void clear_drawn_line_locked() {
  if (g_drawn_width == 0) return;
  std::fprintf(stderr, "\r%*s\r", static_cast<int>(g_drawn_width), "");
  std::fflush(stderr);
  g_drawn_width = 0;
}

// spdlog's stderr output, clearing a live progress line first.
class StatusAwareSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    std::lock_guard<std::mutex> lock(g_terminal_mutex);
    clear_drawn_line_locked();
    std::fwrite(formatted.data(), 1, formatted.size(), stderr);
    std::fflush(stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

spdlog::level::level_enum level_for(int verbosity) {
  switch (verbosity) {
    case -1:
      return spdlog::level::err;
    case 0:
      return spdlog::level::warn;
    case 1:
      return spdlog::level::info;
    default:
      return spdlog::level::debug;
  }
}

}  // namespace

void setup_logging(int verbosity) {
  auto sink = std::make_shared<StatusAwareSink>();
  auto logger = std::make_shared<spdlog::logger>("resnet-cli", sink);
  logger->set_pattern("resnet-cli: %^%l%$: %v");
  logger->set_level(level_for(verbosity));
  spdlog::set_default_logger(logger);
  g_notices_on = verbosity >= 0;
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

StatusLine::StatusLine(bool live) : live_(live) {}

StatusLine::~StatusLine() { clear(); }

void StatusLine::draw(const std::string& text) {
  if (!live_) return;
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const std::string line = "resnet-cli: " + text;
  std::lock_guard<std::mutex> lock(g_terminal_mutex);
  const std::size_t width = std::max(line.size(), g_drawn_width);
  std::fprintf(stderr, "\r%-*s", static_cast<int>(width), line.c_str());
  std::fflush(stderr);
  g_drawn_width = line.size();
}

void StatusLine::clear() {
  if (!live_) return;
  std::lock_guard<std::mutex> lock(g_terminal_mutex);
  clear_drawn_line_locked();
}

void notice(const std::string& text) {
  if (!g_notices_on) return;
  std::lock_guard<std::mutex> lock(g_terminal_mutex);
  clear_drawn_line_locked();
  std::fprintf(stderr, "resnet-cli: %s\n", text.c_str());
  std::fflush(stderr);
}

namespace {

std::string download_line(const DownloadProgress& progress) {
  const double rate =
      progress.seconds > 0 ? progress.received / progress.seconds : 0;
  std::string line = progress.label + "  " + format_bytes(progress.received);
  if (progress.total > 0) {
    char percent[16];
    std::snprintf(percent, sizeof percent, "  %3.0f%%",
                  100.0 * progress.received / progress.total);
    line += " / " + format_bytes(progress.total) + percent;
  }
  line += "  " + format_bytes(rate) + "/s";
  if (progress.total > 0 && rate > 0 && progress.received <= progress.total) {
    line +=
        "  ETA " + format_duration((progress.total - progress.received) / rate);
  }
  return line;
}

}  // namespace

std::function<void(const DownloadProgress&)> download_progress_renderer(
    bool show) {
  if (!show) return {};
  auto line = std::make_shared<StatusLine>(stderr_is_terminal());
  return [line](const DownloadProgress& progress) {
    switch (progress.phase) {
      case DownloadProgress::Phase::kReceiving:
        line->draw(download_line(progress));
        break;
      case DownloadProgress::Phase::kAttemptEnded:
        line->clear();
        break;
      case DownloadProgress::Phase::kFinished:
        notice(progress.summary);
        break;
    }
  };
}

RunProgress::RunProgress(ProgressMode mode)
    : line_(mode == ProgressMode::kAlways ||
            (mode == ProgressMode::kAuto && stderr_is_terminal())),
      start_(std::chrono::steady_clock::now()) {}

double RunProgress::rate() const {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  return seconds > 0 ? static_cast<double>(ok_ + failed_) / seconds : 0;
}

void RunProgress::record_done(bool failed) {
  (failed ? failed_ : ok_)++;
  if (!line_.live()) return;
  char text[128];
  std::snprintf(text, sizeof text, "%llu done, %llu failed, %.1f img/s",
                static_cast<unsigned long long>(ok_ + failed_),
                static_cast<unsigned long long>(failed_), rate());
  line_.draw(text);
}

void RunProgress::finish(bool interrupted) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  char text[200];
  std::snprintf(text, sizeof text,
                "%s%llu inputs: %llu ok, %llu failed, %.1f s, %.1f img/s",
                interrupted ? "interrupted after " : "",
                static_cast<unsigned long long>(ok_ + failed_),
                static_cast<unsigned long long>(ok_),
                static_cast<unsigned long long>(failed_), seconds, rate());
  line_.clear();
  if (line_.live()) {
    notice(text);
  } else {
    spdlog::info("{}", text);
  }
}

}  // namespace resnet_cli::cli
