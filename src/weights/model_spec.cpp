#include "weights/model_spec.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include "base/error.h"
#include "base/text.h"
#include "weights/checkpoint.h"

namespace resnet_cli {

namespace {

void add_batch_norm(std::vector<ParameterSpec>& specs, const std::string& name,
                    std::int64_t channels) {
  specs.push_back({name + ".weight", {channels}, true, false});
  specs.push_back({name + ".bias", {channels}, true, false});
  specs.push_back({name + ".running_mean", {channels}, false, false});
  specs.push_back({name + ".running_var", {channels}, false, false});
  specs.push_back({name + ".num_batches_tracked", {}, false, true});
}

void add_conv_bn(std::vector<ParameterSpec>& specs, const std::string& conv,
                 const std::string& bn, std::vector<std::int64_t> shape) {
  const std::int64_t channels = shape[0];
  specs.push_back({conv + ".weight", std::move(shape), true, false});
  add_batch_norm(specs, bn, channels);
}

// One block's convolutions and BatchNorms, `prefix` = "layerS.B".
void add_block(std::vector<ParameterSpec>& specs, const ArchSpec& arch,
               int stage, int index, std::int64_t in_channels) {
  const std::string prefix =
      "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
  const std::int64_t width = arch.width(stage);
  const std::int64_t out_channels =
      (std::int64_t{64} << stage) * arch.expansion();
  if (arch.block == BlockType::kBasicBlock) {
    add_conv_bn(specs, prefix + ".conv1", prefix + ".bn1",
                {width, in_channels, 3, 3});
    add_conv_bn(specs, prefix + ".conv2", prefix + ".bn2",
                {width, width, 3, 3});
  } else {
    add_conv_bn(specs, prefix + ".conv1", prefix + ".bn1",
                {width, in_channels, 1, 1});
    add_conv_bn(specs, prefix + ".conv2", prefix + ".bn2",
                {width, width / arch.groups, 3, 3});
    add_conv_bn(specs, prefix + ".conv3", prefix + ".bn3",
                {out_channels, width, 1, 1});
  }
  if (arch.has_downsample(stage, index)) {
    add_conv_bn(specs, prefix + ".downsample.0", prefix + ".downsample.1",
                {out_channels, in_channels, 1, 1});
  }
}

// A converted (quantized) convolution: its fused BatchNorm is its bias.
void add_quantized_conv(std::vector<ParameterSpec>& specs,
                        const std::string& conv,
                        std::vector<std::int64_t> shape) {
  const std::int64_t channels = shape[0];
  specs.push_back({conv + ".weight", std::move(shape), true, false});
  specs.push_back({conv + ".bias", {channels}, true, false});
  specs.push_back({conv + ".scale", {}, false, false});
  specs.push_back({conv + ".zero_point", {}, false, false});
}

void add_quantized_block(std::vector<ParameterSpec>& specs,
                         const ArchSpec& arch, int stage, int index,
                         std::int64_t in_channels) {
  const std::string prefix =
      "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
  const std::int64_t width = arch.width(stage);
  const std::int64_t out_channels =
      (std::int64_t{64} << stage) * arch.expansion();
  std::string add = prefix + ".add_relu";
  if (arch.block == BlockType::kBasicBlock) {
    add_quantized_conv(specs, prefix + ".conv1", {width, in_channels, 3, 3});
    add_quantized_conv(specs, prefix + ".conv2", {width, width, 3, 3});
  } else {
    add_quantized_conv(specs, prefix + ".conv1", {width, in_channels, 1, 1});
    add_quantized_conv(specs, prefix + ".conv2",
                       {width, width / arch.groups, 3, 3});
    add_quantized_conv(specs, prefix + ".conv3", {out_channels, width, 1, 1});
    add = prefix + ".skip_add_relu";
  }
  if (arch.has_downsample(stage, index)) {
    add_quantized_conv(specs, prefix + ".downsample.0",
                       {out_channels, in_channels, 1, 1});
  }
  specs.push_back({add + ".scale", {}, false, false});
  specs.push_back({add + ".zero_point", {}, false, false});
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

std::string layers_string(const std::array<int, 4>& layers) {
  return shape_string({layers[0], layers[1], layers[2], layers[3]});
}

std::string join_first(const std::vector<std::string>& items, std::size_t limit,
                       const char* separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    out += (i ? separator : "") + items[i];
  }
  if (items.size() > limit) {
    out += " (and " + std::to_string(items.size() - limit) + " more)";
  }
  return out;
}

// What a checkpoint's keys and shapes say about its architecture.
struct Structure {
  bool has_blocks = false;  // any "layerS.B." key, S in 1..4
  BlockType block = BlockType::kBasicBlock;
  std::array<int, 4> layers{};
  int groups = 0;           // 0: not readable from the file
  int width_per_group = 0;  // 0: not readable from the file
};

Structure read_structure(const Checkpoint& checkpoint) {
  Structure structure;
  bool bottleneck = false;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    int stage = 0;
    int block = 0;
    char rest[64] = {};
    if (std::sscanf(tensor.name.c_str(), "layer%d.%d.%63s", &stage, &block,
                    rest) == 3 &&
        stage >= 1 && stage <= 4 && block >= 0 && block < 1000) {
      structure.has_blocks = true;
      int& count = structure.layers[static_cast<std::size_t>(stage - 1)];
      count = std::max(count, block + 1);
      if (std::string(rest).rfind("conv3.", 0) == 0) bottleneck = true;
    }
  }
  structure.block =
      bottleneck ? BlockType::kBottleneck : BlockType::kBasicBlock;
  if (!bottleneck) {
    // torchvision's BasicBlock supports nothing else.
    structure.groups = 1;
    structure.width_per_group = 64;
    return structure;
  }
  // layer1's 3x3 convolution: [width_per_group * groups, width_per_group, 3,
  // 3], since layer1's planes are 64.
  const CheckpointTensor* conv2 = checkpoint.find("layer1.0.conv2.weight");
  if (conv2 && conv2->sizes.size() == 4 && conv2->sizes[1] > 0 &&
      conv2->sizes[0] % conv2->sizes[1] == 0 && conv2->sizes[0] < (1 << 20)) {
    structure.width_per_group = static_cast<int>(conv2->sizes[1]);
    structure.groups = static_cast<int>(conv2->sizes[0] / conv2->sizes[1]);
  }
  return structure;
}

// How far the file's structure is from `arch`: the block type outweighs
// groups and width, which outweigh the block counts.
int distance(const Structure& file, const ArchSpec& arch) {
  int total = 0;
  if (file.block != arch.block) total += 1000;
  if (file.groups && file.groups != arch.groups) total += 100;
  if (file.width_per_group && file.width_per_group != arch.width_per_group)
    total += 100;
  for (std::size_t stage = 0; stage < 4; ++stage) {
    total += std::abs(file.layers[stage] - arch.layers[stage]);
  }
  return total;
}

// What differs, the file's value first: "Bottleneck, not BasicBlock".
std::vector<std::string> differences(const Structure& file,
                                     const ArchSpec& arch) {
  std::vector<std::string> out;
  if (file.block != arch.block) {
    out.push_back(std::string(block_type_name(file.block)) + ", not " +
                  std::string(block_type_name(arch.block)));
  }
  if (file.layers != arch.layers) {
    out.push_back("layers " + layers_string(file.layers) + ", not " +
                  layers_string(arch.layers));
  }
  if (file.groups && file.groups != arch.groups) {
    out.push_back("groups " + std::to_string(file.groups) + ", not " +
                  std::to_string(arch.groups));
  }
  if (file.width_per_group && file.width_per_group != arch.width_per_group) {
    out.push_back("width per group " + std::to_string(file.width_per_group) +
                  ", not " + std::to_string(arch.width_per_group));
  }
  return out;
}

// The nearest of the ten; the first in torchvision's order on a tie.
const ArchSpec& nearest(const Structure& file) {
  const ArchSpec* best = nullptr;
  for (const ArchSpec& arch : all_architectures()) {
    if (!best || distance(file, arch) < distance(file, *best)) best = &arch;
  }
  return *best;
}

std::string describe(const Structure& file) {
  std::string out = std::string(block_type_name(file.block)) + ", layers " +
                    layers_string(file.layers);
  if (file.block == BlockType::kBottleneck && file.groups) {
    out += ", groups " + std::to_string(file.groups) + ", width per group " +
           std::to_string(file.width_per_group);
  }
  return out;
}

// "it looks like ResNet18: BasicBlock, not Bottleneck; ..." when the file is
// another of the ten, "it is none of ..." when it is none; empty when the
// file has `arch`'s structure or no blocks at all.
std::string structure_note(const Structure& file, const ArchSpec& arch) {
  if (!file.has_blocks) return "";
  const ArchSpec& closest = nearest(file);
  if (distance(file, closest) == 0) {
    if (&closest == &arch) return "";
    return "it looks like " + std::string(closest.display_name) + ": " +
           join_first(differences(file, arch), 4, "; ");
  }
  return "it is none of torchvision's ResNets (" + describe(file) +
         "); the nearest, " + std::string(closest.display_name) +
         ", differs in " + join_first(differences(file, closest), 4, "; ");
}

std::string first_keys(const Checkpoint& checkpoint) {
  std::vector<std::string> names;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    names.push_back(tensor.name);
  }
  return join_first(names, 4);
}

}  // namespace

