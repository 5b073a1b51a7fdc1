// The registry of torchvision's ResNet family weights and where their files
// live.
//
// Mirrors torchvision.models.ResNet18_Weights ... Wide_ResNet101_2_Weights
// (17 entries over ten enums) and torchvision.models.quantization's
// ResNet18_QuantizedWeights ... ResNeXt101_64X4D_QuantizedWeights (6 int8
// entries over four enums): each entry carries the meta torchvision
// publishes (url, transforms, metrics, categories; a quantized entry its
// backend and the float entry it was made from), and the file is looked up
// in torch.hub's cache so that Python and resnet-cli share it.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "image/transform.h"

namespace resnet_cli {

struct WeightsInfo {
  std::string arch;       // model_spec.h's builder name, "resnet50"
  std::string enum_name;  // torchvision's enum, "ResNet50_Weights"
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
  std::vector<std::string> aliases;  // "DEFAULT" on each enum's last entry
  // Quantized entries only: the quantized engine its file was made for
  // ("fbgemm"), and the float entry it was quantized from
  // ("ResNet50_Weights.IMAGENET1K_V2").
  std::string backend;
  std::string unquantized;

  bool quantized() const { return !backend.empty(); }

  // "ResNet50_Weights.IMAGENET1K_V2".
  std::string qualified_name() const { return enum_name + "." + name; }
};

// All registry entries: the float enums in model_spec.h's architecture
// order (ResNet18_Weights first), then the quantized enums in torchvision's
// order (ResNet18_QuantizedWeights first); each enum's entries in
// torchvision's order (V1, V2).
const std::vector<WeightsInfo>& all_weights();

// The entry `name` chooses, any case, under torchvision's rules:
// - "ResNet18_Weights.IMAGENET1K_V1", "resnet18_weights.DEFAULT": that enum's
//   entry, whatever the architecture;
// - "IMAGENET1K_V1", "DEFAULT": that entry of `arch`'s (float) enum,
//   ResNet50's when `arch` is empty (what resnet-cli meant before the
//   family); a quantized enum is always named;
// - "" with an `arch`: that architecture's DEFAULT;
// - an architecture's name ("resnet18") without `arch`: its DEFAULT, as
//   `--arch resnet18` alone means it.
// `arch` is a model_spec.h name ("resnet18", any case) or empty. Throws
// Error(kUsage) for an unknown architecture, a name that architecture has no
// entry for (naming its entries), or an enum of another architecture than
// `arch`.
const WeightsInfo& find_weights(std::string_view name,
                                std::string_view arch = {});

// The quantized entry made from `weights` (ResNet50_Weights.IMAGENET1K_V2 ->
// ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2); nullptr when torchvision
// publishes none, or when `weights` is itself quantized.
const WeightsInfo* quantized_counterpart(const WeightsInfo& weights);

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
// a trailing empty line ignored; or, when it holds a JSON object,
// TorchServe's index_to_name.json ({"0": "name"} or {"0": ["wnid", "name"]},
// every index from 0 once). Throws Error(kUsage) naming the file.
std::vector<std::string> read_labels_file(const std::filesystem::path& path);

}  // namespace resnet_cli
