#include "model/torch/int8_layers.h"

#include <utility>

namespace resnet_cli::detail {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Type = memory::data_type;

// oneDNN's scale of an activation: PyTorch's reciprocal, computed in double
// and rounded to float once, as ideep takes 1.0 / q_scale().
float reciprocal(float scale) {
  return static_cast<float>(1.0 / static_cast<double>(scale));
}

// The weights' oneDNN scales, as PyTorch's onednn prepack computes them: per
// channel 1.0f / (float)scale, per tensor (float)(1.0 / scale).
std::vector<float> weight_reciprocals(const WeightScales& weights) {
  std::vector<float> out;
  for (const double scale : weights.scales) {
    out.push_back(weights.per_channel ? 1.0f / static_cast<float>(scale)
                                      : static_cast<float>(1.0 / scale));
  }
  return out;
}

// ideep's utils::compute_scales: bias scales src * weight, output scales
// dst / (src * weight), in float.
void compute_scales(const QParams& input, const QParams& output,
                    const WeightScales& weights,
                    std::vector<float>& bias_scales,
                    std::vector<float>& output_scales) {
  const float src = reciprocal(input.scale);
  const float dst = reciprocal(output.scale);
  for (const float weight : weight_reciprocals(weights)) {
    bias_scales.push_back(src * weight);
    output_scales.push_back(dst / bias_scales.back());
  }
}

// The attributes ideep gives a quantized convolution or matmul.
dnnl::primitive_attr int8_attr(const std::vector<float>& output_scales,
                               bool per_channel, bool runtime_src_zero_point,
                               std::int32_t src_zero_point,
                               std::int32_t dst_zero_point, bool relu) {
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  attr.set_output_scales(per_channel ? 1 << 1 : 0, output_scales);
  attr.set_zero_points(
      DNNL_ARG_SRC, 0,
      {runtime_src_zero_point ? DNNL_RUNTIME_S32_VAL : src_zero_point});
  attr.set_zero_points(DNNL_ARG_WEIGHTS, 0, {0});
  attr.set_zero_points(DNNL_ARG_DST, 0, {dst_zero_point});
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// A reorder of `from` into `desc`, scaled per the attribute (none: a plain
// copy).
memory reordered(const memory& from, const memory::desc& desc,
                 const dnnl::primitive_attr& attr = {}) {
  memory to(desc, cpu_engine());
  dnnl::stream stream(cpu_engine());
  dnnl::reorder(from, to, attr).execute(stream, const_cast<memory&>(from), to);
  stream.wait();
  return to;
}

// A bias reordered into `desc` with ideep's bias scales (src * weight), so
// that it adds to the integer accumulator before the output scales.
memory scale_bias(const std::vector<float>& bias, const memory::dims& dims,
                  Tag tag, const std::vector<float>& scales, int mask,
                  const memory::desc& desc) {
  memory plain({dims, Type::f32, tag}, cpu_engine(),
               const_cast<float*>(bias.data()));
  dnnl::primitive_attr attr;
  attr.set_output_scales(mask, scales);
  return reordered(plain, desc, attr);
}

void execute(const dnnl::primitive& primitive,
             std::unordered_map<int, memory> args, std::size_t scratchpad_bytes,
             dnnl::stream& stream) {
  std::unique_ptr<std::uint8_t[]> scratchpad;
  if (scratchpad_bytes) {
    scratchpad.reset(new std::uint8_t[scratchpad_bytes]);
    args.emplace(
        DNNL_ARG_SCRATCHPAD,
        memory({{static_cast<memory::dim>(scratchpad_bytes)}, Type::u8, Tag::a},
               cpu_engine(), scratchpad.get()));
  }
  primitive.execute(stream, args);
  stream.wait();
}

}  // namespace

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// ---------------------------------------------------------------------------
// Convolution

Int8Convolution::Int8Convolution(Int8ConvSpec spec) : spec_(std::move(spec)) {
  std::vector<float> output_scales;
  compute_scales(spec_.input, spec_.output, spec_.weight_scales, bias_scales_,
                 output_scales);
  attr_ = int8_attr(output_scales, spec_.weight_scales.per_channel,
                    /*runtime_src_zero_point=*/true, 0, spec_.output.zero_point,
                    spec_.relu);
  src_zero_point_ = memory({{1}, Type::s32, Tag::a}, cpu_engine());
  *static_cast<std::int32_t*>(src_zero_point_.get_data_handle()) =
      spec_.input.zero_point;
}

std::int64_t Int8Convolution::output_size(std::int64_t size) const {
  return (size + 2 * spec_.padding - spec_.kernel) / spec_.stride + 1;
}

dnnl::memory Int8Convolution::packed_weights(const memory::desc& desc) const {
  for (const auto& [format, weights] : packed_) {
    if (format == desc) return weights;
  }
  const Int8ConvSpec& s = spec_;
  const memory::dims dims =
      s.groups > 1
          ? memory::dims{s.groups, s.out_channels / s.groups,
                         s.in_channels / s.groups, s.kernel, s.kernel}
          : memory::dims{s.out_channels, s.in_channels, s.kernel, s.kernel};
  memory plain({dims, Type::s8, s.groups > 1 ? Tag::goihw : Tag::oihw},
               cpu_engine(), const_cast<std::int8_t*>(s.weight.data()));
  memory weights = reordered(plain, desc);
  packed_.emplace_back(desc, weights);
  return weights;
}

dnnl::memory Int8Convolution::scaled_bias(const memory::desc& desc) const {
  const int mask = spec_.weight_scales.per_channel ? 1 : 0;
  return scale_bias(spec_.bias, {spec_.out_channels}, Tag::a, bias_scales_,
                    mask, desc);
}

const Int8Convolution::Prepared& Int8Convolution::prepare(
    std::int64_t batch, std::int64_t height, std::int64_t width) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = prepared_[{batch, height, width}];
  if (slot) return *slot;
  const Int8ConvSpec& s = spec_;
  const memory::desc src({batch, s.in_channels, height, width}, Type::u8,
                         Tag::nhwc);
  const memory::desc dst(
      {batch, s.out_channels, output_size(height), output_size(width)},
      Type::u8, Tag::nhwc);
  const memory::dims weight_dims =
      s.groups > 1
          ? memory::dims{s.groups, s.out_channels / s.groups,
                         s.in_channels / s.groups, s.kernel, s.kernel}
          : memory::dims{s.out_channels, s.in_channels, s.kernel, s.kernel};
  const memory::desc weights(weight_dims, Type::s8, Tag::any);
  const memory::dims strides{s.stride, s.stride};
  const memory::dims padding{s.padding, s.padding};
  const auto kind = dnnl::prop_kind::forward_inference;
  const auto algorithm = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::desc desc =
      s.bias.empty()
          ? dnnl::convolution_forward::desc(kind, algorithm, src, weights, dst,
                                            strides, padding, padding)
          : dnnl::convolution_forward::desc(
                kind, algorithm, src, weights,
                memory::desc({s.out_channels}, Type::f32, Tag::any), dst,
                strides, padding, padding);
  const dnnl::convolution_forward::primitive_desc pd(desc, attr_, cpu_engine());
  auto prepared = std::make_unique<Prepared>();
  prepared->primitive = dnnl::convolution_forward(pd);
  prepared->weights = packed_weights(pd.weights_desc());
  if (!s.bias.empty()) prepared->bias = scaled_bias(pd.bias_desc());
  prepared->scratchpad_bytes = pd.scratchpad_desc().get_size();
  slot = std::move(prepared);
  return *slot;
}

