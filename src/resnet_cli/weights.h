// The registry of torchvision's ResNet50 weights and where their files live.
//
// Mirrors torchvision.models.ResNet50_Weights: each entry carries the meta
// torchvision publishes (url, transforms, metrics, categories), and the file
// is looked up in torch.hub's cache so that Python and resnet-cli share it.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "resnet_cli/transform.h"

namespace resnet_cli {

struct WeightsInfo {
  std::string name;       // "IMAGENET1K_V2"
  std::string url;        // torchvision's download URL
  std::string file_name;  // basename of url, e.g. "resnet50-11ad3fa6.pth"
  TransformSpec transforms;
  long long num_params = 0;
  double acc1 = 0;  // ImageNet-1K top-1, percent
  double acc5 = 0;  // ImageNet-1K top-5, percent
  double gflops = 0;
  double file_size_mb = 0;
  std::string recipe;
  std::string docs;
  std::vector<std::string> aliases;  // other names that select this entry
};

// All registry entries, in torchvision's order (V1, V2).
const std::vector<WeightsInfo>& all_weights();

// "IMAGENET1K_V2", "DEFAULT", "ResNet50_Weights.IMAGENET1K_V1", any case.
// Throws Error(kUsage) naming the known entries when nothing matches.
const WeightsInfo& find_weights(std::string_view name);

// The 1000 ImageNet-1K class names in torchvision's order ("tench", ...).
const std::vector<std::string>& imagenet_categories();

// torch.hub's checkpoint folder: $TORCH_HOME/hub/checkpoints, TORCH_HOME
// defaulting to $XDG_CACHE_HOME/torch, XDG_CACHE_HOME to ~/.cache.
std::filesystem::path hub_checkpoint_dir();

// Where `weights` would be cached: hub_checkpoint_dir() / file_name.
std::filesystem::path cached_weights_path(const WeightsInfo& weights);

// The hash prefix torch.hub checks for a file name: the hex digits after the
// last '-' and before the extension ("resnet50-11ad3fa6.pth" -> "11ad3fa6");
// empty when the name carries none.
std::string hash_prefix_from_file_name(std::string_view file_name);

// Reads a labels file: one class name a line, '\n' or "\r\n" line ends,
// a trailing empty line ignored. Throws Error(kUsage) naming the file.
std::vector<std::string> read_labels_file(const std::filesystem::path& path);

}  // namespace resnet_cli
