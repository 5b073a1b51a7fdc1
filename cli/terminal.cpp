#include "terminal.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "base/human_units.h"

namespace resnet_cli::cli {

namespace {

// The live line currently drawn (at most one), so that log messages can
// clear it. Guarded by g_terminal_mutex, which also serializes writes.
// Drawing pads with blanks over the rest of a longer previous line rather
// than sending terminal escapes, so that dumb terminals show it right too.
std::mutex g_terminal_mutex;
std::size_t g_drawn_width = 0;  // 0: no live line
std::atomic<bool> g_notices_on{true};

// Columns `text` takes on a terminal: its bytes less ANSI SGR sequences
// (ESC [ ... m).
std::size_t visible_width(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b') {
      while (i < text.size() && text[i] != 'm') ++i;
      continue;
    }
    ++width;
  }
  return width;
}

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

bool use_color(ColorMode mode, int fd) {
  if (mode != ColorMode::kAuto) return mode == ColorMode::kAlways;
  const char* no_color = std::getenv("NO_COLOR");
  return (!no_color || !*no_color) && ::isatty(fd) == 1;
}

StatusLine::StatusLine(bool live) : live_(live) {}

StatusLine::~StatusLine() { clear(); }

void StatusLine::draw(const std::string& text) {
  if (!live_) return;
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const std::string line = "resnet-cli: " + text;
  std::lock_guard<std::mutex> lock(g_terminal_mutex);
  const std::size_t width = visible_width(line);
  std::fprintf(
      stderr, "\r%s%*s", line.c_str(),
      static_cast<int>(g_drawn_width > width ? g_drawn_width - width : 0), "");
  std::fflush(stderr);
  g_drawn_width = width;
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

namespace {

double rate_of(const ProgressState& state) {
  return state.seconds > 0
             ? static_cast<double>(state.ok + state.failed) / state.seconds
             : 0;
}

std::string failed_text(const ProgressState& state, const Colors& colors) {
  if (state.failed == 0) return "0 failed";
  return colors.red() + std::to_string(state.failed) + " failed" +
         colors.reset();
}

std::string counts_text(const ProgressState& state) {
  const std::uint64_t done = state.ok + state.failed;
  char text[96];
  if (state.complete && state.found >= done && state.found > 0) {
    std::snprintf(
        text, sizeof text, "%llu/%llu done (%.0f%%)",
        static_cast<unsigned long long>(done),
        static_cast<unsigned long long>(state.found),
        100.0 * static_cast<double>(done) / static_cast<double>(state.found));
  } else if (state.found > done) {
    std::snprintf(text, sizeof text, "%llu done of %llu found so far",
                  static_cast<unsigned long long>(done),
                  static_cast<unsigned long long>(state.found));
  } else {
    std::snprintf(text, sizeof text, "%llu done",
                  static_cast<unsigned long long>(done));
  }
  return text;
}

}  // namespace

std::string progress_line(const ProgressState& state, const Colors& colors) {
  const double rate = rate_of(state);
  char rate_text[32];
  std::snprintf(rate_text, sizeof rate_text, ", %.1f img/s", rate);
  std::string text = colors.bold() + counts_text(state) + colors.reset() +
                     ", " + failed_text(state, colors) + rate_text;
  const std::uint64_t done = state.ok + state.failed;
  if (state.complete && state.found > done && rate > 0) {
    text += ", ETA " +
            format_duration(static_cast<double>(state.found - done) / rate);
  }
  return text;
}

std::string progress_summary(const ProgressState& state, bool interrupted,
                             const Colors& colors) {
  char numbers[64];
  std::snprintf(numbers, sizeof numbers, ", %.1f s, %.1f img/s", state.seconds,
                rate_of(state));
  return std::string(interrupted ? "interrupted after " : "") +
         count_of(state.ok + state.failed, "input") + ": " + colors.green() +
         std::to_string(state.ok) + " ok" + colors.reset() + ", " +
         failed_text(state, colors) + numbers;
}

RunProgress::RunProgress(ProgressMode mode, bool color, const InputTally* tally)
    : line_(mode == ProgressMode::kAlways ||
            (mode == ProgressMode::kAuto && stderr_is_terminal())),
      colors_(color),
      tally_(tally),
      start_(std::chrono::steady_clock::now()) {}

ProgressState RunProgress::state() const {
  ProgressState state;
  state.ok = ok_;
  state.failed = failed_;
  state.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  if (tally_) {
    // complete first: a count read after it is the total.
    state.complete = tally_->complete;
    state.found = tally_->found;
  }
  return state;
}

void RunProgress::record_done(bool failed) {
  (failed ? failed_ : ok_)++;
  if (line_.live()) line_.draw(progress_line(state(), colors_));
}

void RunProgress::finish(bool interrupted, const std::string& what_next) {
  std::string text = progress_summary(state(), interrupted, colors_);
  if (interrupted && !what_next.empty()) text += "; " + what_next;
  line_.clear();
  if (line_.live() || interrupted) {
    notice(text);
  } else {
    spdlog::info("{}", text);
  }
}

}  // namespace resnet_cli::cli
