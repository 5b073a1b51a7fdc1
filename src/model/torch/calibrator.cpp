// calibrator.h on LibTorch: torchvision's quantizable ResNet as
// torch.ao.quantization.prepare leaves it after fuse_model (each fused
// module a float convolution with its BatchNorm folded in, ReLU where one
// follows, an observer on its output), run with the ATen operators the
// Python modules call, and converted as convert converts it.
#include "model/calibrator.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/text.h"
#include "model/torch/observers.h"
#include "model/torch/stored_tensor.h"
#include "model/torch/torch_device.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"

namespace resnet_cli::detail {

namespace {

constexpr double kBatchNormEpsilon = 1e-5;  // torchvision's BatchNorm2d

// A fused convolution (ConvReLU2d or Conv2d with its BatchNorm folded) and
// the observer on its output.
struct FusedConv {
  std::string name;  // its module: "conv1", "layer1.0.downsample.0"
  at::Tensor weight;
  at::Tensor bias;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t groups = 1;
  bool relu = false;
  HistogramObserver observer;
};

struct FusedBlock {
  std::vector<FusedConv> convs;
  std::optional<FusedConv> downsample;
  std::string add;  // "layer1.0.add_relu" or "layer1.0.skip_add_relu"
  HistogramObserver add_observer;
};

class TorchCalibrator final : public Calibrator {
 public:
  TorchCalibrator(const Checkpoint& checkpoint,
                  const CalibratorOptions& options)
      : checkpoint_(&checkpoint),
        arch_(&choose_architecture(checkpoint, options.arch)) {
    if (checkpoint.is_quantized()) {
      throw Error(ErrorKind::kUsage,
                  checkpoint.path().string() +
                      " is already quantized; quantize a float checkpoint");
    }
    check_state_dict(checkpoint, *arch_);
    num_classes_ = checkpoint_num_classes(checkpoint, *arch_);
    bind_thread(options.threads);
    try {
      c10::InferenceMode guard;
      conv1_ = fuse("conv1", "bn1", 2, 3, 1, true);
      for (int stage = 0; stage < 4; ++stage) {
        for (int index = 0;
             index < arch_->layers[static_cast<std::size_t>(stage)]; ++index) {
          blocks_.push_back(load_block(stage, index));
        }
      }
      fc_weight_ = load("fc.weight");
      fc_bias_ = load("fc.bias");
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kModel,
                  checkpoint.path().string() + ": cannot prepare the model: " +
                      first_line(e.what_without_backtrace()));
    }
    checkpoint_ = nullptr;
  }

  void bind_thread(int threads) const override { bind_cpu_threads(threads); }

  std::string architecture() const override { return std::string(arch_->name); }
  std::int64_t num_classes() const override { return num_classes_; }
  std::int64_t batches() const override { return batches_; }

  void observe(const float* input, std::int64_t batch, std::int64_t height,
               std::int64_t width) override {
    try {
      c10::InferenceMode guard;
      at::Tensor x = at::from_blob(const_cast<float*>(input),
                                   {batch, 3, height, width}, at::kFloat)
                         .clone();
      quant_.observe(x);
      x = run(conv1_, x);
      x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false);
      for (FusedBlock& block : blocks_) x = run(block, x);
      x = at::flatten(at::adaptive_avg_pool2d(x, {1, 1}), 1);
      fc_observer_.observe(at::linear(x, fc_weight_, fc_bias_));
      ++batches_;
    } catch (const c10::Error& e) {
      throw Error(
          ErrorKind::kModel,
          "calibration failed: " + first_line(e.what_without_backtrace()));
    }
  }

  ConvertedModel convert() const override {
    if (batches_ == 0) {
      throw Error(ErrorKind::kModel, "no calibration batch was observed");
    }
    try {
      c10::InferenceMode guard;
      ConvertedModel model;
      add_conv(model, conv1_);
      for (const FusedBlock& block : blocks_) {
        for (const FusedConv& conv : block.convs) add_conv(model, conv);
        if (block.downsample) add_conv(model, *block.downsample);
        add_qparams(model, block.add, block.add_observer, {});
      }
      add_linear(model);
      add_qparams(model, "quant", quant_, {1});
      model.versions = {{"fc", 3}, {"fc._packed_params", 3}};
      return model;
    } catch (const c10::Error& e) {
      throw Error(
          ErrorKind::kModel,
          "conversion failed: " + first_line(e.what_without_backtrace()));
    }
  }

