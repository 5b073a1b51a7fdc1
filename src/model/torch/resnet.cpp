#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <malloc.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/text.h"
#include "model/model.h"
#include "model/torch/device_batch_queue.h"
#include "model/torch/quantized_resnet.h"
#include "model/torch/stored_tensor.h"
#include "model/torch/torch_device.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"

namespace resnet_cli {

namespace {

constexpr double kBatchNormEpsilon = 1e-5;  // torchvision's BatchNorm2d

at::ScalarType compute_type(Precision precision) {
  switch (precision) {
    case Precision::kBFloat16:
      return at::kBFloat16;
    case Precision::kFloat16:
      return at::kHalf;
    case Precision::kFloat32:
    case Precision::kInt8:  // quantized checkpoints never reach ResNet
      break;
  }
  return at::kFloat;
}

// A convolution's stride, padding (both axes alike) and groups.
struct Geometry {
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t groups = 1;
};

// A convolution with its BatchNorm: either folded (weight and bias prepared
// for the path), or kept apart for the reference path.
struct ConvUnit {
  at::Tensor weight;
  at::Tensor bias;                                 // folded paths only
  at::Tensor bn_weight, bn_bias, bn_mean, bn_var;  // reference path only
  Geometry geometry;
};

// A BasicBlock (conv1, conv2) or a Bottleneck (conv1, conv2, conv3).
struct Block {
  ConvUnit conv1, conv2, conv3;
  bool has_downsample = false;
  ConvUnit downsample;
};

class ResNet final : public Model {
 public:
  ResNet(const Checkpoint& checkpoint, const ModelOptions& options)
      : checkpoint_(&checkpoint),
        arch_(&choose_architecture(checkpoint, options.arch)),
        device_(detail::choose_device(options.device, options.tf32)),
        precision_(options.precision),
        engine_(options.engine) {
    check_state_dict(checkpoint, *arch_);
    num_classes_ = checkpoint_num_classes(checkpoint, *arch_);
    // Loading is many small copies, each an OpenMP region; one thread runs
    // them faster than two meeting at a barrier after each (and the other
    // core is free for the caller's work meanwhile).
    bind_thread(1);
    if (engine_ == Engine::kReference && precision_ != Precision::kFloat32) {
      throw Error(ErrorKind::kUsage, "the reference path runs in fp32 only");
    }
    // oneDNN for every convolution: ATen's own choice sends 1x1 convolutions
    // at one thread and small batches to a path that calls the reference
    // BLAS, ~15x slower here.
    mkldnn_ = device_.is_cpu() && at::hasMKLDNN();
    if (precision_ == Precision::kBFloat16 && device_.is_cpu() &&
        !(mkldnn_ && cpu_has_native_bf16())) {
      throw Error(
          ErrorKind::kDevice,
          "--precision bf16: this CPU has no native bf16 (AVX512-BF16); "
          "use --precision fp32");
    }
    if (precision_ == Precision::kFloat16 && device_.is_cpu()) {
      throw Error(ErrorKind::kDevice,
                  "--precision fp16 runs on CUDA only; use fp32 or bf16");
    }
    blocked_ = mkldnn_ && engine_ == Engine::kOptimized;
    dtype_ = compute_type(precision_);
    // On the CPU the stem sees the image itself and stays float32: in bf16
    // it alone would add a third to bf16's logit error, for 3% of the work.
    // On a GPU, float32 runs at a fifteenth of bf16's rate, and the stem
    // would take a third of the time: it runs in the batch's precision, as
    // under torch.autocast.
    stem_dtype_ = device_.is_cuda() ? dtype_ : at::kFloat;
    // cuDNN's tensor-core convolutions (bf16, fp16, TF32) read and write
    // NHWC: there weights and activations stay channels-last throughout.
    // Plain fp32 keeps torchvision's NCHW, so that cuDNN picks the
    // algorithms it picks for torchvision and the answers stay within 1e-4.
    channels_last_ =
        device_.is_cuda() && (dtype_ != at::kFloat || options.tf32);

    try {
      c10::InferenceMode guard;
      conv1_ = load_unit("conv1", "bn1", {2, 3, 1}, stem_dtype_);
      load_blocks();
      fc_weight_ = load_tensor("fc.weight");
      fc_bias_ = load_tensor("fc.bias");
      if (blocked_) {
        // fc runs as a 1x1 convolution over the pooled features, its weights
        // reordered once: oneDNN's inner product would reorder its plain
        // weights on every call (5 ms, a tenth of a forward pass). It stays
        // float32 whatever the precision: 2% of the work, and in bf16 it
        // alone would add a third to bf16's logit error.
        fc_weight_ = at::mkldnn_reorder_conv2d_weight(
            fc_weight_.view({fc_weight_.size(0), fc_weight_.size(1), 1, 1})
                .to_mkldnn(),
            {0, 0}, {1, 1}, {1, 1}, 1);
      } else {
        fc_weight_ = fc_weight_.to(device_);
        fc_bias_ = fc_bias_.to(device_);
      }
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kModel,
                  checkpoint.path().string() + ": cannot prepare the model: " +
                      detail::first_line(e.what_without_backtrace()));
    }
    checkpoint_ = nullptr;  // only needed while loading
    bind_thread(options.threads);
  }

