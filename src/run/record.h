// One input's result: its predictions or embedding when it worked, its error
// when it did not. Every input ends with exactly one record: a photo's, or a
// video's closing record (its summary, or its error), which follows the
// records of the video's sampled frames.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "base/error.h"

namespace resnet_cli {

// What a record carries for an image that worked.
enum class OutputType { kProbability, kLogit, kEmbedding };

template <>
struct EnumNames<OutputType> {
  static constexpr std::string_view option = "--output-type";
  static constexpr std::array<EnumName<OutputType>, 3> names{{
      {"prob", OutputType::kProbability},
      {"logit", OutputType::kLogit},
      {"embedding", OutputType::kEmbedding},
  }};
};

struct Prediction {
  int rank = 0;            // 1 = best
  std::int64_t index = 0;  // class index in the model's output
  std::string label;
  double score = 0;  // probability (softmax) or logit
};

// A rectangle of whole pixels of the input image (after EXIF orientation
// when --exif apply): columns left..right - 1, rows top..bottom - 1.
struct PixelBox {
  int left = 0;
  int top = 0;
  int right = 0;
  int bottom = 0;
};

// One class's activation map (explain).
struct ClassMap {
  int rank = 0;            // the class's rank among the predictions, 1 = best
  std::int64_t index = 0;  // class index in the model's output
  std::string label;
  // layer4's grid, rows x columns (7 x 7 for a 224 crop), row-major: the
  // map normalised as pytorch-grad-cam normalises Grad-CAM (ReLU, minus its
  // minimum, divided by its maximum + 1e-7), so in 0..1.
  int rows = 0;
  int columns = 0;
  std::vector<float> grid;
  // The cells above half the grid's maximum, bounded, in the input's pixels;
  // none when the map is zero everywhere.
  std::optional<PixelBox> box;
  std::string overlay;  // --explain-dir: the PNG written; empty: none
};

// Where in the image the answer comes from: a map per explained class.
struct Explanation {
  int image_width = 0;  // the input's pixels the boxes are in
  int image_height = 0;
  bool exif_applied = false;  // those pixels turned by EXIF (--exif apply)
  // The part of the input the center crop kept (the resize undone, clipped
  // to the image); the model never saw what lies outside it.
  PixelBox crop;
  std::vector<ClassMap> maps;  // best class first
};

struct RecordError {
  ErrorKind kind = ErrorKind::kDecode;
  std::string message;  // one line naming the input
};

// A sampled frame of a video (its record's path is the video's).
struct FrameInfo {
  std::int64_t index = 0;  // frames from the video's first, 0-based
  double time = 0;         // seconds, the frame's presentation time
};

// From `start` to `end`, seconds.
struct TimeRange {
  double start = 0;
  double end = 0;
};

// A video's closing record. With --video-summary its predictions are the
// top-k of the mean of the sampled frames' softmax probabilities, and
// `leads[i]` the time ranges where predictions[i]'s class is the frames' top
// class (each frame standing for the time until the next sampled frame, the
// last one until `end`).
struct VideoSummary {
  std::int64_t frames = 0;  // frames classified (sampled)
  double start = 0;         // seconds: the first classified frame's time
  double end = 0;           // seconds: where the last frame read ends
  bool summary = false;     // --video-summary: predictions and leads
  std::vector<std::vector<TimeRange>> leads;
};

struct Record {
  std::string path;  // as the user gave it ("-" for stdin), any bytes
  std::vector<Prediction> predictions;
  std::vector<float> embedding;            // --output-type embedding
  std::optional<Explanation> explanation;  // --explain
  std::optional<RecordError> error;
  std::optional<FrameInfo> frame;     // a video's frame
  std::optional<VideoSummary> video;  // a video's closing record
  bool video_error = false;           // `error` closes a video
};

// Whether a record is the last one of its input (not a video's frame).
inline bool closes_input(const Record& record) { return !record.frame; }

}  // namespace resnet_cli
