// preprocess: one image's model input (and crop) exactly as torchvision
// computes it, for comparison with Python.
#include <vector>

#include "commands.h"
#include "image/decode.h"
#include "image/npy.h"
#include "image/preprocess.h"
#include "weights/registry.h"

namespace resnet_cli::cli {

ExitCode run_preprocess(const PreprocessSettings& settings) {
  const WeightsInfo& weights = find_weights(settings.weights, settings.arch);
  const TransformSpec spec =
      apply_overrides(weights.transforms, settings.transform);
  const RgbImage image = decode_image_input(settings.input, settings.decode);
  const RgbImage crop = resize_center_crop(image, spec);
  if (!settings.npy_output.empty()) {
    std::vector<float> chw(3 * static_cast<std::size_t>(crop.width) *
                           crop.height);
    normalize_to_chw(crop, spec, chw.data());
    write_npy_float32(settings.npy_output, {1, 3, crop.height, crop.width},
                      chw.data());
  }
  if (!settings.png_output.empty()) write_png(crop, settings.png_output);
  return kExitOk;
}

}  // namespace resnet_cli::cli
