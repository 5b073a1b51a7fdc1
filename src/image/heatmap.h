// Heat maps laid over images, for explain's overlays: a small grid of values
// in 0..1 (a class activation map) upsampled bilinearly onto a region of the
// image, coloured by viridis and alpha-blended with the image's pixels.
#pragma once

#include <array>
#include <cstdint>

#include "image/rgb_image.h"

namespace resnet_cli {

// A rectangle in an image's pixel coordinates, by its edges: pixel x covers
// [x, x + 1). It may reach past the image (a crop with padding).
struct ImageRegion {
  double left = 0;
  double top = 0;
  double right = 0;
  double bottom = 0;
};

// A grid of values, row-major, rows x columns, each in 0..1.
struct HeatmapGrid {
  const float* values = nullptr;
  int rows = 0;
  int columns = 0;
};

// matplotlib's viridis (a perceptually uniform colour map, CC0): its 256
// float entries rounded to 8 bits, R, G, B.
const std::array<std::array<std::uint8_t, 3>, 256>& viridis();

// The colour map's entry for `value`: trunc(255 * value), clamped to 0..255
// (as pytorch-grad-cam indexes its colour map, np.uint8(255 * mask)).
int heatmap_index(double value);

// `image` with `grid` laid over `region`, same size, RGB, alpha 0.5
// (pytorch-grad-cam's image_weight):
// - a pixel whose centre (x + 0.5, y + 0.5) lies in the region takes the
//   grid's value there, bilinear between cell centres with half-pixel
//   centres and clamped edges (as torch's interpolate with
//   align_corners=False and cv2.resize upsample): grid coordinate
//   gx = (x + 0.5 - left) * columns / (right - left) - 0.5, clamped to
//   0..columns - 1 (gy likewise), interpolated along the row first, in
//   double; then colour = viridis()[heatmap_index(value)] and
//   out = floor(0.5 * colour + 0.5 * pixel + 0.5);
// - a pixel outside it (what the model never saw) is dimmed:
//   out = floor(0.5 * pixel + 0.5).
RgbImage heatmap_overlay(const RgbImage& image, const HeatmapGrid& grid,
                         const ImageRegion& region);

}  // namespace resnet_cli
