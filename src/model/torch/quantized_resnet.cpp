// torchvision's quantizable ResNets once converted (torchvision.models.
// quantization after fuse_model, prepare and convert): their state_dict read
// and checked, and run on oneDNN's integer kernels (int8_layers.h) and
// PyTorch's element-wise arithmetic (quantized_kernels.h), so that each
// activation is the byte PyTorch's onednn engine computes.
//
// The graph is torchvision's QuantizableResNet: quant -> conv1 (+ReLU) ->
// maxpool -> blocks -> avgpool -> fc -> dequant, each block's convolutions
// fused with their BatchNorm (and ReLU where one follows) and its residual
// add an add_relu with its own scale and zero point.
#include "model/torch/quantized_resnet.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/text.h"
#include "model/torch/int8_layers.h"
#include "model/torch/quantized_kernels.h"
#include "model/torch/stored_tensor.h"
#include "model/torch/torch_device.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"

namespace resnet_cli::detail {

namespace {

using Bytes = std::unique_ptr<std::uint8_t[]>;

Bytes allocate(std::int64_t count) {
  return Bytes(new std::uint8_t[static_cast<std::size_t>(count)]);
}

// A residual block's layers: BasicBlock (conv1, conv2) or Bottleneck (conv1,
// conv2, conv3), an optional downsample, and the add_relu's parameters.
struct QBlock {
  QParams input;  // the block's input: the previous block's add, or the stem's
  std::vector<std::unique_ptr<Int8Convolution>> convs;
  std::unique_ptr<Int8Convolution> downsample;
  QParams add;
};

// Reads the parts of a converted state_dict and checks what oneDNN's engine
// can run.
class QuantizedReader {
 public:
  explicit QuantizedReader(const Checkpoint& checkpoint)
      : checkpoint_(checkpoint) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(ErrorKind::kCheckpoint,
                checkpoint_.path().string() + ": " + key + " " + why);
  }

  const CheckpointTensor& entry(const std::string& key) const {
    const CheckpointTensor* found = checkpoint_.find(key);
    if (!found) fail(key, "is missing");
    return *found;
  }

  at::Tensor values(const std::string& key) const {
    try {
      return stored_tensor(checkpoint_, entry(key)).view.contiguous();
    } catch (const c10::Error& e) {
      fail(key, std::string("cannot be read: ") +
                    first_line(e.what_without_backtrace()));
    }
  }

  // A module's output scale and zero point ("<module>.scale",
  // "<module>.zero_point"): a float and an integer, [] or [1].
  QParams qparams(const std::string& module) const {
    const at::Tensor scale = values(module + ".scale");
    const at::Tensor zero_point = values(module + ".zero_point");
    if (scale.numel() != 1 || !scale.is_floating_point()) {
      fail(module + ".scale", "is not one float");
    }
    if (zero_point.numel() != 1 || zero_point.is_floating_point()) {
      fail(module + ".zero_point", "is not one integer");
    }
    QParams params;
    params.scale = scale.to(at::kFloat).item<float>();
    const std::int64_t zp = zero_point.to(at::kLong).item<std::int64_t>();
    if (!std::isfinite(params.scale) || params.scale <= 0) {
      fail(module + ".scale",
           "is " + std::to_string(params.scale) + ", not a positive scale");
    }
    if (zp < 0 || zp > 255) {
      fail(module + ".zero_point",
           "is " + std::to_string(zp) + ", outside quint8's 0..255");
    }
    params.zero_point = static_cast<std::int32_t>(zp);
    return params;
  }

  // A quantized weight's integers and scales, refused unless oneDNN's
  // integer kernels can run it: qint8, affine, zero points 0, channels on
  // axis 0.
  std::vector<std::int8_t> weight(const std::string& key,
                                  WeightScales& scales) const {
    const CheckpointTensor& tensor = entry(key);
    if (!tensor.quantization) fail(key, "is not quantized");
    const QuantizationParams& q = *tensor.quantization;
    const std::string cannot =
        ": oneDNN's integer kernels (PyTorch's onednn engine) need qint8 "
        "weights quantized per tensor or per output channel with zero "
        "points 0";
    if (q.scheme == pickle::QScheme::kPerChannelAffineFloatQParams ||
        (q.scheme == pickle::QScheme::kPerChannelAffine && q.axis != 0)) {
      fail(key, std::string("is quantized ") + pickle::qscheme_name(q.scheme) +
                    " on axis " + std::to_string(q.axis) + cannot);
    }
    if (tensor.type != pickle::ScalarType::kQInt8) {
      fail(key,
           std::string("is ") + pickle::scalar_type_name(tensor.type) + cannot);
    }
    if (q.scheme == pickle::QScheme::kPerTensorAffine) {
      if (q.zero_point != 0) {
        fail(key, "has zero point " + std::to_string(q.zero_point) + cannot);
      }
      scales = {false, {q.scale}};
    } else {
      for (const double zero_point : q.zero_points) {
        if (zero_point != 0) {
          fail(key, "has zero point " + std::to_string(zero_point) + cannot);
        }
      }
      scales = {true, q.scales};
    }
    const at::Tensor integers = values(key);
    const auto* data = integers.data_ptr<std::int8_t>();
    return std::vector<std::int8_t>(data, data + integers.numel());
  }