void Int8Convolution::run(const std::uint8_t* src, std::int64_t batch,
                          std::int64_t height, std::int64_t width,
                          std::uint8_t* dst, dnnl::stream& stream) const {
  const Prepared& p = prepare(batch, height, width);
  const memory::desc src_desc({batch, spec_.in_channels, height, width},
                              Type::u8, Tag::nhwc);
  const memory::desc dst_desc(
      {batch, spec_.out_channels, output_size(height), output_size(width)},
      Type::u8, Tag::nhwc);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC,
       memory(src_desc, cpu_engine(), const_cast<std::uint8_t*>(src))},
      {DNNL_ARG_WEIGHTS, p.weights},
      {DNNL_ARG_DST, memory(dst_desc, cpu_engine(), dst)},
      {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, src_zero_point_},
  };
  if (p.bias) args.emplace(DNNL_ARG_BIAS, p.bias);
  execute(p.primitive, std::move(args), p.scratchpad_bytes, stream);
}

// ---------------------------------------------------------------------------
// Max pool

std::int64_t Int8MaxPool::output_size(std::int64_t size) const {
  return (size + 2 * padding_ - kernel_) / stride_ + 1;
}

void Int8MaxPool::run(const std::uint8_t* src, std::int64_t batch,
                      std::int64_t channels, std::int64_t height,
                      std::int64_t width, std::uint8_t* dst,
                      dnnl::stream& stream) const {
  const memory::desc src_desc({batch, channels, height, width}, Type::u8,
                              Tag::nhwc);
  const memory::desc dst_desc(
      {batch, channels, output_size(height), output_size(width)}, Type::u8,
      Tag::nhwc);
  const dnnl::pooling_forward* primitive = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = prepared_[{batch, channels, height, width}];
    if (!slot) {
      const dnnl::pooling_forward::desc desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
          src_desc, dst_desc, {stride_, stride_}, {kernel_, kernel_},
          {padding_, padding_}, {padding_, padding_});
      slot = std::make_unique<dnnl::pooling_forward>(
          dnnl::pooling_forward::primitive_desc(desc, cpu_engine()));
    }
    primitive = slot.get();
  }
  execute(*primitive,
          {{DNNL_ARG_SRC,
            memory(src_desc, cpu_engine(), const_cast<std::uint8_t*>(src))},
           {DNNL_ARG_DST, memory(dst_desc, cpu_engine(), dst)}},
          0, stream);
}

