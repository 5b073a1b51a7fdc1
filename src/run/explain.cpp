#include "run/explain.h"

#include <algorithm>
#include <cmath>

#include "image/preprocess.h"
#include "run/predictions.h"

namespace resnet_cli {

void class_activation_map(const float* feature_maps, std::int64_t channels,
                          std::int64_t cells, const float* weight, float* out) {
  std::vector<double> sums(static_cast<std::size_t>(cells), 0.0);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double w = weight[c];
    const float* plane = feature_maps + c * cells;
    for (std::int64_t i = 0; i < cells; ++i) {
      sums[static_cast<std::size_t>(i)] += w * plane[i];
    }
  }
  for (std::int64_t i = 0; i < cells; ++i) {
    out[i] = static_cast<float>(sums[static_cast<std::size_t>(i)]);
  }
}

void normalize_activation_map(std::vector<float>& grid) {
  if (grid.empty()) return;
  for (float& value : grid) value = std::max(value, 0.0f);
  const float low = *std::min_element(grid.begin(), grid.end());
  for (float& value : grid) value -= low;
  const double high = *std::max_element(grid.begin(), grid.end());
  for (float& value : grid) {
    value = static_cast<float>(value / (high + 1e-7));
  }
}

ImageRegion crop_region(int image_width, int image_height,
                        const TransformSpec& transform) {
  const CropGeometry g = plan_resize_crop(
      image_width, image_height, transform.resize_size, transform.crop_size);
  // Pillow's resize maps the input's [0, width) onto [0, resized_width)
  // linearly, pixel edges to pixel edges.
  const auto back = [](int resized, int size, int resized_size) {
    return resized * static_cast<double>(size) / resized_size;
  };
  ImageRegion region;
  region.left = back(g.crop_left, image_width, g.resized_width);
  region.right = back(g.crop_left + g.crop_size, image_width, g.resized_width);
  region.top = back(g.crop_top, image_height, g.resized_height);
  region.bottom =
      back(g.crop_top + g.crop_size, image_height, g.resized_height);
  return region;
}

PixelBox pixel_box(const ImageRegion& region, int image_width,
                   int image_height) {
  const auto clip = [](double value, int size) {
    return static_cast<int>(std::clamp(value, 0.0, static_cast<double>(size)));
  };
  PixelBox box;
  box.left = clip(std::floor(region.left), image_width);
  box.top = clip(std::floor(region.top), image_height);
  box.right = clip(std::ceil(region.right), image_width);
  box.bottom = clip(std::ceil(region.bottom), image_height);
  return box;
}

std::optional<PixelBox> half_max_box(const std::vector<float>& grid, int rows,
                                     int columns, const ImageRegion& region,
                                     int image_width, int image_height) {
  if (grid.empty()) return std::nullopt;
  const float high = *std::max_element(grid.begin(), grid.end());
  if (!(high > 0)) return std::nullopt;
  int first_row = rows, last_row = -1, first_column = columns, last_column = -1;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      if (grid[static_cast<std::size_t>(r) * columns + c] > 0.5f * high) {
        first_row = std::min(first_row, r);
        last_row = std::max(last_row, r);
        first_column = std::min(first_column, c);
        last_column = std::max(last_column, c);
      }
    }
  }
  const double width = region.right - region.left;
  const double height = region.bottom - region.top;
  ImageRegion cells;
  cells.left = region.left + first_column * width / columns;
  cells.right = region.left + (last_column + 1) * width / columns;
  cells.top = region.top + first_row * height / rows;
  cells.bottom = region.top + (last_row + 1) * height / rows;
  return pixel_box(cells, image_width, image_height);
}

Explainer::Explainer(const Model& model, const TransformSpec& transform,
                     const DecodeOptions& decode,
                     const std::vector<std::string>& labels, int topk)
    : weight_(model.classifier_weight()),
      classes_(model.num_classes()),
      channels_(model.feature_size()),
      rows_(static_cast<int>(feature_map_side(transform.crop_size))),
      columns_(rows_),
      transform_(transform),
      exif_applied_(decode.apply_exif_orientation),
      labels_(&labels),
      topk_(static_cast<int>(
          std::clamp<std::int64_t>(topk, 1, model.num_classes()))) {}

std::size_t Explainer::row_size() const {
  return static_cast<std::size_t>(classes_ + channels_ * rows_ * columns_);
}

Explanation Explainer::explain(const float* row, int image_width,
                               int image_height) const {
  Explanation explanation;
  explanation.image_width = image_width;
  explanation.image_height = image_height;
  explanation.exif_applied = exif_applied_;
  const ImageRegion region = crop_region(image_width, image_height, transform_);
  explanation.crop = pixel_box(region, image_width, image_height);
  const float* feature_maps = row + classes_;
  const std::int64_t cells = static_cast<std::int64_t>(rows_) * columns_;
  for (const Prediction& prediction :
       top_predictions(row, classes_, topk_, OutputType::kLogit, *labels_)) {
    ClassMap map;
    map.rank = prediction.rank;
    map.index = prediction.index;
    map.label = prediction.label;
    map.rows = rows_;
    map.columns = columns_;
    map.grid.resize(static_cast<std::size_t>(cells));
    class_activation_map(
        feature_maps, channels_, cells,
        weight_.data() + static_cast<std::size_t>(prediction.index * channels_),
        map.grid.data());
    normalize_activation_map(map.grid);
    map.box = half_max_box(map.grid, rows_, columns_, region, image_width,
                           image_height);
    explanation.maps.push_back(std::move(map));
  }
  return explanation;
}

}  // namespace resnet_cli
