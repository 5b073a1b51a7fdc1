#include "image/transform.h"

#include "base/error.h"

namespace resnet_cli {

TransformSpec apply_overrides(const TransformSpec& base,
                              const TransformOverrides& overrides) {
  TransformSpec spec = base;
  if (overrides.resize_size) spec.resize_size = *overrides.resize_size;
  if (overrides.crop_size) spec.crop_size = *overrides.crop_size;
  if (overrides.interpolation) spec.interpolation = *overrides.interpolation;
  if (overrides.mean) spec.mean = *overrides.mean;
  if (overrides.std) spec.std = *overrides.std;
  if (spec.resize_size < 1 || spec.resize_size > 16384) {
    throw Error(ErrorKind::kUsage, "--resize must be between 1 and 16384");
  }
  if (spec.crop_size < 1 || spec.crop_size > 4096) {
    throw Error(ErrorKind::kUsage, "--crop must be between 1 and 4096");
  }
  for (float value : spec.std) {
    if (!(value != 0.0f)) {
      throw Error(ErrorKind::kUsage, "--std values must not be 0");
    }
  }
  return spec;
}

}  // namespace resnet_cli