 private:
  // One state_dict entry as a contiguous float32 tensor.
  at::Tensor load(const std::string& name) const {
    const CheckpointTensor* entry = checkpoint_->find(name);
    if (!entry) {
      throw Error(ErrorKind::kCheckpoint,
                  checkpoint_->path().string() + ": missing key " + name);
    }
    return stored_tensor(*checkpoint_, *entry)
        .view.to(at::kFloat)
        .contiguous()
        .clone();
  }

  // torch.nn.utils.fusion.fuse_conv_bn_weights (the convolution has no
  // bias), in float32 as Python runs it.
  FusedConv fuse(const std::string& conv, const std::string& bn,
                 std::int64_t stride, std::int64_t padding, std::int64_t groups,
                 bool relu) const {
    FusedConv fused;
    fused.name = conv;
    const at::Tensor conv_w = load(conv + ".weight");
    const at::Tensor bn_rm = load(bn + ".running_mean");
    const at::Tensor bn_rv = load(bn + ".running_var");
    const at::Tensor bn_w = load(bn + ".weight");
    const at::Tensor bn_b = load(bn + ".bias");
    const at::Tensor conv_b = at::zeros_like(bn_rm);
    const at::Tensor bn_var_rsqrt = at::rsqrt(bn_rv + kBatchNormEpsilon);
    fused.weight = conv_w * (bn_w * bn_var_rsqrt).reshape({-1, 1, 1, 1});
    fused.bias = (conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b;
    fused.stride = stride;
    fused.padding = padding;
    fused.groups = groups;
    fused.relu = relu;
    return fused;
  }

  // torchvision's QuantizableBasicBlock / QuantizableBottleneck after
  // fuse_model.
  FusedBlock load_block(int stage, int index) const {
    const std::string prefix =
        "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
    const std::int64_t stride = (stage > 0 && index == 0) ? 2 : 1;
    FusedBlock block;
    if (arch_->block == BlockType::kBasicBlock) {
      block.convs.push_back(
          fuse(prefix + ".conv1", prefix + ".bn1", stride, 1, 1, true));
      block.convs.push_back(
          fuse(prefix + ".conv2", prefix + ".bn2", 1, 1, 1, false));
      block.add = prefix + ".add_relu";
    } else {
      block.convs.push_back(
          fuse(prefix + ".conv1", prefix + ".bn1", 1, 0, 1, true));
      block.convs.push_back(fuse(prefix + ".conv2", prefix + ".bn2", stride, 1,
                                 arch_->groups, true));
      block.convs.push_back(
          fuse(prefix + ".conv3", prefix + ".bn3", 1, 0, 1, false));
      block.add = prefix + ".skip_add_relu";
    }
    if (arch_->has_downsample(stage, index)) {
      block.downsample = fuse(prefix + ".downsample.0",
                              prefix + ".downsample.1", stride, 0, 1, false);
    }
    return block;
  }

  // The fused module's forward, its observer taking in its output. A
  // ConvReLU2d is an nn.Sequential, and prepare adds its observer as one more
  // child as well as calling it from a forward hook: PyTorch 1.13 observes
  // its output twice per forward, so every batch counts twice in that
  // histogram (which matters where float32 counts pass 2^24). A plain Conv2d
  // observes once.
  static at::Tensor run(FusedConv& conv, const at::Tensor& x) {
    at::Tensor y = at::conv2d(x, conv.weight, conv.bias, {conv.stride},
                              {conv.padding}, {1}, conv.groups);
    if (conv.relu) {
      y = at::relu(y);
      conv.observer.observe(y);
    }
    conv.observer.observe(y);
    return y;
  }

  // FloatFunctional.add_relu after the block's convolutions.
  static at::Tensor run(FusedBlock& block, const at::Tensor& x) {
    at::Tensor out = x;
    for (FusedConv& conv : block.convs) out = run(conv, out);
    const at::Tensor identity =
        block.downsample ? run(*block.downsample, x) : x;
    at::Tensor sum = at::relu(at::add(out, identity));
    block.add_observer.observe(sum);
    return sum;
  }

  // Copies `tensor` (contiguous) into bytes the model owns.
  static const void* own(ConvertedModel& model, const at::Tensor& tensor) {
    const at::Tensor contiguous = tensor.contiguous();
    const auto* bytes = static_cast<const std::uint8_t*>(contiguous.data_ptr());
    model.owned.emplace_back(bytes, bytes + contiguous.nbytes());
    return model.owned.back().data();
  }

  static StateDictEntry float_entry(ConvertedModel& model, std::string name,
                                    const at::Tensor& tensor,
                                    pickle::ScalarType type) {
    StateDictEntry entry;
    entry.name = std::move(name);
    entry.type = type;
    entry.sizes = tensor.sizes().vec();
    entry.data = own(model, tensor);
    return entry;
  }

  // _quantize_weight with default_per_channel_weight_observer: qint8, per
  // channel on axis 0, symmetric.
  static StateDictEntry quantized_weight(ConvertedModel& model,
                                         std::string name,
                                         const at::Tensor& weight) {
    const at::Tensor scales = per_channel_symmetric_scales(weight);
    const at::Tensor zero_points = at::zeros({scales.size(0)}, at::kLong);
    const at::Tensor quantized = at::quantize_per_channel(
        weight, scales.to(at::kDouble), zero_points, 0, at::kQInt8);
    StateDictEntry entry;
    entry.name = std::move(name);
    entry.type = pickle::ScalarType::kQInt8;
    entry.sizes = weight.sizes().vec();
    entry.data = own(model, quantized.int_repr());
    StateDictQuantization& q = model.quantizations.emplace_back();
    q.per_channel = true;
    const at::Tensor doubles = scales.to(at::kDouble).contiguous();
    q.scales.assign(doubles.data_ptr<double>(),
                    doubles.data_ptr<double>() + doubles.numel());
    q.zero_points.assign(static_cast<std::size_t>(scales.size(0)), 0);
    entry.quantization = &q;
    return entry;
  }

  // "<module>.scale" and "<module>.zero_point" from its observer, shaped
  // `shape` ([] for a module's attributes, [1] for Quantize's buffers).
  static void add_qparams(ConvertedModel& model, const std::string& module,
                          const HistogramObserver& observer,
                          const std::vector<std::int64_t>& shape) {
    const ObservedQParams q = observer.calculate_qparams();
    model.activations.push_back({module, q.scale, q.zero_point});
    model.entries.push_back(float_entry(model, module + ".scale",
                                        at::full(shape, q.scale),
                                        pickle::ScalarType::kFloat32));
    model.entries.push_back(float_entry(
        model, module + ".zero_point",
        at::full(shape, q.zero_point, at::TensorOptions().dtype(at::kLong)),
        pickle::ScalarType::kInt64));
  }

  static void add_conv(ConvertedModel& model, const FusedConv& conv) {
    model.entries.push_back(
        quantized_weight(model, conv.name + ".weight", conv.weight));
    model.entries.push_back(float_entry(model, conv.name + ".bias", conv.bias,
                                        pickle::ScalarType::kFloat32));
    add_qparams(model, conv.name, conv.observer, {});
  }

  void add_linear(ConvertedModel& model) const {
    add_qparams(model, "fc", fc_observer_, {});
    StateDictEntry dtype;
    dtype.name = kQuantizedFcDType;
    dtype.dtype = "qint8";
    model.entries.push_back(dtype);
    StateDictEntry packed;
    packed.name = "fc._packed_params._packed_params";
    packed.tuple.push_back(quantized_weight(model, "weight", fc_weight_));
    packed.tuple.push_back(
        float_entry(model, "bias", fc_bias_, pickle::ScalarType::kFloat32));
    model.entries.push_back(std::move(packed));
  }

  const Checkpoint* checkpoint_;
  const ArchSpec* arch_;
  std::int64_t num_classes_ = 0;
  std::int64_t batches_ = 0;
  HistogramObserver quant_;
  FusedConv conv1_;
  std::vector<FusedBlock> blocks_;
  at::Tensor fc_weight_, fc_bias_;
  HistogramObserver fc_observer_;
};

}  // namespace

std::unique_ptr<Calibrator> make_calibrator(const Checkpoint& checkpoint,
                                            const CalibratorOptions& options) {
  return std::make_unique<TorchCalibrator>(checkpoint, options);
}

}  // namespace resnet_cli::detail
