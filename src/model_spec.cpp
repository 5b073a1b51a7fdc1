#include "resnet_cli/model_spec.h"

#include <map>
#include <set>
#include <unordered_map>

#include "resnet_cli/checkpoint.h"
#include "resnet_cli/error.h"

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

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

std::string join_first(const std::vector<std::string>& items,
                       std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    out += (i ? ", " : "") + items[i];
  }
  if (items.size() > limit) {
    out += " (and " + std::to_string(items.size() - limit) + " more)";
  }
  return out;
}

// Reads the block counts per stage and the block type off the key names.
std::string guess_architecture(const Checkpoint& checkpoint) {
  int blocks[4] = {0, 0, 0, 0};
  bool bottleneck = false;
  bool any_layer = false;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    int stage = 0;
    int block = 0;
    char rest[64] = {};
    if (std::sscanf(tensor.name.c_str(), "layer%d.%d.%63s", &stage, &block,
                    rest) == 3 &&
        stage >= 1 && stage <= 4 && block >= 0 && block < 1000) {
      any_layer = true;
      blocks[stage - 1] = std::max(blocks[stage - 1], block + 1);
      if (std::string(rest).rfind("conv3.", 0) == 0) bottleneck = true;
    }
  }
  if (!any_layer) return "";
  struct Known {
    int blocks[4];
    bool bottleneck;
    const char* name;
  };
  static const Known kKnown[] = {
      {{2, 2, 2, 2}, false, "ResNet18"},  {{3, 4, 6, 3}, false, "ResNet34"},
      {{3, 4, 6, 3}, true, "ResNet50"},   {{3, 4, 23, 3}, true, "ResNet101"},
      {{3, 8, 36, 3}, true, "ResNet152"},
  };
  for (const Known& known : kKnown) {
    if (std::equal(std::begin(blocks), std::end(blocks),
                   std::begin(known.blocks)) &&
        bottleneck == known.bottleneck) {
      return known.name;
    }
  }
  return std::string("a ResNet with ") +
         (bottleneck ? "Bottleneck" : "BasicBlock") + " blocks " +
         std::to_string(blocks[0]) + "-" + std::to_string(blocks[1]) + "-" +
         std::to_string(blocks[2]) + "-" + std::to_string(blocks[3]);
}

}  // namespace

std::vector<ParameterSpec> resnet50_parameter_specs(std::int64_t num_classes) {
  std::vector<ParameterSpec> specs;
  specs.push_back({"conv1.weight", {64, 3, 7, 7}, true, false});
  add_batch_norm(specs, "bn1", 64);
  std::int64_t in_channels = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t width = 64 << stage;
    const std::int64_t out_channels = width * 4;
    for (int block = 0; block < kResNet50Blocks[stage]; ++block) {
      const std::string prefix =
          "layer" + std::to_string(stage + 1) + "." + std::to_string(block);
      specs.push_back(
          {prefix + ".conv1.weight", {width, in_channels, 1, 1}, true, false});
      add_batch_norm(specs, prefix + ".bn1", width);
      specs.push_back(
          {prefix + ".conv2.weight", {width, width, 3, 3}, true, false});
      add_batch_norm(specs, prefix + ".bn2", width);
      specs.push_back(
          {prefix + ".conv3.weight", {out_channels, width, 1, 1}, true, false});
      add_batch_norm(specs, prefix + ".bn3", out_channels);
      if (block == 0) {
        specs.push_back({prefix + ".downsample.0.weight",
                         {out_channels, in_channels, 1, 1},
                         true,
                         false});
        add_batch_norm(specs, prefix + ".downsample.1", out_channels);
      }
      in_channels = out_channels;
    }
  }
  specs.push_back(
      {"fc.weight", {num_classes, kResNet50FeatureDim}, true, false});
  specs.push_back({"fc.bias", {num_classes}, true, false});
  return specs;
}

std::int64_t resnet50_num_params(std::int64_t num_classes) {
  std::int64_t total = 0;
  for (const ParameterSpec& spec : resnet50_parameter_specs(num_classes)) {
    if (!spec.trainable) continue;
    std::int64_t count = 1;
    for (std::int64_t dim : spec.shape) count *= dim;
    total += count;
  }
  return total;
}

std::int64_t checkpoint_num_classes(const Checkpoint& checkpoint) {
  const CheckpointTensor* fc = checkpoint.find("fc.weight");
  if (!fc) {
    std::string guess = guess_architecture(checkpoint);
    throw Error(ErrorKind::kCheckpoint,
                checkpoint.path().string() +
                    ": has no 'fc.weight', so it is not a torchvision ResNet "
                    "classifier state_dict" +
                    (guess.empty() ? "" : " (it looks like " + guess + ")"));
  }
  if (fc->sizes.size() != 2 || fc->sizes[1] != kResNet50FeatureDim ||
      fc->sizes[0] < 1) {
    std::string guess = guess_architecture(checkpoint);
    throw Error(
        ErrorKind::kCheckpoint,
        checkpoint.path().string() + ": fc.weight is " +
            shape_string(fc->sizes) + ", ResNet50 needs [N, 2048]" +
            (guess.empty() || guess == "ResNet50"
                 ? ""
                 : "; the file looks like " + guess + ", not ResNet50"));
  }
  return fc->sizes[0];
}

void check_resnet50_state_dict(const Checkpoint& checkpoint) {
  // The class count is free; take it from fc.weight where that is a matrix
  // so that a fine-tuned head is no mismatch, and report the rest.
  std::int64_t num_classes = 1000;
  if (const CheckpointTensor* fc = checkpoint.find("fc.weight");
      fc && fc->sizes.size() == 2 && fc->sizes[0] >= 1) {
    num_classes = fc->sizes[0];
  }
  std::unordered_map<std::string, const CheckpointTensor*> present;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    present.emplace(tensor.name, &tensor);
  }
  std::vector<std::string> missing;
  std::vector<std::string> mismatched;
  std::set<std::string> expected;
  for (const ParameterSpec& spec : resnet50_parameter_specs(num_classes)) {
    expected.insert(spec.name);
    auto found = present.find(spec.name);
    if (found == present.end()) {
      if (!spec.optional) missing.push_back(spec.name);
      continue;
    }
    if (found->second->sizes != spec.shape) {
      mismatched.push_back(
          spec.name + " is " + shape_string(found->second->sizes) +
          " in the file, ResNet50 needs " + shape_string(spec.shape));
    }
  }
  std::vector<std::string> unexpected;
  for (const CheckpointTensor& tensor : checkpoint.tensors()) {
    if (!expected.count(tensor.name)) unexpected.push_back(tensor.name);
  }
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return;

  constexpr std::size_t kShown = 5;
  std::string message =
      checkpoint.path().string() + ": does not match torchvision's ResNet50";
  const std::string guess = guess_architecture(checkpoint);
  if (!guess.empty() && guess != "ResNet50") {
    message += " (it looks like " + guess + ")";
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

}  // namespace resnet_cli
