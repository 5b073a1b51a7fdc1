#include "run/video_summary.h"

#include <algorithm>

#include "run/predictions.h"

namespace resnet_cli {

void VideoSummarizer::add(double time, const float* logits,
                          std::int64_t classes) {
  // Records delivered as they finish (--unordered) may come out of order.
  const auto at = std::upper_bound(times_.begin(), times_.end(), time);
  const auto place = at - times_.begin();
  times_.insert(at, time);
  if (!summary_ || !logits) return;
  const std::vector<double> probabilities = softmax(logits, classes);
  if (sums_.empty()) sums_.assign(probabilities.size(), 0.0);
  for (std::size_t i = 0; i < sums_.size() && i < probabilities.size(); ++i) {
    sums_[i] += probabilities[i];
  }
  top_.insert(top_.begin() + place, top_class(logits, classes));
}

Record VideoSummarizer::finish(const std::string& path, double end) const {
  Record record;
  record.path = path;
  VideoSummary video;
  video.frames = static_cast<std::int64_t>(times_.size());
  video.start = times_.empty() ? end : times_.front();
  video.end = std::max(end, video.start);
  video.summary = summary_ && !sums_.empty();
  if (video.summary) {
    std::vector<double> mean = sums_;
    for (double& value : mean) value /= static_cast<double>(top_.size());
    static const std::vector<std::string> kNoLabels;
    record.predictions =
        top_scores(mean, spec_.topk, spec_.labels ? *spec_.labels : kNoLabels);
    // Each frame stands for the time until the next one; the last until the
    // end of what was read.
    for (const Prediction& prediction : record.predictions) {
      std::vector<TimeRange> ranges;
      for (std::size_t i = 0; i < top_.size(); ++i) {
        if (top_[i] != prediction.index) continue;
        const double until = i + 1 < times_.size() ? times_[i + 1] : video.end;
        if (!ranges.empty() && ranges.back().end == times_[i]) {
          ranges.back().end = until;
        } else {
          ranges.push_back({times_[i], until});
        }
      }
      video.leads.push_back(std::move(ranges));
    }
  }
  record.video = std::move(video);
  return record;
}

}  // namespace resnet_cli
