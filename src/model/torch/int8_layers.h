// The quantized network's convolutions, max pool and classifier on oneDNN's
// integer primitives (VNNI where the CPU has it), set up as PyTorch 1.13's
// onednn engine sets them up (ideep, over the same libdnnl), so that every
// output byte is the one PyTorch computes:
//   - src u8 with a runtime zero point, weights s8 (zero points 0), bias f32
//     scaled by src_scale * weight_scale, dst u8 with its zero point;
//   - oneDNN's scales are PyTorch's reciprocals, as ideep takes them: src
//     (float)(1 / input_scale), weights 1.0f / (float)scale per channel or
//     (float)(1 / scale) per tensor, dst (float)(1 / output_scale); output
//     scales dst / (src * weight), in float;
//   - ReLU, when fused, as an eltwise post-op.
// Activations are NHWC. Primitives are made per input shape on first use and
// kept; run() may be called from several threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

#include "model/torch/quantized_kernels.h"

namespace resnet_cli::detail {

dnnl::engine& cpu_engine();

// A weight tensor's quantization: one scale (per tensor) or one per output
// channel, as the checkpoint stores them (PyTorch's convention, doubles).
struct WeightScales {
  bool per_channel = true;
  std::vector<double> scales;
};

// What a converted Conv2d / ConvReLU2d holds, square kernels only.
struct Int8ConvSpec {
  std::int64_t out_channels = 0;
  std::int64_t in_channels = 0;
  std::int64_t kernel = 1;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t groups = 1;
  bool relu = false;
  std::vector<std::int8_t> weight;  // [out, in / groups, kernel, kernel]
  WeightScales weight_scales;
  std::vector<float> bias;  // out_channels values; empty: none
  QParams input;
  QParams output;
};

class Int8Convolution {
 public:
  explicit Int8Convolution(Int8ConvSpec spec);

  std::int64_t out_channels() const { return spec_.out_channels; }
  // Output height (or width) for an input of `size`.
  std::int64_t output_size(std::int64_t size) const;
  const QParams& output_params() const { return spec_.output; }

  // dst = conv(src): src [batch, height, width, in_channels] u8, dst [batch,
  // output_size(height), output_size(width), out_channels] u8.
  void run(const std::uint8_t* src, std::int64_t batch, std::int64_t height,
           std::int64_t width, std::uint8_t* dst, dnnl::stream& stream) const;

 private:
  struct Prepared {
    dnnl::convolution_forward primitive;
    dnnl::memory weights;
    dnnl::memory bias;
    std::size_t scratchpad_bytes = 0;
  };
  const Prepared& prepare(std::int64_t batch, std::int64_t height,
                          std::int64_t width) const;
  dnnl::memory packed_weights(const dnnl::memory::desc& desc) const;
  dnnl::memory scaled_bias(const dnnl::memory::desc& desc) const;

  Int8ConvSpec spec_;
  dnnl::primitive_attr attr_;
  std::vector<float> bias_scales_;
  dnnl::memory src_zero_point_;
  mutable std::mutex mutex_;
  mutable std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>,
                   std::unique_ptr<Prepared>>
      prepared_;
  // Weights reordered for each format a primitive asked for.
  mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed_;
};

// max_pool2d on u8 NHWC (square window, both axes alike).
class Int8MaxPool {
 public:
  Int8MaxPool(std::int64_t kernel, std::int64_t stride, std::int64_t padding)
      : kernel_(kernel), stride_(stride), padding_(padding) {}
  std::int64_t output_size(std::int64_t size) const;
  void run(const std::uint8_t* src, std::int64_t batch, std::int64_t channels,
           std::int64_t height, std::int64_t width, std::uint8_t* dst,
           dnnl::stream& stream) const;

 private:
  std::int64_t kernel_, stride_, padding_;
  mutable std::mutex mutex_;
  mutable std::map<
      std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>,
      std::unique_ptr<dnnl::pooling_forward>>
      prepared_;
};

// A converted Linear (quantized::linear): ideep's matmul, u8 [batch, in] x
// s8 [in, out] + f32 bias -> u8 [batch, out].
struct Int8LinearSpec {
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;
  std::vector<std::int8_t> weight;  // [out, in]
  WeightScales weight_scales;
  std::vector<float> bias;  // empty: none
  QParams input;
  QParams output;
};

class Int8Linear {
 public:
  explicit Int8Linear(Int8LinearSpec spec);
  const QParams& output_params() const { return spec_.output; }
  void run(const std::uint8_t* src, std::int64_t batch, std::uint8_t* dst,
           dnnl::stream& stream) const;

 private:
  struct Prepared {
    dnnl::matmul primitive;
    dnnl::memory weights;
    dnnl::memory bias;
    std::size_t scratchpad_bytes = 0;
  };
  const Prepared& prepare(std::int64_t batch) const;

  Int8LinearSpec spec_;
  dnnl::primitive_attr attr_;
  std::vector<float> bias_scales_;
  mutable std::mutex mutex_;
  mutable std::map<std::int64_t, std::unique_ptr<Prepared>> prepared_;
};

}  // namespace resnet_cli::detail
