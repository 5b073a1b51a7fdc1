// The per-image step, shared by every command that feeds a model or shows an
// input (classify's pipeline, serve, evaluate, train's feature pass and its
// augmented batches, preprocess, the report's thumbnails): one input's bytes
// to the model's input, and the model's output row to the input's record.
// Every command therefore reads, limits, decodes and maps failures alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/rgb_image.h"
#include "image/transform.h"
#include "run/record.h"

namespace resnet_cli {

// One input: a file (or "-", all of standard input), or bytes already in
// memory (an upload). `name` names it in messages either way.
struct InputBytes {
  std::string name;
  const std::uint8_t* data = nullptr;  // nullptr: read the file `name`
  std::size_t size = 0;                // bytes at `data`
};

// Training's random augmentations (train/) in place of, or after,
// torchvision's resize + center crop.
class CropPolicy {
 public:
  virtual ~CropPolicy() = default;
  // A crop_size x crop_size crop to use instead of resize + center crop;
  // nullopt: that crop.
  virtual std::optional<RgbImage> crop(const RgbImage& image,
                                       const TransformSpec& spec) const = 0;
  // Applied to the crop, whichever made it (a horizontal flip).
  virtual void finish(RgbImage& crop) const = 0;
};

// Seconds each half of the step took, added to what is there.
struct StepTimes {
  double decode_seconds = 0;      // reading and decoding
  double preprocess_seconds = 0;  // resize, crop, normalize
};

// The input decoded as PIL's Image.open(f).convert("RGB") gives it (image/
// decode.h). Throws Error with a per-input kind naming the input; running
// out of memory while decoding it is too_large.
RgbImage decode_input(const InputBytes& input, const DecodeOptions& decode);

// The input decoded and cropped as weights.transforms() crops it (resize
// the short side, center crop), or by `policy`: the uint8 crop,
// crop_size x crop_size, RGB. `decoded`, when given, receives the decoded
// image itself (explain's overlays and geometry). Throws as decode_input.
RgbImage crop_input(const InputBytes& input, const DecodeOptions& decode,
                    const TransformSpec& transform,
                    const CropPolicy* policy = nullptr,
                    StepTimes* times = nullptr, RgbImage* decoded = nullptr);

// A decoded frame of a video (or any image already decoded) cropped as
// crop_input crops a decoded input: resize the short side, center crop.
// Adds the time to times->preprocess_seconds.
RgbImage crop_frame(const RgbImage& frame, const TransformSpec& transform,
                    StepTimes* times = nullptr);

// The second half of the step: a crop from crop_input, /255 and normalized
// into `chw`, 3 planes (R, G, B) of crop_size x crop_size floats.
void crop_to_model_input(const RgbImage& crop, const TransformSpec& transform,
                         float* chw);

// The whole step: crop_input, then crop_to_model_input: the model's input
// for one image. Throws as decode_input.
void prepare_input(const InputBytes& input, const DecodeOptions& decode,
                   const TransformSpec& transform, float* chw,
                   const CropPolicy* policy = nullptr,
                   StepTimes* times = nullptr, RgbImage* decoded = nullptr);

// crop_frame then crop_to_model_input: a decoded frame's model input.
void prepare_frame(const RgbImage& frame, const TransformSpec& transform,
                   float* chw, StepTimes* times = nullptr);

// What a record reports of the model's output for one image.
struct OutputSpec {
  OutputType output_type = OutputType::kProbability;
  int topk = 5;
  const std::vector<std::string>* labels = nullptr;  // shorter: indices
};

// The model's output row for one image (`size` logits, or pooled features
// for OutputType::kEmbedding) into `record`'s predictions or embedding.
void fill_record(Record& record, const float* row, std::int64_t size,
                 const OutputSpec& spec);

}  // namespace resnet_cli
