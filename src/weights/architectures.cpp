// The ten architectures' table and lookup: no checkpoint, no LibTorch, so
// that the weights registry (in the core library) can name them.
#include <string>

#include "base/error.h"
#include "base/text.h"
#include "weights/model_spec.h"

namespace resnet_cli {

std::string_view block_type_name(BlockType block) {
  return block == BlockType::kBasicBlock ? "BasicBlock" : "Bottleneck";
}

std::int64_t ArchSpec::expansion() const {
  return block == BlockType::kBasicBlock ? 1 : 4;
}

std::int64_t ArchSpec::feature_size() const { return 512 * expansion(); }

std::int64_t ArchSpec::width(int stage) const {
  const std::int64_t planes = std::int64_t{64} << stage;
  if (block == BlockType::kBasicBlock) return planes;
  // int(planes * (width_per_group / 64.0)) * groups, in integers.
  return planes * width_per_group / 64 * groups;
}

bool ArchSpec::has_downsample(int stage, int index) const {
  // torchvision's _make_layer: stride != 1 or inplanes != planes * expansion.
  return index == 0 && (stage > 0 || expansion() != 1);
}

const std::vector<ArchSpec>& all_architectures() {
  using B = BlockType;
  static const std::vector<ArchSpec> architectures = {
      {"resnet18", "ResNet18", B::kBasicBlock, {2, 2, 2, 2}, 1, 64},
      {"resnet34", "ResNet34", B::kBasicBlock, {3, 4, 6, 3}, 1, 64},
      {"resnet50", "ResNet50", B::kBottleneck, {3, 4, 6, 3}, 1, 64},
      {"resnet101", "ResNet101", B::kBottleneck, {3, 4, 23, 3}, 1, 64},
      {"resnet152", "ResNet152", B::kBottleneck, {3, 8, 36, 3}, 1, 64},
      {"resnext50_32x4d",
       "ResNeXt50_32X4D",
       B::kBottleneck,
       {3, 4, 6, 3},
       32,
       4},
      {"resnext101_32x8d",
       "ResNeXt101_32X8D",
       B::kBottleneck,
       {3, 4, 23, 3},
       32,
       8},
      {"resnext101_64x4d",
       "ResNeXt101_64X4D",
       B::kBottleneck,
       {3, 4, 23, 3},
       64,
       4},
      {"wide_resnet50_2",
       "Wide_ResNet50_2",
       B::kBottleneck,
       {3, 4, 6, 3},
       1,
       128},
      {"wide_resnet101_2",
       "Wide_ResNet101_2",
       B::kBottleneck,
       {3, 4, 23, 3},
       1,
       128},
  };
  return architectures;
}

const ArchSpec* find_architecture(std::string_view name) {
  const std::string wanted = detail::ascii_lower(name);
  for (const ArchSpec& arch : all_architectures()) {
    if (wanted == arch.name || wanted == detail::ascii_lower(arch.display_name))
      return &arch;
  }
  return nullptr;
}

const ArchSpec& architecture(std::string_view name) {
  if (const ArchSpec* arch = find_architecture(name)) return *arch;
  std::string known;
  for (const ArchSpec& arch : all_architectures()) {
    known += (known.empty() ? "" : ", ") + std::string(arch.name);
  }
  throw Error(ErrorKind::kUsage, "unknown architecture '" + std::string(name) +
                                     "' (known: " + known + ")");
}

const ArchSpec& resnet50_architecture() {
  return *find_architecture("resnet50");
}

}  // namespace resnet_cli
