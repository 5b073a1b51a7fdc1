// A video's closing record (record.h: VideoSummary), built from its sampled
// frames' model outputs in frame order: how many were classified, the time
// they cover, and with --video-summary the top-k of the mean of their softmax
// probabilities and the time ranges where each of those classes is the
// frames' top class.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run/image_step.h"
#include "run/record.h"

namespace resnet_cli {

class VideoSummarizer {
 public:
  // `summary`: compute the mean and the leads (each frame's logits needed).
  VideoSummarizer(const OutputSpec& spec, bool summary)
      : spec_(spec), summary_(summary) {}

  // The next classified frame: its time (seconds) and, with the summary,
  // its `classes` logits.
  void add(double time, const float* logits, std::int64_t classes);

  // The closing record of `path`, whose last frame read ends at `end`
  // seconds.
  Record finish(const std::string& path, double end) const;

 private:
  OutputSpec spec_;
  bool summary_;
  std::vector<double> sums_;       // of the frames' probabilities
  std::vector<double> times_;      // each frame's time
  std::vector<std::int64_t> top_;  // each frame's top class
};

}  // namespace resnet_cli
