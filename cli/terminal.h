// stderr as a person sees it: the one progress renderer of resnet-cli (a live
// line redrawn in place on a terminal), log messages that never tear it, and
// notices ("resnet-cli: downloaded ...") that are not warnings.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/enum_names.h"
#include "run/pipeline.h"
#include "weights/download.h"

namespace resnet_cli::cli {

enum class ProgressMode { kAuto, kAlways, kNever };
// --color: ANSI colour in the text table and on the progress line.
enum class ColorMode { kAuto, kAlways, kNever };

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
template <>
struct EnumNames<cli::ColorMode> {
  static constexpr std::string_view option = "--color";
  static constexpr std::array<EnumName<cli::ColorMode>, 3> names{{
      {"auto", cli::ColorMode::kAuto},
      {"always", cli::ColorMode::kAlways},
      {"never", cli::ColorMode::kNever},
  }};
};
}  // namespace resnet_cli

namespace resnet_cli::cli {

// Whether to write colour to file descriptor `fd`: always or never as said;
// auto when it is a terminal and NO_COLOR (no-color.org) is unset or empty.
bool use_color(ColorMode mode, int fd);

// ANSI SGR sequences, or "" when colour is off.
struct Colors {
  explicit Colors(bool on) : on_(on) {}
  const char* bold() const { return on_ ? "\x1b[1m" : ""; }
  const char* red() const { return on_ ? "\x1b[31m" : ""; }
  const char* green() const { return on_ ? "\x1b[32m" : ""; }
  const char* reset() const { return on_ ? "\x1b[0m" : ""; }

 private:
  bool on_;
};

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

// How many inputs a run has, as a scan counting them ahead of the run finds
// them (written by that scan's thread, read by the progress line).
struct InputTally {
  std::atomic<std::uint64_t> found{0};
  std::atomic<bool> complete{false};  // `found` is the total
};

// Where a run stands, for its progress line and summary.
struct ProgressState {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  double seconds = 0;       // since the run started
  std::uint64_t found = 0;  // inputs counted ahead of the run so far
  bool complete = false;    // `found` is the total
};

// "12 done of 340 found so far, 0 failed, 3.1 img/s" while the count runs;
// "12/340 done (4%), 0 failed, 3.1 img/s, ETA 1:45" once it is complete;
// "12 done, ..." with no count. Failures red, counts bold with colour.
std::string progress_line(const ProgressState& state, const Colors& colors);
// "340 inputs: 338 ok, 2 failed, 88.1 s, 3.9 img/s" ("interrupted after"
// first when it was).
std::string progress_summary(const ProgressState& state, bool interrupted,
                             const Colors& colors);

// Renders a classify run: progress_line on a live line while it runs, then
// progress_summary (a notice where progress shows, else an info log line).
// `tally` (may be null) is read for the count ahead of the run.
class RunProgress {
 public:
  RunProgress(ProgressMode mode, bool color, const InputTally* tally);
  bool live() const { return line_.live(); }
  // One record delivered.
  void record_done(bool failed);
  // The summary; an interrupted run's, with `what_next` after it (what was
  // written, how to continue), is a notice whether progress shows or not.
  void finish(bool interrupted, const std::string& what_next = {});

 private:
  ProgressState state() const;
  StatusLine line_;
  Colors colors_;
  const InputTally* tally_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t ok_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace resnet_cli::cli
