// torchvision's ImageClassification transform, reproduced bit for bit.
//
// weights.transforms() on a PIL image does: resize the short side to
// resize_size with Pillow's resampler (antialiased), center crop crop_size
// (zero padding where the image is smaller), /255, normalize with mean/std.
// The resampler here is Pillow's fixed-point algorithm (Resample.c) on 8-bit
// RGB, so the uint8 crop equals PIL's exactly; only the pixels that survive
// the crop are computed.
#pragma once

#include "image/rgb_image.h"
#include "image/transform.h"

namespace resnet_cli {

// Where torchvision's resize + center_crop put things, in pixels.
struct CropGeometry {
  int resized_width = 0;  // after resize(short side = resize_size)
  int resized_height = 0;
  int crop_size = 0;
  // Top-left corner of the crop in resized-image coordinates; negative (or
  // past the far edge) where center_crop pads with zeros.
  int crop_left = 0;
  int crop_top = 0;
};

// torchvision's _compute_resized_output_size (long side truncated) and
// center_crop offsets (Python round, half to even, after padding).
CropGeometry plan_resize_crop(int width, int height, int resize_size,
                              int crop_size);

// Pillow's Image.resize(size, filter) on the whole image. Mostly for tests;
// the transform uses resize_center_crop.
RgbImage pil_resize(const RgbImage& image, int out_width, int out_height,
                    Interpolation interpolation);

// transforms.Resize(resize_size) then transforms.CenterCrop(crop_size), as
// torchvision does them on a PIL image; returns crop_size x crop_size.
RgbImage resize_center_crop(const RgbImage& image, const TransformSpec& spec);

// pil_to_tensor, convert_image_dtype(float) and normalize, in float32 as
// torch computes them: ((v / 255) - mean[c]) / std[c]. Writes 3 planes (R, G,
// B), each crop.height x crop.width, to `chw`.
void normalize_to_chw(const RgbImage& crop, const TransformSpec& spec,
                      float* chw);

// The whole transform: resize_center_crop then normalize_to_chw. `chw` holds
// 3 * crop_size * crop_size floats.
void preprocess(const RgbImage& image, const TransformSpec& spec, float* chw);

}  // namespace resnet_cli