  void bind_thread(int threads) const override {
    detail::bind_cpu_threads(threads);
  }

  std::int64_t num_classes() const override { return num_classes_; }
  std::int64_t feature_size() const override { return arch_->feature_size(); }
  std::string architecture() const override { return std::string(arch_->name); }
  std::string device() const override { return device_.str(); }
  Precision precision() const override { return precision_; }

  void forward(const float* input, std::int64_t batch, std::int64_t height,
               std::int64_t width, float* logits) const override {
    run(input, batch, height, width, logits, /*logits_wanted=*/true, nullptr);
  }

  void features(const float* input, std::int64_t batch, std::int64_t height,
                std::int64_t width, float* features) const override {
    run(input, batch, height, width, features, /*logits_wanted=*/false,
        nullptr);
  }

  void forward_with_feature_maps(const float* input, std::int64_t batch,
                                 std::int64_t height, std::int64_t width,
                                 float* logits,
                                 float* feature_maps) const override {
    run(input, batch, height, width, logits, /*logits_wanted=*/true,
        feature_maps);
  }

  std::vector<float> classifier_weight() const override {
    try {
      c10::InferenceMode guard;
      // The blocked path's reordered weight reads back in plain layout.
      at::Tensor weight =
          fc_weight_.is_mkldnn() ? fc_weight_.to_dense() : fc_weight_;
      weight = weight.to(at::kCPU, at::kFloat).contiguous();
      const float* values = weight.data_ptr<float>();
      return std::vector<float>(values, values + weight.numel());
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kModel,
                  "cannot read fc's weight: " +
                      detail::first_line(e.what_without_backtrace()));
    }
  }

  std::unique_ptr<BatchQueue> open_batch_queue(
      const BatchShape& shape) const override {
    if (device_.is_cpu()) return nullptr;
    return detail::make_device_batch_queue(
        device_, shape, shape.features ? feature_size() : num_classes(),
        [this](const at::Tensor& input, bool features) {
          return device_output(input, !features);
        });
  }