// ---------------------------------------------------------------------------
// Linear

Int8Linear::Int8Linear(Int8LinearSpec spec) : spec_(std::move(spec)) {
  std::vector<float> output_scales;
  compute_scales(spec_.input, spec_.output, spec_.weight_scales, bias_scales_,
                 output_scales);
  // ideep's static matmul: the zero points are constants of the primitive.
  attr_ = int8_attr(output_scales, spec_.weight_scales.per_channel,
                    /*runtime_src_zero_point=*/false, spec_.input.zero_point,
                    spec_.output.zero_point, /*relu=*/false);
}

const Int8Linear::Prepared& Int8Linear::prepare(std::int64_t batch) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = prepared_[batch];
  if (slot) return *slot;
  const Int8LinearSpec& s = spec_;
  const memory::desc src({batch, s.in_features}, Type::u8, Tag::ab);
  const memory::desc dst({batch, s.out_features}, Type::u8, Tag::ab);
  const memory::desc weights({s.in_features, s.out_features}, Type::s8,
                             Tag::any);
  const dnnl::matmul::desc desc =
      s.bias.empty()
          ? dnnl::matmul::desc(src, weights, dst)
          : dnnl::matmul::desc(
                src, weights,
                memory::desc({1, s.out_features}, Type::f32, Tag::ab), dst);
  const dnnl::matmul::primitive_desc pd(desc, attr_, cpu_engine());
  auto prepared = std::make_unique<Prepared>();
  prepared->primitive = dnnl::matmul(pd);
  // The stored [out, in] weight read as [in, out] (ideep transposes it).
  memory plain({{s.in_features, s.out_features}, Type::s8, Tag::ba},
               cpu_engine(), const_cast<std::int8_t*>(s.weight.data()));
  prepared->weights = reordered(plain, pd.weights_desc());
  if (!s.bias.empty()) {
    const int mask = s.weight_scales.per_channel ? 1 << 1 : 0;
    prepared->bias = scale_bias(s.bias, {1, s.out_features}, Tag::ab,
                                bias_scales_, mask, pd.bias_desc());
  }
  prepared->scratchpad_bytes = pd.scratchpad_desc().get_size();
  slot = std::move(prepared);
  return *slot;
}

void Int8Linear::run(const std::uint8_t* src, std::int64_t batch,
                     std::uint8_t* dst, dnnl::stream& stream) const {
  const Prepared& p = prepare(batch);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory({{batch, spec_.in_features}, Type::u8, Tag::ab},
                            cpu_engine(), const_cast<std::uint8_t*>(src))},
      {DNNL_ARG_WEIGHTS, p.weights},
      {DNNL_ARG_DST, memory({{batch, spec_.out_features}, Type::u8, Tag::ab},
                            cpu_engine(), dst)},
  };
  if (p.bias) args.emplace(DNNL_ARG_BIAS, p.bias);
  execute(p.primitive, std::move(args), p.scratchpad_bytes, stream);
}

}  // namespace resnet_cli::detail