  std::vector<float> bias(const std::string& key) const {
    const at::Tensor tensor = values(key);
    if (!tensor.is_floating_point()) fail(key, "is not a float tensor");
    const at::Tensor floats = tensor.to(at::kFloat).contiguous();
    const float* data = floats.data_ptr<float>();
    return std::vector<float>(data, data + floats.numel());
  }

  // The packed parameters' dtype, when the file records one, must be
  // qint8 (float16 is a dynamically quantized Linear).
  void check_linear_dtype() const {
    const CheckpointDType* dtype = checkpoint_.find_dtype(kQuantizedFcDType);
    if (dtype && dtype->dtype != "qint8") {
      fail(kQuantizedFcDType,
           "is torch." + dtype->dtype +
               ": a dynamically quantized Linear, which resnet-cli does not "
               "run (it runs statically quantized networks, qint8)");
    }
  }

 private:
  const Checkpoint& checkpoint_;
};

}  // namespace

class QuantizedResNet final : public Model {
 public:
  QuantizedResNet(const Checkpoint& checkpoint, const ArchSpec& arch,
                  const ModelOptions& options)
      : arch_(&arch) {
    check_state_dict(checkpoint, arch);
    num_classes_ = checkpoint_num_classes(checkpoint, arch);
    const QuantizedReader reader(checkpoint);
    reader.check_linear_dtype();
    bind_thread(1);
    c10::InferenceMode guard;
    input_ = reader.qparams("quant");
    conv1_ = std::make_unique<Int8Convolution>(
        conv_spec(reader, "conv1", input_, {64, 3, 7, 2, 3, 1, true}));
    QParams x = conv1_->output_params();
    for (int stage = 0; stage < 4; ++stage) {
      for (int index = 0; index < arch.layers[static_cast<std::size_t>(stage)];
           ++index) {
        blocks_.push_back(load_block(reader, stage, index, x));
        x = blocks_.back().add;
      }
    }
    Int8LinearSpec fc;
    fc.in_features = arch.feature_size();
    fc.out_features = num_classes_;
    const QuantizedFcKeys keys = quantized_fc_keys(checkpoint);
    fc.weight = reader.weight(keys.weight, fc.weight_scales);
    fc.bias = reader.bias(keys.bias);
    fc.input = x;  // avgpool keeps its input's parameters
    fc.output = reader.qparams("fc");
    classifier_weight_ = dequantized_weight(fc);
    fc_ = std::make_unique<Int8Linear>(std::move(fc));
    bind_thread(options.threads);
  }

  void bind_thread(int threads) const override { bind_cpu_threads(threads); }

  std::int64_t num_classes() const override { return num_classes_; }
  std::int64_t feature_size() const override { return arch_->feature_size(); }
  std::string architecture() const override { return std::string(arch_->name); }
  std::string device() const override { return "cpu"; }
  Precision precision() const override { return Precision::kInt8; }
  // A CPU model: the pipeline's workers call forward() themselves.
  std::unique_ptr<BatchQueue> open_batch_queue(
      const BatchShape&) const override {
    return nullptr;
  }

  void forward(const float* input, std::int64_t batch, std::int64_t height,
               std::int64_t width, float* logits) const override {
    forward_with_feature_maps(input, batch, height, width, logits, nullptr);
  }

  // layer4's quint8 output dequantized (what PyTorch's dequantize() of it
  // gives), channel-major per image; the logits from the same pass.
  void forward_with_feature_maps(const float* input, std::int64_t batch,
                                 std::int64_t height, std::int64_t width,
                                 float* logits,
                                 float* feature_maps) const override {
    std::int64_t h = 0;
    std::int64_t w = 0;
    const Bytes maps = layer4(input, batch, height, width, h, w);
    if (feature_maps) {
      nhwc_to_float_nchw(maps.get(), batch, h * w, feature_maps);
    }
    const std::int64_t channels = feature_size();
    Bytes pooled = allocate(batch * channels);
    global_average_pool(maps.get(), batch, h * w, channels, blocks_.back().add,
                        pooled.get());
    const Bytes out = allocate(batch * num_classes_);
    run_onednn([&] {
      dnnl::stream stream(cpu_engine());
      fc_->run(pooled.get(), batch, out.get(), stream);
    });
    dequantize(out.get(), batch * num_classes_, fc_->output_params(), logits);
  }

