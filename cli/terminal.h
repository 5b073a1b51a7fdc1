// stderr as a person sees it: the one progress renderer of resnet-cli (a live
// line redrawn in place on a terminal), log messages that never tear it, and
// notices ("resnet-cli: downloaded ...") that are not warnings.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "resnet_cli/download.h"
#include "resnet_cli/enum_names.h"
#include "resnet_cli/pipeline.h"

namespace resnet_cli::cli {

enum class ProgressMode { kAuto, kAlways, kNever };

}  // namespace resnet_cli::cli

namespace resnet_cli {
template <>
struct EnumNames<cli::ProgressMode> {
  static constexpr std::string_view option = "--progress";
  static constexpr std::array<EnumName<cli::ProgressMode>, 3> names{{
      {"auto", cli::ProgressMode::kAuto},
      {"always", cli::ProgressMode::kAlways},
      {"never", cli::ProgressMode::kNever},
  }};
};
}  // namespace resnet_cli

namespace resnet_cli::cli {

// Sets up spdlog's default logger on stderr ("resnet-cli: warning: ...") at
// the level -q/-v give (-1 errors only, 0 warnings, 1 info, 2 debug), such
// that every message first clears a live progress line.
void setup_logging(int verbosity);

// Whether stderr is a terminal.
bool stderr_is_terminal();

// One line of progress at the bottom of stderr. Live (redrawn in place) only
// when enabled and stderr is a terminal; draws at most every 100 ms.
class StatusLine {
 public:
  explicit StatusLine(bool live);
  ~StatusLine();
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  bool live() const { return live_; }
  // Redraws the line, at most every 100 ms.
  void draw(const std::string& text);
  // Removes the line, so that what follows starts on a clean one.
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool live_;
  Clock::time_point last_draw_{};
};

// "resnet-cli: TEXT" on stderr, clearing a live line first; shown unless -q.
void notice(const std::string& text);

// Renders a download (DownloadOptions::progress): bytes, percent, rate and
// ETA on a live line when stderr is a terminal, then the summary as a
// notice. `show` false (-q): nothing.
std::function<void(const DownloadProgress&)> download_progress_renderer(
    bool show);

// Renders a classify run: done/total, failures and rate on a live line
// while it runs, then a summary (a notice where progress shows, else an
// info log line).
class RunProgress {
 public:
  explicit RunProgress(ProgressMode mode);
  // One record delivered.
  void record_done(bool failed);
  void finish(bool interrupted);

 private:
  double rate() const;
  StatusLine line_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t ok_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace resnet_cli::cli
