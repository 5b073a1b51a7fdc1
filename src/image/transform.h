// The parameters of torchvision's ImageClassification transform
// (transforms/_presets.py), and the command line's overrides of them.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "base/enum_names.h"

namespace resnet_cli {

// Pillow's resampling filters, as torchvision's InterpolationMode names them.
enum class Interpolation { kNearest, kBilinear, kBicubic };

template <>
struct EnumNames<Interpolation> {
  static constexpr std::string_view option = "--interpolation";
  static constexpr std::array<EnumName<Interpolation>, 3> names{{
      {"nearest", Interpolation::kNearest},
      {"bilinear", Interpolation::kBilinear},
      {"bicubic", Interpolation::kBicubic},
  }};
};

// ImageClassification(crop_size, resize_size, mean, std, interpolation).
struct TransformSpec {
  int resize_size = 256;  // pixels, short side after resize
  int crop_size = 224;    // pixels, square center crop
  Interpolation interpolation = Interpolation::kBilinear;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // R, G, B
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};   // R, G, B
};

// Command-line overrides of the chosen weights' transforms.
struct TransformOverrides {
  std::optional<int> resize_size;
  std::optional<int> crop_size;
  std::optional<Interpolation> interpolation;
  std::optional<std::array<float, 3>> mean;
  std::optional<std::array<float, 3>> std;
};

// `base` with the overrides applied. Throws Error(kUsage) for a resize
// outside 1..16384, a crop outside 1..4096 or a std of 0.
TransformSpec apply_overrides(const TransformSpec& base,
                              const TransformOverrides& overrides);

}  // namespace resnet_cli