std::vector<ParameterSpec> parameter_specs(const ArchSpec& arch,
                                           std::int64_t num_classes) {
  std::vector<ParameterSpec> specs;
  add_conv_bn(specs, "conv1", "bn1", {64, 3, 7, 7});
  std::int64_t in_channels = 64;
  for (int stage = 0; stage < 4; ++stage) {
    for (int index = 0; index < arch.layers[static_cast<std::size_t>(stage)];
         ++index) {
      add_block(specs, arch, stage, index, in_channels);
      in_channels = (std::int64_t{64} << stage) * arch.expansion();
    }
  }
  specs.push_back(
      {"fc.weight", {num_classes, arch.feature_size()}, true, false});
  specs.push_back({"fc.bias", {num_classes}, true, false});
  return specs;
}

QuantizedFcKeys quantized_fc_keys(const Checkpoint& checkpoint) {
  QuantizedFcKeys keys;
  const CheckpointTensor* legacy = checkpoint.find("fc.weight");
  if (!checkpoint.find(keys.weight) && legacy && legacy->quantization) {
    keys.weight = "fc.weight";
    keys.bias = "fc.bias";
  }
  return keys;
}

std::vector<ParameterSpec> quantized_parameter_specs(
    const ArchSpec& arch, std::int64_t num_classes, const QuantizedFcKeys& fc) {
  std::vector<ParameterSpec> specs;
  add_quantized_conv(specs, "conv1", {64, 3, 7, 7});
  std::int64_t in_channels = 64;
  for (int stage = 0; stage < 4; ++stage) {
    for (int index = 0; index < arch.layers[static_cast<std::size_t>(stage)];
         ++index) {
      add_quantized_block(specs, arch, stage, index, in_channels);
      in_channels = (std::int64_t{64} << stage) * arch.expansion();
    }
  }
  specs.push_back({"fc.scale", {}, false, false});
  specs.push_back({"fc.zero_point", {}, false, false});
  specs.push_back({fc.weight, {num_classes, arch.feature_size()}, true, false});
  specs.push_back({fc.bias, {num_classes}, true, false});
  specs.push_back({"quant.scale", {1}, false, false});
  specs.push_back({"quant.zero_point", {1}, false, false});
  return specs;
}

