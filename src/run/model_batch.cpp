#include "run/model_batch.h"

#include <cstdint>
#include <cstring>

namespace resnet_cli {

namespace {

std::size_t feature_map_floats(const Model& model, int crop) {
  const auto side = static_cast<std::size_t>(feature_map_side(crop));
  return static_cast<std::size_t>(model.feature_size()) * side * side;
}

}  // namespace

std::size_t model_output_size(const Model& model, BatchOutput output,
                              int crop) {
  switch (output) {
    case BatchOutput::kFeatures:
      return static_cast<std::size_t>(model.feature_size());
    case BatchOutput::kLogitsAndMaps:
      return static_cast<std::size_t>(model.num_classes()) +
             feature_map_floats(model, crop);
    case BatchOutput::kLogits:
      break;
  }
  return static_cast<std::size_t>(model.num_classes());
}

void run_model_batch(const Model& model,
                     const std::vector<const float*>& images, int crop,
                     BatchOutput output, BatchScratch& scratch,
                     float* output_rows) {
  if (images.empty()) return;
  const std::size_t image_floats = 3 * static_cast<std::size_t>(crop) * crop;
  const float* input = images.front();
  if (images.size() > 1) {
    scratch.input.resize(image_floats * images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
      std::memcpy(scratch.input.data() + i * image_floats, images[i],
                  image_floats * sizeof(float));
    }
    input = scratch.input.data();
  }
  const auto count = static_cast<std::int64_t>(images.size());
  switch (output) {
    case BatchOutput::kFeatures:
      model.features(input, count, crop, crop, output_rows);
      return;
    case BatchOutput::kLogits:
      model.forward(input, count, crop, crop, output_rows);
      return;
    case BatchOutput::kLogitsAndMaps:
      break;
  }
  // The model writes all logits, then all maps: each image's row is its
  // logits followed by its maps.
  const auto classes = static_cast<std::size_t>(model.num_classes());
  const std::size_t maps = feature_map_floats(model, crop);
  scratch.outputs.resize(images.size() * (classes + maps));
  float* logits = scratch.outputs.data();
  float* feature_maps = logits + images.size() * classes;
  model.forward_with_feature_maps(input, count, crop, crop, logits,
                                  feature_maps);
  for (std::size_t i = 0; i < images.size(); ++i) {
    float* row = output_rows + i * (classes + maps);
    std::memcpy(row, logits + i * classes, classes * sizeof(float));
    std::memcpy(row + classes, feature_maps + i * maps, maps * sizeof(float));
  }
}

}  // namespace resnet_cli
