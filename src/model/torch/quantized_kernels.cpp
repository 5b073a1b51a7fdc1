#include "model/torch/quantized_kernels.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace resnet_cli::detail {

namespace {

// Elements per parallel task: large enough that the threads' start-up does
// not dominate, small enough to share a layer1 tensor between two cores.
constexpr std::int64_t kGrain = 16384;

// PyTorch clips before converting to int32 (QuantizeAvx2's
// int32_float_max_val), so that large values saturate instead of wrapping.
constexpr float kInt32FloatMax = 2147483520.0f;

bool has_avx512() {
  static const bool supported =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return supported;
}

// round-to-nearest-even of x (the default MXCSR mode, as _mm256_cvtps_epi32
// rounds), plus zero_point, clamped to 0..255.
inline std::uint8_t requantize(float x, std::int32_t zero_point) {
  x = std::min(x, kInt32FloatMax);
  const std::int64_t rounded =
      x < -2147483648.0f ? INT32_MIN
                         : static_cast<std::int64_t>(std::nearbyint(x));
  const std::int64_t q = static_cast<std::int32_t>(rounded) +
                         static_cast<std::int64_t>(zero_point);
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(q, 0, 255));
}

// GCC 12 reports its own AVX-512 intrinsics' "undefined" operands as maybe
// uninitialized when they are inlined into a target-attributed function.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f,avx512bw"))) void add_relu_avx512(
    const std::uint8_t* a, QParams a_params, const std::uint8_t* b,
    QParams b_params, std::int64_t begin, std::int64_t end, QParams out,
    std::uint8_t* output) {
  const __m512 a_scale = _mm512_set1_ps(a_params.scale);
  const __m512 b_scale = _mm512_set1_ps(b_params.scale);
  const __m512 a_premul =
      _mm512_set1_ps(a_params.scale * -static_cast<float>(a_params.zero_point));
  const __m512 b_premul =
      _mm512_set1_ps(b_params.scale * -static_cast<float>(b_params.zero_point));
  const __m512 inverse = _mm512_set1_ps(1.0f / out.scale);
  const __m512 clip = _mm512_set1_ps(kInt32FloatMax);
  const __m512 zero = _mm512_setzero_ps();
  const __m512i zero_point = _mm512_set1_epi32(out.zero_point);
  const __m512i low = _mm512_setzero_si512();
  const __m512i high = _mm512_set1_epi32(255);
  std::int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512 qa = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))));
    const __m512 qb = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))));
    __m512 sum = _mm512_add_ps(_mm512_fmadd_ps(a_scale, qa, a_premul),
                               _mm512_fmadd_ps(b_scale, qb, b_premul));
    sum = _mm512_max_ps(sum, zero);
    const __m512 scaled = _mm512_min_ps(_mm512_mul_ps(sum, inverse), clip);
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(scaled), zero_point);
    q = _mm512_min_epi32(_mm512_max_epi32(q, low), high);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(output + i),
                     _mm512_cvtepi32_epi8(q));
  }
  const float inverse_scalar = 1.0f / out.scale;
  for (; i < end; ++i) {
    const float da =
        std::fma(a_params.scale, static_cast<float>(a[i]),
                 a_params.scale * -static_cast<float>(a_params.zero_point));
    const float db =
        std::fma(b_params.scale, static_cast<float>(b[i]),
                 b_params.scale * -static_cast<float>(b_params.zero_point));
    output[i] =
        requantize(std::max(da + db, 0.0f) * inverse_scalar, out.zero_point);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void add_relu_scalar(const std::uint8_t* a, QParams a_params,
                     const std::uint8_t* b, QParams b_params,
                     std::int64_t begin, std::int64_t end, QParams out,
                     std::uint8_t* output) {
  const float a_premul =
      a_params.scale * -static_cast<float>(a_params.zero_point);
  const float b_premul =
      b_params.scale * -static_cast<float>(b_params.zero_point);
  const float inverse = 1.0f / out.scale;
  for (std::int64_t i = begin; i < end; ++i) {
    const float da =
        std::fma(a_params.scale, static_cast<float>(a[i]), a_premul);
    const float db =
        std::fma(b_params.scale, static_cast<float>(b[i]), b_premul);
    output[i] = requantize(std::max(da + db, 0.0f) * inverse, out.zero_point);
  }
}

// PyTorch's quantize_val: zero_point + Round(value * inv_scale), the sum in
// float, clamped to quint8's range.
inline std::uint8_t quantize_value(float value, float inverse,
                                   float zero_point) {
  const float q = zero_point + std::nearbyint(value * inverse);
  return static_cast<std::uint8_t>(std::clamp(q, 0.0f, 255.0f));
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Quantizes `count` floats of one row into `out`, as quantize_value does.
__attribute__((target("avx512f,avx512bw"))) void quantize_row_avx512(
    const float* in, std::int64_t count, float inverse, float zero_point,
    std::uint8_t* out) {
  const __m512 scale = _mm512_set1_ps(inverse);
  const __m512 zero = _mm512_set1_ps(zero_point);
  const __m512 low = _mm512_setzero_ps();
  const __m512 high = _mm512_set1_ps(255.0f);
  std::int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    // To nearest, ties to even, as nearbyint rounds in the default mode.
    const __m512 rounded =
        _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(in + i), scale),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 q =
        _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(zero, rounded), low), high);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q)));
  }
  for (; i < count; ++i) out[i] = quantize_value(in[i], inverse, zero_point);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