std::int64_t num_params(const ArchSpec& arch, std::int64_t num_classes) {
  std::int64_t total = 0;
  for (const ParameterSpec& spec : parameter_specs(arch, num_classes)) {
    if (!spec.trainable) continue;
    std::int64_t count = 1;
    for (std::int64_t dim : spec.shape) count *= dim;
    total += count;
  }
  return total;
}

const ArchSpec& detect_architecture(const Checkpoint& checkpoint) {
  const std::string file = checkpoint.path().string();
  if (checkpoint.tensors().empty()) {
    throw Error(ErrorKind::kCheckpoint,
                file +
                    ": holds no tensors, so it is not a torchvision "
                    "ResNet, ResNeXt or Wide ResNet state_dict");
  }
  const Structure structure = read_structure(checkpoint);
  if (!structure.has_blocks) {
    throw Error(ErrorKind::kCheckpoint,
                file +
                    ": not a torchvision ResNet, ResNeXt or Wide ResNet "
                    "state_dict: it has no layer1-layer4 blocks (its keys: " +
                    first_keys(checkpoint) + ")");
  }
  const ArchSpec& closest = nearest(structure);
  if (distance(structure, closest) != 0) {
    throw Error(ErrorKind::kCheckpoint,
                file + ": " + structure_note(structure, closest));
  }
  return closest;
}

