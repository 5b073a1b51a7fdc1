// torchvision's ResNet50 layout: parameter names and shapes, and the strict
// check of a checkpoint against them (load_state_dict(strict=True)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace resnet_cli {

class Checkpoint;

struct ParameterSpec {
  std::string
      name;  // torchvision's state_dict key, e.g. "layer1.0.conv1.weight"
  std::vector<std::int64_t> shape;
  bool trainable = true;  // false for BatchNorm running statistics
  // BatchNorm's num_batches_tracked: absent from checkpoints saved before
  // PyTorch 0.4.1, which load_state_dict also accepts; unused in inference.
  bool optional = false;
};

constexpr std::int64_t kResNet50FeatureDim = 2048;
// Bottleneck blocks per stage.
constexpr int kResNet50Blocks[4] = {3, 4, 6, 3};

// Every state_dict entry of torchvision.models.resnet50(num_classes=N), in
// module order.
std::vector<ParameterSpec> resnet50_parameter_specs(std::int64_t num_classes);

// Number of trainable parameters (25,557,032 for 1000 classes).
std::int64_t resnet50_num_params(std::int64_t num_classes);

// The class count from fc.weight ([N, 2048]). Throws Error(kCheckpoint) when
// fc.weight is missing or has another shape.
std::int64_t checkpoint_num_classes(const Checkpoint& checkpoint);

// Throws Error(kCheckpoint) listing the first missing keys, unexpected keys
// and shape mismatches, with a guess at the architecture the file holds
// (ResNet18/34/101/152) where the keys tell.
void check_resnet50_state_dict(const Checkpoint& checkpoint);

}  // namespace resnet_cli
