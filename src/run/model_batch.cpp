#include "run/model_batch.h"

#include <cstdint>
#include <cstring>

namespace resnet_cli {

std::size_t model_output_size(const Model& model, bool features) {
  return static_cast<std::size_t>(features ? model.feature_size()
                                           : model.num_classes());
}

void run_model_batch(const Model& model,
                     const std::vector<const float*>& images, int crop,
                     bool features, std::vector<float>& scratch,
                     float* output) {
  if (images.empty()) return;
  const std::size_t image_floats = 3 * static_cast<std::size_t>(crop) * crop;
  const float* input = images.front();
  if (images.size() > 1) {
    scratch.resize(image_floats * images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
      std::memcpy(scratch.data() + i * image_floats, images[i],
                  image_floats * sizeof(float));
    }
    input = scratch.data();
  }
  const auto count = static_cast<std::int64_t>(images.size());
  if (features) {
    model.features(input, count, crop, crop, output);
  } else {
    model.forward(input, count, crop, crop, output);
  }
}

}  // namespace resnet_cli
