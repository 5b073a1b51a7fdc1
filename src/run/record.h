// One input's result: its predictions or embedding when it worked, its error
// when it did not. Every input gives exactly one record.
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

struct Record {
  std::string path;  // as the user gave it ("-" for stdin), any bytes
  std::vector<Prediction> predictions;
  std::vector<float> embedding;            // --output-type embedding
  std::optional<Explanation> explanation;  // --explain
  std::optional<RecordError> error;
};

}  // namespace resnet_cli
