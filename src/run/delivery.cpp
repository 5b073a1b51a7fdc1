#include "run/delivery.h"

namespace resnet_cli::detail {

void Delivery::take(Completion&& completion) {
  if (!ordered_) {
    take_unordered(std::move(completion));
    return;
  }
  // A frame after its video's end: read past a failure by a later chunk.
  if (completion.sequence < next_input_) return;
  waiting_.emplace(std::make_pair(completion.sequence, completion.sub),
                   std::move(completion));
  for (auto next = waiting_.find({next_input_, next_sub_});
       next != waiting_.end(); next = waiting_.find({next_input_, next_sub_})) {
    Completion ready = std::move(next->second);
    waiting_.erase(next);
    const bool closes = hand_over(std::move(ready));
    next_sub_ = closes ? 0 : next_sub_ + 1;
    if (closes) ++next_input_;
  }
}

void Delivery::take_unordered(Completion&& completion) {
  const std::uint64_t sequence = completion.sequence;
  if (completion.kind == Completion::kVideoEnd &&
      state(sequence).frames_delivered < completion.produced) {
    state(sequence).parked_end = std::move(completion);
    return;
  }
  const bool frame = completion.record.frame.has_value();
  hand_over(std::move(completion));
  if (!frame) return;
  VideoState& video = state(sequence);
  if (video.parked_end &&
      video.frames_delivered == video.parked_end->produced) {
    Completion end = std::move(*video.parked_end);
    hand_over(std::move(end));
  }
}

Delivery::VideoState& Delivery::state(std::uint64_t sequence) {
  auto found = videos_.find(sequence);
  if (found == videos_.end()) {
    found = videos_.emplace(sequence, VideoState(output_, summary_)).first;
  }
  return found->second;
}

bool Delivery::hand_over(Completion&& completion) {
  const std::uint64_t sequence = completion.sequence;
  Record record;
  if (completion.kind == Completion::kVideoEnd) {
    VideoState& video = state(sequence);
    const VideoEnd& end = completion.video_end;
    if (end.error) {
      record.path = completion.record.path;
      record.error = end.error;
      record.video_error = true;
    } else {
      record = video.summarizer.finish(completion.record.path, end.end);
    }
    videos_.erase(sequence);
    windows_.close(sequence);
    waiting_.erase(waiting_.lower_bound({sequence, 0}),
                   waiting_.lower_bound({sequence + 1, 0}));
    if (!end.interrupted) send(std::move(record), true);
    close_input();
    return true;
  }
  if (completion.record.frame) {
    VideoState& video = state(sequence);
    video.summarizer.add(
        completion.record.frame->time,
        completion.logits.empty() ? nullptr : completion.logits.data(),
        static_cast<std::int64_t>(completion.logits.size()));
    ++video.frames_delivered;
    ++stats_.frames;
    send(std::move(completion.record), false);
    windows_.release(sequence);
    return false;
  }
  send(std::move(completion.record), true);
  close_input();
  return true;
}

void Delivery::send(Record&& record, bool closing) {
  if (closing) (record.error ? stats_.failed : stats_.ok)++;
  const auto start = Clock::now();
  deliver_(std::move(record));
  clock_.add(Clock::now() - start);
}

void Delivery::close_input() {
  ++inputs_delivered_;
  slots_.release();
}

}  // namespace resnet_cli::detail