std::int64_t checkpoint_num_classes(const Checkpoint& checkpoint,
                                    const ArchSpec& arch) {
  const std::string fc_name = checkpoint.is_quantized()
                                  ? quantized_fc_keys(checkpoint).weight
                                  : std::string("fc.weight");
  const CheckpointTensor* fc = checkpoint.find(fc_name);
  const std::string note = structure_note(read_structure(checkpoint), arch);
  if (!fc) {
    throw Error(ErrorKind::kCheckpoint,
                checkpoint.path().string() + ": has no '" + fc_name +
                    "', so it is not a torchvision ResNet "
                    "classifier state_dict" +
                    (note.empty() ? "" : " (" + note + ")"));
  }
  if (fc->sizes.size() != 2 || fc->sizes[1] != arch.feature_size() ||
      fc->sizes[0] < 1) {
    throw Error(ErrorKind::kCheckpoint,
                checkpoint.path().string() + ": " + fc_name + " is " +
                    shape_string(fc->sizes) + ", " +
                    std::string(arch.display_name) + " needs [N, " +
                    std::to_string(arch.feature_size()) + "]" +
                    (note.empty() ? "" : "; " + note));
  }
  return fc->sizes[0];
}

const ArchSpec& choose_architecture(const Checkpoint& checkpoint,
                                    std::string_view name) {
  if (name.empty()) return detect_architecture(checkpoint);
  return architecture(name);
}

void check_state_dict(const Checkpoint& checkpoint, const ArchSpec& arch) {
  // The class count is free; take it from fc.weight where that is a matrix
  // so that a fine-tuned head is no mismatch, and report the rest.
  const bool quantized = checkpoint.is_quantized();
  std::int64_t num_classes = 1000;
  const QuantizedFcKeys fc_keys =
      quantized ? quantized_fc_keys(checkpoint) : QuantizedFcKeys{};
  if (const CheckpointTensor* fc =
          checkpoint.find(quantized ? fc_keys.weight : "fc.weight");
      fc && fc->sizes.size() == 2 && fc->sizes[0] >= 1) {
    num_classes = fc->sizes[0];
  }
  std::unordered_map<std::string, const CheckpointTensor*> present;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    present.emplace(tensor.name, &tensor);
  }
  const std::string display(arch.display_name);
  std::vector<std::string> missing;
  std::vector<std::string> mismatched;
  std::set<std::string> expected;
  for (const ParameterSpec& spec :
       quantized ? quantized_parameter_specs(arch, num_classes, fc_keys)
                 : parameter_specs(arch, num_classes)) {
    expected.insert(spec.name);
    auto found = present.find(spec.name);
    if (found == present.end()) {
      if (!spec.optional) missing.push_back(spec.name);
      continue;
    }
    if (found->second->sizes != spec.shape) {
      mismatched.push_back(
          spec.name + " is " + shape_string(found->second->sizes) +
          " in the file, " + display + " needs " + shape_string(spec.shape));
    }
  }
  std::vector<std::string> unexpected;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    if (!expected.count(tensor.name)) unexpected.push_back(tensor.name);
  }
  for (const CheckpointDType& dtype : checkpoint.dtypes()) {
    if (!quantized || dtype.name != kQuantizedFcDType) {
      unexpected.push_back(dtype.name);
    }
  }
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return;

  constexpr std::size_t kShown = 5;
  std::string message = checkpoint.path().string() +
                        ": does not match torchvision's " +
                        (quantized ? "quantized " : "") + display;
  const Structure structure = read_structure(checkpoint);
  if (!structure.has_blocks) {
    message += " (it has no layer1-layer4 blocks: not a ResNet at all)";
  } else if (const std::string note = structure_note(structure, arch);
             !note.empty()) {
    message += " (" + note + ")";
  }
  if (!missing.empty()) {
    message += "; missing keys: " + join_first(missing, kShown);
  }
  if (!unexpected.empty()) {
    message += "; unexpected keys: " + join_first(unexpected, kShown);
  }
  if (!mismatched.empty()) {
    message += "; shape mismatch: " + join_first(mismatched, kShown);
  }
  throw Error(ErrorKind::kCheckpoint, message);
}

std::vector<ParameterSpec> resnet50_parameter_specs(std::int64_t num_classes) {
  return parameter_specs(resnet50_architecture(), num_classes);
}

std::int64_t resnet50_num_params(std::int64_t num_classes) {
  return num_params(resnet50_architecture(), num_classes);
}

std::int64_t checkpoint_num_classes(const Checkpoint& checkpoint) {
  return checkpoint_num_classes(checkpoint, resnet50_architecture());
}

void check_resnet50_state_dict(const Checkpoint& checkpoint) {
  check_state_dict(checkpoint, resnet50_architecture());
}

}  // namespace resnet_cli
