#include "run/image_step.h"

#include <chrono>
#include <new>

#include "base/error.h"
#include "image/preprocess.h"
#include "run/predictions.h"

namespace resnet_cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void out_of_memory(const InputBytes& input) {
  throw Error(ErrorKind::kTooLarge, input.name + ": out of memory decoding it");
}

RgbImage decode_unmapped(const InputBytes& input, const DecodeOptions& decode) {
  if (input.data) {
    return decode_image_bytes(input.data, input.size, input.name, decode);
  }
  return decode_image_input(input.name, decode);
}

}  // namespace

RgbImage decode_input(const InputBytes& input, const DecodeOptions& decode) {
  try {
    return decode_unmapped(input, decode);
  } catch (const std::bad_alloc&) {
    out_of_memory(input);
  }
}

RgbImage crop_input(const InputBytes& input, const DecodeOptions& decode,
                    const TransformSpec& transform, const CropPolicy* policy,
                    StepTimes* times, RgbImage* decoded) {
  try {
    const auto start = Clock::now();
    RgbImage image = decode_unmapped(input, decode);
    const auto decoded_at = Clock::now();
    std::optional<RgbImage> chosen;
    if (policy) chosen = policy->crop(image, transform);
    RgbImage crop =
        chosen ? std::move(*chosen) : resize_center_crop(image, transform);
    if (policy) policy->finish(crop);
    if (times) {
      times->decode_seconds +=
          std::chrono::duration<double>(decoded_at - start).count();
      times->preprocess_seconds += seconds_since(decoded_at);
    }
    if (decoded) *decoded = std::move(image);
    return crop;
  } catch (const std::bad_alloc&) {
    out_of_memory(input);
  }
}

RgbImage crop_frame(const RgbImage& frame, const TransformSpec& transform,
                    StepTimes* times) {
  const auto start = Clock::now();
  RgbImage crop = resize_center_crop(frame, transform);
  if (times) times->preprocess_seconds += seconds_since(start);
  return crop;
}

void prepare_frame(const RgbImage& frame, const TransformSpec& transform,
                   float* chw, StepTimes* times) {
  const RgbImage crop = crop_frame(frame, transform, times);
  const auto start = Clock::now();
  crop_to_model_input(crop, transform, chw);
  if (times) times->preprocess_seconds += seconds_since(start);
}

void crop_to_model_input(const RgbImage& crop, const TransformSpec& transform,
                         float* chw) {
  normalize_to_chw(crop, transform, chw);
}

void prepare_input(const InputBytes& input, const DecodeOptions& decode,
                   const TransformSpec& transform, float* chw,
                   const CropPolicy* policy, StepTimes* times,
                   RgbImage* decoded) {
  const RgbImage crop =
      crop_input(input, decode, transform, policy, times, decoded);
  const auto start = Clock::now();
  crop_to_model_input(crop, transform, chw);
  if (times) times->preprocess_seconds += seconds_since(start);
}

void fill_record(Record& record, const float* row, std::int64_t size,
                 const OutputSpec& spec) {
  if (spec.output_type == OutputType::kEmbedding) {
    record.embedding.assign(row, row + size);
    return;
  }
  static const std::vector<std::string> kNoLabels;
  record.predictions = top_predictions(row, size, spec.topk, spec.output_type,
                                       spec.labels ? *spec.labels : kNoLabels);
}

}  // namespace resnet_cli
