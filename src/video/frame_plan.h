// Planning a video file's reading from its frame table (video_reader.h):
// which frames --every, --start and --end take, and how the reading splits
// into chunks that threads decode side by side, each from a keyframe, so
// that one video uses every core and the frames between --start and the
// first taken frame, or across a long gap, are not decoded at all.
#pragma once

#include <cstdint>
#include <vector>

#include "video/sampling.h"
#include "video/video_reader.h"

namespace resnet_cli {

struct FramePlan {
  std::vector<std::int64_t> taken;  // frame indices to classify, ascending
  std::int64_t frames_read = 0;     // frames before --end (all otherwise)
  double end_ms = 0;  // where the last of them ends: its time plus the
                      // interval before it, or --end
};

// The sampler (sampling.h) run over the table's times and keyframes, as it
// runs over the frames of a sequential read.
FramePlan plan_frames(const FrameTable& table, const SampleSpec& spec);

// OpenCV's seek (VideoReader::seek_frame) decodes from a keyframe up to
// about `frame` - 1 itself; a chunk starts that many frames after its
// keyframe, where the next grab() lands.
constexpr std::int64_t kSeekLead = 16;

struct VideoChunk {
  std::int64_t start = 0;  // the first frame it decodes: 0 (read from the
                           // start, no seek) or a keyframe + kSeekLead
  std::vector<std::int64_t> taken;  // its frames to classify, ascending
  std::uint64_t first_ordinal = 0;  // the place of taken[0] among all taken
};

// Chunks over `plan.taken`, in order. A chunk ends where the next begins;
// a new one begins at a keyframe boundary once the current one spans
// `min_span` frames or takes `max_taken`, or where seeking skips more
// frames than it costs.
std::vector<VideoChunk> plan_chunks(const FramePlan& plan,
                                    const std::vector<std::uint8_t>& keyframes,
                                    std::int64_t min_span,
                                    std::size_t max_taken);

}  // namespace resnet_cli
