// The quantized network's element-wise steps, bit for bit what PyTorch 1.13's
// own kernels compute (ATen/native/quantized/cpu, the AVX2 build Debian's
// PyTorch dispatches to): quantizing the input, the residual add with ReLU,
// the global average pool, and dequantizing the logits. The convolutions and
// the classifier are oneDNN's (int8_layers.h).
//
// Activations are quint8 (uint8) in NHWC order; a tensor's real values are
// (q - zero_point) * scale. Each function runs on the calling thread's OpenMP
// threads (at::parallel_for), with AVX-512 where the CPU has it and a scalar
// loop of the same arithmetic where it has not.
#pragma once

#include <cstdint>

namespace resnet_cli::detail {

// Per-tensor quantization parameters of a quint8 activation.
struct QParams {
  float scale = 1;
  std::int32_t zero_point = 0;
};

// torch.quantize_per_tensor(x, scale, zero_point, torch.quint8) of a float
// NCHW batch, written NHWC: q = clamp(zero_point + nearbyint(x * (1 /
// scale)), 0, 255).
void quantize_nchw_to_nhwc(const float* input, std::int64_t batch,
                           std::int64_t channels, std::int64_t height,
                           std::int64_t width, QParams out,
                           std::uint8_t* output);

// quantized::add_relu(a, b, out.scale, out.zero_point) over `count`
// elements: each input dequantized as fma(scale, q, -zero_point * scale),
// summed, ReLU, requantized as nearbyint(sum * (1 / out.scale)) +
// out.zero_point, clamped to 0..255.
void add_relu(const std::uint8_t* a, QParams a_params, const std::uint8_t* b,
              QParams b_params, std::int64_t count, QParams out,
              std::uint8_t* output);

// adaptive_avg_pool2d(x, 1) of a quint8 NHWC batch, output with the input's
// parameters: per channel, the integer sum minus zero_point * pixels, times
// 1 / pixels (in float), rounded, plus zero_point; [batch, channels].
void global_average_pool(const std::uint8_t* input, std::int64_t batch,
                         std::int64_t pixels, std::int64_t channels,
                         QParams params, std::uint8_t* output);

// x.dequantize() (dequantize_tensor_per_tensor_affine): (q - zero_point) *
// scale, in float.
void dequantize(const std::uint8_t* input, std::int64_t count, QParams params,
                float* output);

}  // namespace resnet_cli::detail
