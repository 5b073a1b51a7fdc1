// torchvision's ResNet family (model_spec.h: ResNet18 to 152, ResNeXt, Wide
// ResNet) for inference, on LibTorch. The only module that includes torch
// headers in its source; this header keeps them out of its users.
//
// Inputs are float32 NCHW batches of any height and width, normalized as
// preprocess.h produces them; outputs are logits (or the pooled features: 512
// values for BasicBlock networks, 2048 for Bottleneck ones), and on request
// layer4's output of the same pass, for class activation maps (explain).
// BatchNorm uses the running statistics (eval mode); no gradients are kept.
//
// On CUDA the weights are copied to the GPU once, when the model loads;
// forward() copies each batch there and back, and open_batch_queue() keeps
// batches in flight from pinned host memory (batch_queue.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/cpu.h"
#include "base/enum_names.h"
#include "model/batch_queue.h"

namespace resnet_cli {

class Checkpoint;

// What the convolutions compute in. fp16 runs on CUDA only. kInt8: a
// quantized checkpoint (torchvision's quantized weights, or one `resnet-cli
// quantize` or PyTorch's convert made) on the CPU's integer units. A
// quantized checkpoint runs in int8 whatever the precision asked for but
// bf16 and fp16, which are refused.
enum class Precision { kFloat32, kBFloat16, kFloat16, kInt8 };

template <>
struct EnumNames<Precision> {
  static constexpr std::string_view option = "--precision";
  static constexpr std::array<EnumName<Precision>, 4> names{{
      {"fp32", Precision::kFloat32},
      {"bf16", Precision::kBFloat16},
      {"fp16", Precision::kFloat16},
      {"int8", Precision::kInt8},
  }};
};

// How the layers run (--engine).
enum class Engine {
  // BatchNorm folded into the convolutions, weights reordered once into
  // oneDNN's blocked layout, activations kept in it: the fast CPU path.
  kOptimized,
  // torchvision's computation, layer by layer (convolution, then BatchNorm
  // on running statistics): what the optimized path is tested against.
  kReference,
};

template <>
struct EnumNames<Engine> {
  static constexpr std::string_view option = "--engine";
  static constexpr std::array<EnumName<Engine>, 2> names{{
      {"optimized", Engine::kOptimized},
      {"reference", Engine::kReference},
  }};
};

struct ModelOptions {
  // Intra-op threads for LibTorch; 0 = one per available core.
  int threads = 0;
  // "cpu", "cuda" or "cuda:N" (device.h).
  std::string device = "cpu";
  Precision precision = Precision::kFloat32;
  // CUDA, fp32: let cuDNN and cuBLAS use TF32 tensor cores (faster, about
  // 1e-3 relative error). Off by default, so that fp32 answers stay
  // torchvision's with TF32 off.
  bool tf32 = false;
  Engine engine = Engine::kOptimized;
  // The architecture the checkpoint must be, by model_spec.h's names
  // ("resnet18", "ResNeXt50_32X4D", any case); empty: whichever its keys and
  // shapes describe (detect_architecture). An unknown name is Error(kUsage).
  std::string arch;
};

// The side of layer4's grid for an input side of `pixels`: the stem's
// convolution, its max pool and layer2 to layer4 each halve it, rounding up
// as their padding does (224 -> 7), in every architecture of the family.
constexpr std::int64_t feature_map_side(std::int64_t pixels) {
  for (int stage = 0; stage < 5; ++stage) pixels = (pixels + 1) / 2;
  return pixels;
}

class Model {
 public:
  // Chooses the architecture (options.arch, or the checkpoint's own), checks
  // the checkpoint strictly against it (missing, unexpected and mis-shaped
  // keys are errors, as is a file of another architecture) and loads it
  // layer by layer, so that only one layer's temporaries exist beside the
  // prepared weights. A quantized checkpoint loads as the int8 network.
  // Throws Error(kCheckpoint) for the file, Error(kUsage) for an unknown
  // architecture or --precision int8 with a float checkpoint, Error(kDevice)
  // for the device or a precision it cannot run.
  static std::unique_ptr<Model> load(const Checkpoint& checkpoint,
                                     const ModelOptions& options);
  virtual ~Model() = default;

  // Makes LibTorch in the calling thread use `threads` intra-op threads.
  // OpenMP's thread count is per thread: every thread that runs forward()
  // calls this first, so that workers never oversubscribe the cores.
  virtual void bind_thread(int threads) const = 0;

  virtual std::int64_t num_classes() const = 0;
  // Values features() writes per image: 512 (resnet18/34) or 2048.
  virtual std::int64_t feature_size() const = 0;
  // model_spec.h's builder name, e.g. "resnet50".
  virtual std::string architecture() const = 0;
  // What it runs in: the precision asked for, or kInt8 for a quantized
  // checkpoint.
  virtual Precision precision() const = 0;
  virtual std::string device() const = 0;

  // `input`: batch x 3 x height x width floats; `logits`: batch x
  // num_classes() floats.
  virtual void forward(const float* input, std::int64_t batch,
                       std::int64_t height, std::int64_t width,
                       float* logits) const = 0;

  // Like forward, but writes the pooled features (batch x feature_size())
  // that feed fc.
  virtual void features(const float* input, std::int64_t batch,
                        std::int64_t height, std::int64_t width,
                        float* features) const = 0;

  // Batches in flight from pinned host memory on a device (batch_queue.h),
  // for the thread that calls it; nullptr on the CPU, where the pipeline's
  // workers call forward() themselves. Throws Error(kDevice) when the
  // device has no memory for the buffers.
  virtual std::unique_ptr<BatchQueue> open_batch_queue(
      const BatchShape& shape) const = 0;

  // forward(), and layer4's output of the same pass (what the pooled
  // features average) into `feature_maps`: batch x feature_size() x
  // feature_map_side(height) x feature_map_side(width) floats, channel-major
  // per image. A path that computes in a narrower type (bf16, int8) gives
  // its own layer4 output widened to float32.
  virtual void forward_with_feature_maps(const float* input, std::int64_t batch,
                                         std::int64_t height,
                                         std::int64_t width, float* logits,
                                         float* feature_maps) const = 0;

  // fc's weight as the logits use it: num_classes() rows of feature_size()
  // floats (a quantized path: dequantized). Copied on each call; a class
  // activation map is a row of it applied to the feature maps.
  virtual std::vector<float> classifier_weight() const = 0;
};

}  // namespace resnet_cli