 private:
  // One state_dict entry as a contiguous float32 tensor on the CPU, which
  // the caller may modify (a copy: the stored bytes are the file's mapping).
  at::Tensor load_tensor(const std::string& name) const {
    const CheckpointTensor* entry = checkpoint_->find(name);
    if (!entry) {
      throw Error(ErrorKind::kCheckpoint,
                  checkpoint_->path().string() + ": missing key " + name);
    }
    try {
      const detail::StoredTensor stored =
          detail::stored_tensor(*checkpoint_, *entry);
      at::Tensor owned = at::empty(entry->sizes, at::kFloat);
      owned.copy_(stored.view);
      return owned;
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kCheckpoint,
                  checkpoint_->path().string() + ": cannot load " + name +
                      ": " + detail::first_line(e.what_without_backtrace()));
    }
  }

  // weight[o, ...] *= factor[o], rounding each product once.
  static void scale_rows(at::Tensor& weight, const at::Tensor& factor) {
    const double* factors = factor.data_ptr<double>();
    float* values = weight.data_ptr<float>();
    const std::int64_t rows = weight.size(0);
    const std::int64_t per_row = weight.numel() / rows;
    for (std::int64_t row = 0; row < rows; ++row) {
      float* row_values = values + row * per_row;
      for (std::int64_t i = 0; i < per_row; ++i) {
        row_values[i] = static_cast<float>(row_values[i] * factors[row]);
      }
    }
  }

  // Every residual block, on two threads taking alternate blocks: loading is
  // copies and page faults, one OpenMP thread each (see the constructor),
  // and a cold start waits for it (measured: 0.17 s alone for ResNet50).
  void load_blocks() {
    std::vector<std::pair<int, int>> where;  // (stage, index) of each block
    for (int stage = 0; stage < 4; ++stage) {
      for (int index = 0;
           index < arch_->layers[static_cast<std::size_t>(stage)]; ++index) {
        where.emplace_back(stage, index);
      }
    }
    blocks_.resize(where.size());
    const auto load_every_other = [this, &where](std::size_t first) {
      for (std::size_t i = first; i < where.size(); i += 2) {
        blocks_[i] = load_block(where[i].first, where[i].second);
      }
    };
    std::future<void> odd = std::async(std::launch::async, [&] {
      c10::InferenceMode guard;
      bind_thread(1);
      load_every_other(1);
    });
    try {
      load_every_other(0);
    } catch (...) {
      odd.wait();
      throw;
    }
    odd.get();
  }

  // One residual block, "layerS.B" with S = stage + 1, B = index.
  Block load_block(int stage, int index) const {
    const std::string prefix =
        "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
    const std::int64_t stride = (stage > 0 && index == 0) ? 2 : 1;
    const auto unit = [&](const std::string& conv, const std::string& bn,
                          const Geometry& geometry) {
      return load_unit(prefix + conv, prefix + bn, geometry, dtype_);
    };
    Block block;
    if (arch_->block == BlockType::kBasicBlock) {
      block.conv1 = unit(".conv1", ".bn1", {stride, 1, 1});
      block.conv2 = unit(".conv2", ".bn2", {1, 1, 1});
    } else {
      block.conv1 = unit(".conv1", ".bn1", {1, 0, 1});
      // torchvision (ResNet v1.5) strides the 3x3 convolution.
      block.conv2 = unit(".conv2", ".bn2", {stride, 1, arch_->groups});
      block.conv3 = unit(".conv3", ".bn3", {1, 0, 1});
    }
    block.has_downsample = arch_->has_downsample(stage, index);
    if (block.has_downsample) {
      block.downsample = unit(".downsample.0", ".downsample.1", {stride, 0, 1});
    }
    return block;
  }

  // A convolution and its BatchNorm, prepared to run in `dtype`.
  ConvUnit load_unit(const std::string& conv, const std::string& bn,
                     const Geometry& geometry, at::ScalarType dtype) const {
    ConvUnit unit;
    unit.geometry = geometry;
    at::Tensor weight = load_tensor(conv + ".weight");
    at::Tensor gamma = load_tensor(bn + ".weight");
    at::Tensor beta = load_tensor(bn + ".bias");
    at::Tensor mean = load_tensor(bn + ".running_mean");
    at::Tensor var = load_tensor(bn + ".running_var");
    if (engine_ == Engine::kReference) {
      unit.weight = weight.to(device_);
      unit.bn_weight = gamma.to(device_);
      unit.bn_bias = beta.to(device_);
      unit.bn_mean = mean.to(device_);
      unit.bn_var = var.to(device_);
      return unit;
    }
    // BatchNorm folded into the convolution: w' = w * g / sqrt(v + eps),
    // b' = b - m * g / sqrt(v + eps), in double and rounded once; the
    // weights are scaled in place, so no second copy of the layer exists.
    const at::Tensor scale = gamma.to(at::kDouble) /
                             (var.to(at::kDouble) + kBatchNormEpsilon).sqrt();
    scale_rows(weight, scale);
    at::Tensor folded_weight = std::move(weight);
    at::Tensor folded_bias =
        (beta.to(at::kDouble) - mean.to(at::kDouble) * scale).to(at::kFloat);
    if (blocked_) {
      // Reordered once into the layout oneDNN's convolution wants.
      unit.weight = at::mkldnn_reorder_conv2d_weight(
          folded_weight.to_mkldnn(dtype), {geometry.padding, geometry.padding},
          {geometry.stride, geometry.stride}, {1, 1}, geometry.groups);
      unit.bias = folded_bias;
    } else {
      unit.weight = folded_weight.to(device_, dtype);
      unit.bias = folded_bias.to(device_, dtype);
      if (channels_last_) {
        unit.weight = unit.weight.contiguous(at::MemoryFormat::ChannelsLast);
      }
    }
    return unit;
  }

  at::Tensor conv(const at::Tensor& x, const ConvUnit& unit) const {
    const Geometry& g = unit.geometry;
    if (mkldnn_) {
      return at::mkldnn_convolution(
          x, unit.weight, unit.bias.defined() ? unit.bias : at::Tensor(),
          {g.padding, g.padding}, {g.stride, g.stride}, {1, 1}, g.groups);
    }
    return at::conv2d(
        x, unit.weight, unit.bias.defined() ? unit.bias : at::Tensor(),
        {g.stride, g.stride}, {g.padding, g.padding}, {1, 1}, g.groups);
  }

  // Convolution and its BatchNorm.
  at::Tensor conv_bn(const at::Tensor& x, const ConvUnit& unit) const {
    at::Tensor y = conv(x, unit);
    if (engine_ != Engine::kReference) return y;
    return at::batch_norm(y, unit.bn_weight, unit.bn_bias, unit.bn_mean,
                          unit.bn_var, /*training=*/false, 0.1,
                          kBatchNormEpsilon, /*cudnn_enabled=*/true);
  }

  // A residual block: BasicBlock or Bottleneck, as the architecture has.
  at::Tensor block_forward(const Block& block, const at::Tensor& x) const {
    at::Tensor out = conv_bn(x, block.conv1).relu_();
    out = conv_bn(out, block.conv2);
    if (arch_->block == BlockType::kBottleneck) {
      out = conv_bn(out.relu_(), block.conv3);
    }
    const at::Tensor identity =
        block.has_downsample ? conv_bn(x, block.downsample) : x;
    return out.add_(identity).relu_();
  }

  // layer4's output, [batch, feature_size(), rows, columns], in the path's
  // type (and oneDNN's layout on the blocked path).
  at::Tensor layer4(const at::Tensor& input) const {
    at::Tensor x = conv_bn(input, conv1_).relu_();
    x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    if (x.scalar_type() != dtype_) {
      x = x.is_mkldnn() ? x.to_dense().to_mkldnn(dtype_) : x.to(dtype_);
    }
    for (const Block& block : blocks_) x = block_forward(block, x);
    return x;
  }

  // The pooled features of layer4's output, [batch, feature_size(), 1, 1],
  // float32 (in oneDNN's layout on the blocked path).
  static at::Tensor pooled(const at::Tensor& layer4_output) {
    at::Tensor x = at::adaptive_avg_pool2d(layer4_output, {1, 1});
    if (x.scalar_type() != at::kFloat) {
      x = x.is_mkldnn() ? x.to_dense().to_mkldnn(at::kFloat) : x.to(at::kFloat);
    }
    return x;
  }

  // Logits (or the pooled features), batch x outputs float32 on the
  // device, of a float32 NCHW batch already there; not the blocked path.
  // `feature_maps`, when given, receives layer4's output (plain float32).
  at::Tensor device_output(const at::Tensor& input, bool logits_wanted,
                           float* feature_maps = nullptr) const {
    at::Tensor x = input;
    x = x.to(stem_dtype_);
    if (channels_last_) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    x = layer4(x);
    if (feature_maps) copy_feature_maps(x, feature_maps);
    at::Tensor result = pooled(x).flatten(1);
    if (logits_wanted) result = at::linear(result, fc_weight_, fc_bias_);
    return result;
  }

  // oneDNN's blocked layout on the CPU.
  at::Tensor blocked_output(const at::Tensor& input, bool logits_wanted,
                            float* feature_maps) const {
    at::Tensor x = layer4(input.to_mkldnn());
    if (feature_maps) copy_feature_maps(x, feature_maps);
    at::Tensor result = pooled(x);
    if (logits_wanted) {
      result = at::mkldnn_convolution(result, fc_weight_, fc_bias_, {0, 0},
                                      {1, 1}, {1, 1}, 1);
    }
    return result.to_dense().flatten(1);
  }

  // layer4's output as plain float32 on the CPU, into `out`.
  static void copy_feature_maps(const at::Tensor& maps, float* out) {
    at::Tensor plain = maps.is_mkldnn() ? maps.to_dense() : maps;
    at::from_blob(out, plain.sizes(), at::kFloat).copy_(plain);
  }

  void run(const float* input, std::int64_t batch, std::int64_t height,
           std::int64_t width, float* out, bool logits_wanted,
           float* feature_maps) const {
    try {
      c10::InferenceMode guard;
      const at::Tensor x = at::from_blob(const_cast<float*>(input),
                                         {batch, 3, height, width}, at::kFloat);
      at::Tensor result =
          blocked_ ? blocked_output(x, logits_wanted, feature_maps)
                   : device_output(x.to(device_), logits_wanted, feature_maps);
      result = result.to(at::kCPU, at::kFloat).contiguous();
      std::memcpy(out, result.data_ptr<float>(),
                  static_cast<std::size_t>(result.numel()) * sizeof(float));
    } catch (const c10::Error& e) {
      detail::throw_device_error(e, device_, batch, "inference failed");
    }
  }

  const Checkpoint* checkpoint_;
  const ArchSpec* arch_;
  at::Device device_;
  Precision precision_;
  Engine engine_;
  at::ScalarType dtype_ = at::kFloat;       // the blocks'
  at::ScalarType stem_dtype_ = at::kFloat;  // conv1's
  bool mkldnn_ = false;                     // convolutions through oneDNN
  bool blocked_ = false;        // weights and activations in oneDNN's layout
  bool channels_last_ = false;  // CUDA: NHWC weights and activations
  std::int64_t num_classes_ = 0;
  ConvUnit conv1_;
  std::vector<Block> blocks_;
  at::Tensor fc_weight_, fc_bias_;
};