void quantize_nchw_to_nhwc(const float* input, std::int64_t batch,
                           std::int64_t channels, std::int64_t height,
                           std::int64_t width, QParams out,
                           std::uint8_t* output) {
  const float inverse = 1.0f / out.scale;
  const auto zero_point = static_cast<float>(out.zero_point);
  const std::int64_t pixels = height * width;
  const bool wide = has_avx512();
  at::parallel_for(
      0, batch * height, 1, [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::uint8_t> planes(
            static_cast<std::size_t>(channels * width));
        for (std::int64_t row = begin; row < end; ++row) {
          const std::int64_t n = row / height;
          const std::int64_t y = row % height;
          // Each channel's row quantized, then interleaved into NHWC.
          for (std::int64_t c = 0; c < channels; ++c) {
            const float* in = input + (n * channels + c) * pixels + y * width;
            std::uint8_t* q = planes.data() + c * width;
            if (wide) {
              quantize_row_avx512(in, width, inverse, zero_point, q);
            } else {
              for (std::int64_t x = 0; x < width; ++x) {
                q[x] = quantize_value(in[x], inverse, zero_point);
              }
            }
          }
          std::uint8_t* target = output + row * width * channels;
          for (std::int64_t x = 0; x < width; ++x) {
            for (std::int64_t c = 0; c < channels; ++c) {
              target[x * channels + c] =
                  planes[static_cast<std::size_t>(c * width + x)];
            }
          }
        }
      });
}

void add_relu(const std::uint8_t* a, QParams a_params, const std::uint8_t* b,
              QParams b_params, std::int64_t count, QParams out,
              std::uint8_t* output) {
  const bool wide = has_avx512();
  at::parallel_for(0, count, kGrain, [&](std::int64_t begin, std::int64_t end) {
    if (wide) {
      add_relu_avx512(a, a_params, b, b_params, begin, end, out, output);
    } else {
      add_relu_scalar(a, a_params, b, b_params, begin, end, out, output);
    }
  });
}

void global_average_pool(const std::uint8_t* input, std::int64_t batch,
                         std::int64_t pixels, std::int64_t channels,
                         QParams params, std::uint8_t* output) {
  // _qadaptive_avg_pool_kernel: multiplier = input_scale / output_scale /
  // size, in float; the same parameters in and out.
  const float multiplier =
      params.scale / params.scale / static_cast<float>(pixels);
  const std::int32_t offset =
      -params.zero_point * static_cast<std::int32_t>(pixels);
  at::parallel_for(0, batch, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int32_t> sums(static_cast<std::size_t>(channels));
    for (std::int64_t n = begin; n < end; ++n) {
      std::fill(sums.begin(), sums.end(), offset);
      const std::uint8_t* image = input + n * pixels * channels;
      for (std::int64_t p = 0; p < pixels; ++p) {
        const std::uint8_t* pixel = image + p * channels;
        for (std::int64_t c = 0; c < channels; ++c) {
          sums[static_cast<std::size_t>(c)] += pixel[c];
        }
      }
      for (std::int64_t c = 0; c < channels; ++c) {
        output[n * channels + c] = requantize(
            static_cast<float>(sums[static_cast<std::size_t>(c)]) * multiplier,
            params.zero_point);
      }
    }
  });
}

void dequantize(const std::uint8_t* input, std::int64_t count, QParams params,
                float* output) {
  for (std::int64_t i = 0; i < count; ++i) {
    output[i] = static_cast<float>(static_cast<std::int32_t>(input[i]) -
                                   params.zero_point) *
                params.scale;
  }
}

}  // namespace resnet_cli::detail
