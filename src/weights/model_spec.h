// torchvision's ResNet family (torchvision/models/resnet.py): the ten
// architectures its one ResNet class builds, their parameter names and
// shapes, which of them a checkpoint holds (read from its keys and shapes),
// and the strict check of a checkpoint against one of them
// (load_state_dict(strict=True)).
//
// Every failure to match throws Error(kCheckpoint) with the file name, what
// the file looks like and what differs; an unknown architecture name throws
// Error(kUsage). Nothing here needs LibTorch.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
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

// torchvision's two residual blocks: BasicBlock (two 3x3 convolutions,
// expansion 1, stride on the first) and Bottleneck (1x1, grouped 3x3, 1x1,
// expansion 4, stride on the 3x3: "ResNet v1.5").
enum class BlockType { kBasicBlock, kBottleneck };

// "BasicBlock" or "Bottleneck", as torchvision names the classes.
std::string_view block_type_name(BlockType block);

// One member of the family: ResNet(block, layers, groups=...,
// width_per_group=...), with 1000 classes unless the checkpoint says
// otherwise.
struct ArchSpec {
  // torchvision's builder, which --arch takes: "resnext50_32x4d".
  std::string_view name;
  // Its weights enum without "_Weights", which messages use: "ResNeXt50_32X4D".
  std::string_view display_name;
  BlockType block = BlockType::kBottleneck;
  std::array<int, 4> layers{};  // blocks per stage (layer1..layer4)
  int groups = 1;               // of every 3x3 convolution in a Bottleneck
  int width_per_group = 64;     // 64 << stage is the plain ResNet's width

  // 1 for BasicBlock, 4 for Bottleneck.
  std::int64_t expansion() const;
  // Channels of the pooled features that feed fc: 512 for BasicBlock
  // (ResNet18/34), 2048 for Bottleneck.
  std::int64_t feature_size() const;
  // Channels inside stage `stage`'s (0..3) blocks: its 3x3 convolutions'
  // output, int(planes * width_per_group / 64) * groups for Bottleneck
  // (planes = 64 << stage), planes for BasicBlock.
  std::int64_t width(int stage) const;
  // Whether block `index` of stage `stage` has a downsample branch (a strided
  // or channel-changing first block).
  bool has_downsample(int stage, int index) const;
};

// The ten in torchvision's order: resnet18, resnet34, resnet50, resnet101,
// resnet152, resnext50_32x4d, resnext101_32x8d, resnext101_64x4d,
// wide_resnet50_2, wide_resnet101_2.
const std::vector<ArchSpec>& all_architectures();

// By builder or display name, any case ("resnet18", "ResNeXt50_32X4D");
// nullptr when none is called that.
const ArchSpec* find_architecture(std::string_view name);

// Like find_architecture, but throws Error(kUsage) naming the known ones.
const ArchSpec& architecture(std::string_view name);

// ResNet50, what resnet-cli loaded before the family.
const ArchSpec& resnet50_architecture();

// Every state_dict entry of `arch` with `num_classes` classes, in module
// order.
std::vector<ParameterSpec> parameter_specs(const ArchSpec& arch,
                                           std::int64_t num_classes);

// The keys of a quantized (converted) network's state_dict that name its
// classifier: fc's packed weight and bias, and the packed parameters' dtype
// entry (checkpoint.h reads the packed tuple under these names).
inline constexpr const char kQuantizedFcWeight[] = "fc._packed_params.weight";
inline constexpr const char kQuantizedFcBias[] = "fc._packed_params.bias";
inline constexpr const char kQuantizedFcDType[] = "fc._packed_params.dtype";

// Where a quantized checkpoint keeps fc's weight and bias: the packed
// parameters' keys above, or, in files of PyTorch 1.3's quantized Linear
// (before LinearPackedParams), "fc.weight" and "fc.bias".
struct QuantizedFcKeys {
  std::string weight = kQuantizedFcWeight;
  std::string bias = kQuantizedFcBias;
};
QuantizedFcKeys quantized_fc_keys(const Checkpoint& checkpoint);

// Every state_dict entry of torchvision's quantizable `arch`
// (torchvision.models.quantization) after fuse_model and
// torch.ao.quantization's prepare and convert, in module order: each fused
// convolution's quantized weight, float bias, output scale and zero_point;
// each block's add_relu (skip_add_relu in a Bottleneck) scale and zero_point;
// fc's scale, zero_point and packed weight and bias; the input's quant.scale
// and quant.zero_point ([1] each).
std::vector<ParameterSpec> quantized_parameter_specs(
    const ArchSpec& arch, std::int64_t num_classes,
    const QuantizedFcKeys& fc = {});

// Number of trainable parameters (torchvision's meta "num_params" for 1000
// classes: 11,689,512 for resnet18 ... 126,886,696 for wide_resnet101_2).
std::int64_t num_params(const ArchSpec& arch, std::int64_t num_classes);

// The architecture the checkpoint's keys and shapes describe: block type
// (conv3 keys), blocks per stage (the largest layerS.B index), groups and
// width per group (layer1.0.conv2.weight's shape). It does not check the
// rest; check_state_dict does. Throws Error(kCheckpoint) when the file is
// not a ResNet at all (naming a few of its keys) or describes none of the ten
// (naming the nearest and what differs).
const ArchSpec& detect_architecture(const Checkpoint& checkpoint);

// The architecture `name` names (as architecture() finds it), or, when
// `name` is empty, the one the checkpoint holds (detect_architecture): what
// --arch means for every command that loads a checkpoint.
const ArchSpec& choose_architecture(const Checkpoint& checkpoint,
                                    std::string_view name);

// Throws Error(kCheckpoint) unless the checkpoint is exactly `arch`'s
// state_dict (any class count), quantized_parameter_specs' when the file
// holds quantized tensors: the message names what the file looks like
// when that is another architecture, and lists the first missing keys,
// unexpected keys and shape mismatches.
void check_state_dict(const Checkpoint& checkpoint, const ArchSpec& arch);

// The class count from fc.weight ([N, arch.feature_size()]), or a quantized
// file's kQuantizedFcWeight. Throws Error(kCheckpoint) when it is missing or
// has another shape.
std::int64_t checkpoint_num_classes(const Checkpoint& checkpoint,
                                    const ArchSpec& arch);

// ResNet50's layout, as before the family: the same as the general
// functions above with resnet50_architecture().
constexpr std::int64_t kResNet50FeatureDim = 2048;
std::vector<ParameterSpec> resnet50_parameter_specs(std::int64_t num_classes);
std::int64_t resnet50_num_params(std::int64_t num_classes);
std::int64_t checkpoint_num_classes(const Checkpoint& checkpoint);
void check_resnet50_state_dict(const Checkpoint& checkpoint);

}  // namespace resnet_cli
