#include "video/sampling.h"

#include <cmath>
#include <limits>
#include <string>

#include "base/error.h"
#include "base/text.h"

namespace resnet_cli {

namespace {

// floor(a / b) for b > 0, in whole numbers (C++'s / truncates to zero).
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t quotient = a / b;
  return (a % b != 0 && a < 0) ? quotient - 1 : quotient;
}

// A non-negative decimal number ("12", "0.5"); nullopt for anything else.
std::optional<double> decimal(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  bool digits = false;
  bool point = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !point) {
      point = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digits) return std::nullopt;
  return std::stod(std::string(text));
}

std::optional<std::int64_t> to_microseconds(std::optional<double> seconds) {
  // A week of video is far more than anyone samples; beyond it, a typo.
  if (!seconds || *seconds > 7 * 24 * 3600.0) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(*seconds * 1e6));
}

}  // namespace

SampleSpec parse_every(std::string_view text) {
  const std::string lower = detail::ascii_lower(text);
  const std::string_view value(lower);
  SampleSpec spec;
  const auto fail = [&]() -> SampleSpec {
    throw Error(ErrorKind::kUsage,
                "--every '" + std::string(text) +
                    "': expected a time such as 1s, 0.5s or 250ms, a frame "
                    "count such as 10f, or keyframe");
  };
  if (value == "keyframe" || value == "keyframes") {
    spec.mode = SampleMode::kKeyframes;
    return spec;
  }
  if (value.size() > 1 && value.back() == 'f') {
    const std::optional<double> count =
        decimal(value.substr(0, value.size() - 1));
    if (!count || *count < 1 || *count != std::floor(*count) || *count > 1e9) {
      return fail();
    }
    spec.mode = SampleMode::kFrames;
    spec.interval_frames = static_cast<std::int64_t>(*count);
    return spec;
  }
  std::optional<double> seconds;
  if (value.size() > 2 && value.substr(value.size() - 2) == "ms") {
    seconds = decimal(value.substr(0, value.size() - 2));
    if (seconds) *seconds /= 1000;
  } else if (value.size() > 1 && value.back() == 's') {
    seconds = decimal(value.substr(0, value.size() - 1));
  }
  const std::optional<std::int64_t> interval = to_microseconds(seconds);
  if (!interval || *interval <= 0) return fail();
  spec.mode = SampleMode::kTime;
  spec.interval_us = *interval;
  return spec;
}

std::int64_t parse_video_time(std::string_view text, std::string_view option) {
  std::string_view rest = text;
  if (!rest.empty() && (rest.back() == 's' || rest.back() == 'S')) {
    rest.remove_suffix(1);
  }
  // [HH:]MM:SS[.fff]: up to two whole fields before the seconds.
  double seconds = 0;
  bool ok = true;
  int fields = 0;
  for (std::size_t colon;
       ok && (colon = rest.find(':')) != std::string_view::npos;) {
    const std::optional<double> field = decimal(rest.substr(0, colon));
    ok = field && *field == std::floor(*field) && ++fields <= 2;
    if (ok) seconds = seconds * 60 + *field;
    rest.remove_prefix(colon + 1);
  }
  const std::optional<double> last = decimal(rest);
  ok = ok && last && (fields == 0 || *last < 60);
  const std::optional<std::int64_t> total =
      ok ? to_microseconds(seconds * 60 + *last) : std::nullopt;
  if (!total) {
    throw Error(ErrorKind::kUsage,
                std::string(option) + " '" + std::string(text) +
                    "': expected seconds (12.5) or [HH:]MM:SS[.fff]");
  }
  return *total;
}

std::int64_t microseconds_from_ms(double milliseconds) {
  if (!std::isfinite(milliseconds)) return 0;
  return static_cast<std::int64_t>(std::llround(milliseconds * 1000));
}

FrameSampler::Verdict FrameSampler::next(std::int64_t index,
                                         std::int64_t time_us, bool keyframe) {
  if (spec_.end_us && time_us >= *spec_.end_us) return Verdict::kEnd;
  if (spec_.start_us && time_us < *spec_.start_us) return Verdict::kSkip;
  if (!started_) {
    started_ = true;
    anchor_us_ = spec_.start_us.value_or(time_us);
    first_index_ = index;
    last_bucket_ = floor_div(time_us - anchor_us_, spec_.interval_us);
    if (spec_.mode == SampleMode::kKeyframes && !keyframe) {
      return Verdict::kSkip;
    }
    return Verdict::kTake;
  }
  switch (spec_.mode) {
    case SampleMode::kKeyframes:
      return keyframe ? Verdict::kTake : Verdict::kSkip;
    case SampleMode::kFrames:
      return (index - first_index_) % spec_.interval_frames == 0
                 ? Verdict::kTake
                 : Verdict::kSkip;
    case SampleMode::kTime:
      break;
  }
  const std::int64_t bucket =
      floor_div(time_us - anchor_us_, spec_.interval_us);
  if (bucket <= last_bucket_) return Verdict::kSkip;
  last_bucket_ = bucket;
  return Verdict::kTake;
}

}  // namespace resnet_cli