  // fc's qint8 weight times its scales, [num_classes, feature_size].
  std::vector<float> classifier_weight() const override {
    return classifier_weight_;
  }

  void features(const float* input, std::int64_t batch, std::int64_t height,
                std::int64_t width, float* features) const override {
    const Bytes pooled = pooled_features(input, batch, height, width);
    dequantize(pooled.get(), batch * feature_size(), blocks_.back().add,
               features);
  }

 private:
  // Geometry of a convolution: out, in, kernel, stride, padding, groups,
  // ReLU fused.
  struct Shape {
    std::int64_t out, in, kernel, stride, padding, groups;
    bool relu;
  };

  static Int8ConvSpec conv_spec(const QuantizedReader& reader,
                                const std::string& name, const QParams& input,
                                const Shape& shape) {
    Int8ConvSpec spec;
    spec.out_channels = shape.out;
    spec.in_channels = shape.in;
    spec.kernel = shape.kernel;
    spec.stride = shape.stride;
    spec.padding = shape.padding;
    spec.groups = shape.groups;
    spec.relu = shape.relu;
    spec.weight = reader.weight(name + ".weight", spec.weight_scales);
    spec.bias = reader.bias(name + ".bias");
    spec.input = input;
    spec.output = reader.qparams(name);
    return spec;
  }

  // Block `index` of stage `stage` ("layerS.B"), whose input has the
  // parameters `x`.
  QBlock load_block(const QuantizedReader& reader, int stage, int index,
                    const QParams& x) const {
    const std::string prefix =
        "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
    const std::int64_t stride = (stage > 0 && index == 0) ? 2 : 1;
    const std::int64_t width = arch_->width(stage);
    const std::int64_t out = (std::int64_t{64} << stage) * arch_->expansion();
    const std::int64_t in =
        index > 0
            ? out
            : (stage == 0 ? 64
                          : (std::int64_t{32} << stage) * arch_->expansion());
    QBlock block;
    block.input = x;
    std::string add = prefix + ".add_relu";
    const auto next = [&](const std::string& name, const Shape& shape) {
      const QParams input =
          block.convs.empty() ? x : block.convs.back()->output_params();
      block.convs.push_back(std::make_unique<Int8Convolution>(
          conv_spec(reader, prefix + "." + name, input, shape)));
    };
    if (arch_->block == BlockType::kBasicBlock) {
      next("conv1", {width, in, 3, stride, 1, 1, true});
      next("conv2", {width, width, 3, 1, 1, 1, false});
    } else {
      next("conv1", {width, in, 1, 1, 0, 1, true});
      // torchvision (ResNet v1.5) strides the 3x3 convolution.
      next("conv2", {width, width, 3, stride, 1, arch_->groups, true});
      next("conv3", {out, width, 1, 1, 0, 1, false});
      add = prefix + ".skip_add_relu";
    }
    if (arch_->has_downsample(stage, index)) {
      block.downsample = std::make_unique<Int8Convolution>(
          conv_spec(reader, prefix + ".downsample.0", x,
                    {out, in, 1, stride, 0, 1, false}));
    }
    block.add = reader.qparams(add);
    return block;
  }

  static std::vector<float> dequantized_weight(const Int8LinearSpec& fc) {
    std::vector<float> weight(fc.weight.size());
    for (std::int64_t o = 0; o < fc.out_features; ++o) {
      const double scale =
          fc.weight_scales
              .scales[fc.weight_scales.per_channel ? static_cast<std::size_t>(o)
                                                   : 0];
      for (std::int64_t i = 0; i < fc.in_features; ++i) {
        const auto at = static_cast<std::size_t>(o * fc.in_features + i);
        weight[at] = static_cast<float>(fc.weight[at] * scale);
      }
    }
    return weight;
  }

  // oneDNN's failures as the model's errors.
  template <typename Run>
  static void run_onednn(const Run& run) {
    try {
      run();
    } catch (const dnnl::error& e) {
      throw Error(ErrorKind::kModel,
                  std::string("inference failed: oneDNN: ") + e.what());
    }
  }

  // `maps`: batch x cells x feature_size() quint8 (NHWC) to floats, batch x
  // feature_size() x cells.
  void nhwc_to_float_nchw(const std::uint8_t* maps, std::int64_t batch,
                          std::int64_t cells, float* out) const {
    const std::int64_t channels = feature_size();
    std::vector<float> nhwc(static_cast<std::size_t>(cells * channels));
    for (std::int64_t n = 0; n < batch; ++n) {
      dequantize(maps + n * cells * channels, cells * channels,
                 blocks_.back().add, nhwc.data());
      float* image = out + n * channels * cells;
      for (std::int64_t cell = 0; cell < cells; ++cell) {
        for (std::int64_t c = 0; c < channels; ++c) {
          image[c * cells + cell] =
              nhwc[static_cast<std::size_t>(cell * channels + c)];
        }
      }
    }
  }

