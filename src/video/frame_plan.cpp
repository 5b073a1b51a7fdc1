#include "video/frame_plan.h"

#include <algorithm>

namespace resnet_cli {

namespace {

// Skipping fewer frames than this by a seek costs more than decoding them:
// the seek decodes kSeekLead frames and the first one again.
constexpr std::int64_t kSkipWorthIt = 3 * kSeekLead;

}  // namespace

FramePlan plan_frames(const FrameTable& table, const SampleSpec& spec) {
  FramePlan plan;
  FrameSampler sampler(spec);
  const auto count = static_cast<std::int64_t>(table.times_ms.size());
  std::int64_t index = 0;
  bool at_end_option = false;
  for (; index < count; ++index) {
    const double time = table.times_ms[static_cast<std::size_t>(index)];
    const FrameSampler::Verdict verdict =
        sampler.next(index, microseconds_from_ms(time),
                     table.keyframes[static_cast<std::size_t>(index)] != 0);
    if (verdict == FrameSampler::Verdict::kEnd) {
      at_end_option = true;
      plan.end_ms = std::min(time, *spec.end_us / 1000.0);
      break;
    }
    if (verdict == FrameSampler::Verdict::kTake) plan.taken.push_back(index);
  }
  plan.frames_read = index;
  if (!at_end_option && index > 0) {
    const auto& times = table.times_ms;
    const double last = times[static_cast<std::size_t>(index - 1)];
    plan.end_ms =
        last +
        (index > 1 ? last - times[static_cast<std::size_t>(index - 2)] : 0);
  }
  return plan;
}

std::vector<VideoChunk> plan_chunks(const FramePlan& plan,
                                    const std::vector<std::uint8_t>& keyframes,
                                    std::int64_t min_span,
                                    std::size_t max_taken) {
  // Where a chunk may start: 0, and kSeekLead frames after each keyframe.
  std::vector<std::int64_t> starts = {0};
  for (std::size_t i = 1; i < keyframes.size(); ++i) {
    const auto start = static_cast<std::int64_t>(i) + kSeekLead;
    if (keyframes[i] && start < static_cast<std::int64_t>(keyframes.size()) &&
        start > starts.back()) {
      starts.push_back(start);
    }
  }
  std::vector<VideoChunk> chunks;
  std::uint64_t ordinal = 0;
  for (const std::int64_t frame : plan.taken) {
    const std::int64_t start =
        *(std::upper_bound(starts.begin(), starts.end(), frame) - 1);
    const bool begin =
        chunks.empty() || (start > chunks.back().start &&
                           (frame - chunks.back().start >= min_span ||
                            chunks.back().taken.size() >= max_taken ||
                            start - chunks.back().taken.back() > kSkipWorthIt));
    if (begin) {
      VideoChunk chunk;
      chunk.start = start;
      chunk.first_ordinal = ordinal;
      chunks.push_back(std::move(chunk));
    }
    chunks.back().taken.push_back(frame);
    ++ordinal;
  }
  return chunks;
}

}  // namespace resnet_cli