// Loading makes and drops copies of every layer (the stored bytes, oneDNN's
// plain and blocked layouts). glibc's malloc serves large blocks from the heap
// once it has freed a few of that size, and the heap keeps what it frees, so
// the dropped copies would pile up: while loading, large blocks are mapped and
// unmapped instead. Setting that threshold also fixes the heap's trim
// threshold at 128 KiB, which would give back and fault in a forward pass's
// activation buffers every time; after loading, both are set so that forward
// passes reuse their buffers from the heap.
class LoadingAllocatorPolicy {
 public:
  LoadingAllocatorPolicy() { mallopt(M_MMAP_THRESHOLD, 256 * 1024); }
  ~LoadingAllocatorPolicy() {
    malloc_trim(0);
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
  }
};

}  // namespace

std::unique_ptr<Model> Model::load(const Checkpoint& checkpoint,
                                   const ModelOptions& options) {
  const LoadingAllocatorPolicy policy;
  if (checkpoint.is_quantized()) {
    return detail::load_quantized_model(
        checkpoint, choose_architecture(checkpoint, options.arch), options);
  }
  if (options.precision == Precision::kInt8) {
    throw Error(ErrorKind::kUsage,
                "--precision int8 runs quantized checkpoints; " +
                    checkpoint.path().string() +
                    " is a float one: make an int8 model of it with "
                    "`resnet-cli quantize --calibrate DIR -o MODEL_DIR`, or "
                    "choose a quantized registry entry (resnet-cli weights "
                    "list)");
  }
  return std::make_unique<ResNet>(checkpoint, options);
}

}  // namespace resnet_cli