  // The quantized average-pooled features, [batch, feature_size()].
  Bytes pooled_features(const float* input, std::int64_t batch,
                        std::int64_t height, std::int64_t width) const {
    std::int64_t h = 0;
    std::int64_t w = 0;
    const Bytes maps = layer4(input, batch, height, width, h, w);
    Bytes pooled = allocate(batch * feature_size());
    global_average_pool(maps.get(), batch, h * w, feature_size(),
                        blocks_.back().add, pooled.get());
    return pooled;
  }

  // layer4's quint8 output, batch x h x w x feature_size() (NHWC); `h` and
  // `w` its grid.
  Bytes layer4(const float* input, std::int64_t batch, std::int64_t height,
               std::int64_t width, std::int64_t& h, std::int64_t& w) const {
    try {
      dnnl::stream stream(cpu_engine());
      Bytes x = allocate(batch * height * width * 3);
      quantize_nchw_to_nhwc(input, batch, 3, height, width, input_, x.get());
      h = conv1_->output_size(height);
      w = conv1_->output_size(width);
      Bytes stem = allocate(batch * h * w * 64);
      conv1_->run(x.get(), batch, height, width, stem.get(), stream);
      const std::int64_t ph = pool_.output_size(h);
      const std::int64_t pw = pool_.output_size(w);
      x = allocate(batch * ph * pw * 64);
      pool_.run(stem.get(), batch, 64, h, w, x.get(), stream);
      stem.reset();
      h = ph;
      w = pw;
      for (const QBlock& block : blocks_) {
        x = block_forward(block, std::move(x), batch, h, w, stream);
      }
      return x;
    } catch (const dnnl::error& e) {
      throw Error(ErrorKind::kModel,
                  std::string("inference failed: oneDNN: ") + e.what());
    }
  }

  // One residual block; updates the spatial size.
  Bytes block_forward(const QBlock& block, Bytes x, std::int64_t batch,
                      std::int64_t& h, std::int64_t& w,
                      dnnl::stream& stream) const {
    Bytes out;
    const std::uint8_t* in = x.get();
    std::int64_t oh = h;
    std::int64_t ow = w;
    for (const auto& conv : block.convs) {
      const std::int64_t nh = conv->output_size(oh);
      const std::int64_t nw = conv->output_size(ow);
      Bytes next = allocate(batch * nh * nw * conv->out_channels());
      conv->run(in, batch, oh, ow, next.get(), stream);
      out = std::move(next);
      in = out.get();
      oh = nh;
      ow = nw;
    }
    const Int8Convolution& last = *block.convs.back();
    const std::int64_t count = batch * oh * ow * last.out_channels();
    Bytes identity;
    const std::uint8_t* skip = x.get();
    QParams identity_params = block.input;
    if (block.downsample) {
      identity = allocate(count);
      block.downsample->run(x.get(), batch, h, w, identity.get(), stream);
      skip = identity.get();
      identity_params = block.downsample->output_params();
    }
    Bytes sum = allocate(count);
    add_relu(out.get(), last.output_params(), skip, identity_params, count,
             block.add, sum.get());
    h = oh;
    w = ow;
    return sum;
  }

  const ArchSpec* arch_;
  std::int64_t num_classes_ = 0;
  QParams input_;
  std::unique_ptr<Int8Convolution> conv1_;
  Int8MaxPool pool_{3, 2, 1};
  std::vector<QBlock> blocks_;
  std::unique_ptr<Int8Linear> fc_;
  std::vector<float> classifier_weight_;  // fc's, dequantized
};

std::unique_ptr<Model> load_quantized_model(const Checkpoint& checkpoint,
                                            const ArchSpec& arch,
                                            const ModelOptions& options) {
  if (options.device != "cpu" && ascii_lower(options.device) != "cpu") {
    throw Error(ErrorKind::kDevice,
                "--device " + options.device +
                    ": quantized (int8) networks run on the CPU only");
  }
  if (options.precision == Precision::kBFloat16 ||
      options.precision == Precision::kFloat16) {
    throw Error(ErrorKind::kUsage,
                checkpoint.path().string() + " is quantized (int8); " +
                    "--precision " + std::string(enum_name(options.precision)) +
                    " runs float checkpoints only");
  }
  if (options.engine == Engine::kReference) {
    throw Error(ErrorKind::kUsage, "the reference path runs in fp32 only");
  }
  return std::make_unique<QuantizedResNet>(checkpoint, arch, options);
}

}  // namespace resnet_cli::detail
