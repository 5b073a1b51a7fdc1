#include "image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace resnet_cli {

namespace {

// Pillow's fixed point: 8 bits of result, 2 bits of headroom for filters
// with negative lobes.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Filter {
  double (*function)(double);
  double support;
};

Filter filter_for(Interpolation interpolation) {
  return interpolation == Interpolation::kBicubic
             ? Filter{bicubic_filter, 2.0}
             : Filter{bilinear_filter, 1.0};
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc, for output positions
// [first, last) only: each position's taps depend on nothing else.
struct AxisTaps {
  int taps_per_output = 0;
  std::vector<int> start;             // first input index of each output
  std::vector<int> count;             // number of taps of each output
  std::vector<std::int32_t> weights;  // taps_per_output per output

  const std::int32_t* weights_of(int i) const {
    return weights.data() + static_cast<std::size_t>(i) * taps_per_output;
  }
};

AxisTaps compute_taps(int in_size, int out_size, const Filter& filter,
                      int first, int last) {
  // Pillow passes the box edges as floats: in1 - in0 == (float)in_size.
  const double scale =
      static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  AxisTaps taps;
  taps.taps_per_output = static_cast<int>(std::ceil(support)) * 2 + 1;
  const int n = last - first;
  taps.start.resize(n);
  taps.count.resize(n);
  taps.weights.assign(static_cast<std::size_t>(n) * taps.taps_per_output, 0);
  std::vector<double> k(taps.taps_per_output);
  for (int i = 0; i < n; ++i) {
    const int xx = first + i;
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter.function((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    std::int32_t* out = taps.weights.data() +
                        static_cast<std::size_t>(i) * taps.taps_per_output;
    for (int x = 0; x < xmax; ++x) {
      const double normalized = ww != 0.0 ? k[x] / ww : k[x];
      out[x] = normalized < 0 ? static_cast<std::int32_t>(
                                    -0.5 + normalized * (1 << kPrecisionBits))
                              : static_cast<std::int32_t>(
                                    0.5 + normalized * (1 << kPrecisionBits));
    }
    taps.start[i] = xmin;
    taps.count[i] = xmax;
  }
  return taps;
}

inline std::uint8_t clip8(std::int32_t accumulator) {
  const std::int32_t value = accumulator >> kPrecisionBits;
  return static_cast<std::uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
}

// A window [x0, x1) x [y0, y1) of an image of another size.
struct Window {
  int x0, x1, y0, y1;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
};

// Pillow's ImagingResampleInner (two passes, horizontal first, each rounded
// to 8 bits, a pass skipped when its axis keeps its size), evaluated for the
// output pixels inside `window` only.
RgbImage resample_window(const RgbImage& in, int out_width, int out_height,
                         const Filter& filter, const Window& window) {
  const bool need_horizontal = out_width != in.width;
  const bool need_vertical = out_height != in.height;

  // Rows of the input the vertical pass reads for this window.
  AxisTaps vertical;
  int row_first = window.y0;
  int row_last = window.y1;
  if (need_vertical) {
    vertical =
        compute_taps(in.height, out_height, filter, window.y0, window.y1);
    row_first = in.height;
    row_last = 0;
    for (int i = 0; i < window.height(); ++i) {
      row_first = std::min(row_first, vertical.start[i]);
      row_last = std::max(row_last, vertical.start[i] + vertical.count[i]);
    }
    if (row_last < row_first) row_last = row_first;
  }

  // Horizontal pass: `temp` holds rows [row_first, row_last) of the
  // horizontally resampled image, columns [x0, x1).
  RgbImage temp;
  temp.width = window.width();
  temp.height = row_last - row_first;
  temp.pixels.resize(static_cast<std::size_t>(temp.width) * temp.height * 3);
  if (need_horizontal) {
    const AxisTaps horizontal =
        compute_taps(in.width, out_width, filter, window.x0, window.x1);
    for (int y = 0; y < temp.height; ++y) {
      const std::uint8_t* src = in.row(row_first + y);
      std::uint8_t* dst = temp.row(y);
      for (int i = 0; i < temp.width; ++i) {
        const std::int32_t* k = horizontal.weights_of(i);
        const std::uint8_t* p =
            src + static_cast<std::size_t>(horizontal.start[i]) * 3;
        std::int32_t r = 1 << (kPrecisionBits - 1);
        std::int32_t g = r;
        std::int32_t b = r;
        for (int t = 0; t < horizontal.count[i]; ++t, p += 3) {
          r += p[0] * k[t];
          g += p[1] * k[t];
          b += p[2] * k[t];
        }
        dst[i * 3 + 0] = clip8(r);
        dst[i * 3 + 1] = clip8(g);
        dst[i * 3 + 2] = clip8(b);
      }
    }
  } else {
    for (int y = 0; y < temp.height; ++y) {
      std::memcpy(temp.row(y), in.row(row_first + y) + window.x0 * 3,
                  static_cast<std::size_t>(temp.width) * 3);
    }
  }
  if (!need_vertical) return temp;

  RgbImage out;
  out.width = window.width();
  out.height = window.height();
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * 3);
  // Row by row into a row of accumulators: the same sums as Pillow's, in an
  // order the compiler vectorizes.
  const std::size_t stride = static_cast<std::size_t>(temp.width) * 3;
  std::vector<std::int32_t> sums(stride);
  for (int i = 0; i < out.height; ++i) {
    const std::int32_t* k = vertical.weights_of(i);
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    for (int t = 0; t < vertical.count[i]; ++t) {
      const std::uint8_t* source = temp.row(vertical.start[i] - row_first + t);
      const std::int32_t weight = k[t];
      for (std::size_t c = 0; c < stride; ++c) sums[c] += source[c] * weight;
    }
    std::uint8_t* dst = out.row(i);
    for (std::size_t c = 0; c < stride; ++c) dst[c] = clip8(sums[c]);
  }
  return out;
}

// Pillow's NEAREST resize (ImagingScaleAffine): source positions accumulate
// in double from the first output pixel, and only then are truncated.
std::vector<int> nearest_positions(int in_size, int out_size, int last) {
  const double step =
      static_cast<double>(static_cast<float>(in_size)) / out_size;
  std::vector<int> positions(last);
  double position = 0.0 + step * 0.5;
  for (int i = 0; i < last; ++i) {
    positions[i] = position < 0.0 ? -1 : static_cast<int>(position);
    position += step;
  }
  return positions;
}

RgbImage nearest_window(const RgbImage& in, int out_width, int out_height,
                        const Window& window) {
  RgbImage out;
  out.width = window.width();
  out.height = window.height();
  out.pixels.assign(static_cast<std::size_t>(out.width) * out.height * 3, 0);
  const std::vector<int> xs = nearest_positions(in.width, out_width, window.x1);
  const std::vector<int> ys =
      nearest_positions(in.height, out_height, window.y1);
  for (int y = window.y0; y < window.y1; ++y) {
    if (ys[y] < 0 || ys[y] >= in.height) continue;
    const std::uint8_t* src = in.row(ys[y]);
    std::uint8_t* dst = out.row(y - window.y0);
    for (int x = window.x0; x < window.x1; ++x) {
      if (xs[x] < 0 || xs[x] >= in.width) continue;
      std::memcpy(dst + (x - window.x0) * 3, src + xs[x] * 3, 3);
    }
  }
  return out;
}

RgbImage resize_window(const RgbImage& in, int out_width, int out_height,
                       Interpolation interpolation, const Window& window) {
  if (out_width == in.width && out_height == in.height) {
    // Both torchvision and Pillow return the image unchanged.
    RgbImage out;
    out.width = window.width();
    out.height = window.height();
    out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * 3);
    for (int y = 0; y < out.height; ++y) {
      std::memcpy(out.row(y), in.row(window.y0 + y) + window.x0 * 3,
                  static_cast<std::size_t>(out.width) * 3);
    }
    return out;
  }
  if (interpolation == Interpolation::kNearest) {
    return nearest_window(in, out_width, out_height, window);
  }
  return resample_window(in, out_width, out_height, filter_for(interpolation),
                         window);
}

// Python's round(n / 2.0) for n >= 0: halves go to the even neighbour.
int half_round_even(int n) {
  const int half = n / 2;
  if (n % 2 == 0) return half;
  return half % 2 == 0 ? half : half + 1;
}

}  // namespace

CropGeometry plan_resize_crop(int width, int height, int resize_size,
                              int crop_size) {
  CropGeometry geometry;
  geometry.crop_size = crop_size;
  // torchvision.transforms.functional._compute_resized_output_size:
  // new_long = int(size * long / short), a float division then truncation.
  const bool width_is_short = width <= height;
  const int short_side = width_is_short ? width : height;
  const int long_side = width_is_short ? height : width;
  const int new_long = static_cast<int>(static_cast<double>(resize_size) *
                                        long_side / short_side);
  geometry.resized_width = width_is_short ? resize_size : new_long;
  geometry.resized_height = width_is_short ? new_long : resize_size;

  // center_crop: pad (left/top get the floor half) when the crop is larger,
  // then offset by round((padded - crop) / 2).
  auto offset = [crop_size](int size) {
    const int pad_before = crop_size > size ? (crop_size - size) / 2 : 0;
    const int pad_after = crop_size > size ? (crop_size - size + 1) / 2 : 0;
    const int padded = size + pad_before + pad_after;
    return half_round_even(padded - crop_size) - pad_before;
  };
  geometry.crop_left = offset(geometry.resized_width);
  geometry.crop_top = offset(geometry.resized_height);
  return geometry;
}

RgbImage pil_resize(const RgbImage& image, int out_width, int out_height,
                    Interpolation interpolation) {
  return resize_window(image, out_width, out_height, interpolation,
                       Window{0, out_width, 0, out_height});
}

RgbImage resize_center_crop(const RgbImage& image, const TransformSpec& spec) {
  const CropGeometry geometry = plan_resize_crop(
      image.width, image.height, spec.resize_size, spec.crop_size);
  const int size = geometry.crop_size;
  // The part of the crop that lies on the resized image; the rest is the
  // zero padding of center_crop.
  const Window window{
      std::max(0, geometry.crop_left),
      std::min(geometry.resized_width, geometry.crop_left + size),
      std::max(0, geometry.crop_top),
      std::min(geometry.resized_height, geometry.crop_top + size)};
  RgbImage crop;
  crop.width = size;
  crop.height = size;
  crop.pixels.assign(static_cast<std::size_t>(size) * size * 3, 0);
  if (window.width() <= 0 || window.height() <= 0) return crop;
  const RgbImage inside =
      resize_window(image, geometry.resized_width, geometry.resized_height,
                    spec.interpolation, window);
  for (int y = 0; y < inside.height; ++y) {
    std::memcpy(crop.row(window.y0 - geometry.crop_top + y) +
                    (window.x0 - geometry.crop_left) * 3,
                inside.row(y), static_cast<std::size_t>(inside.width) * 3);
  }
  return crop;
}

void normalize_to_chw(const RgbImage& crop, const TransformSpec& spec,
                      float* chw) {
  const std::size_t plane = static_cast<std::size_t>(crop.width) * crop.height;
  for (int c = 0; c < 3; ++c) {
    // Per-channel lookup: the same float operations torch does per element.
    float table[256];
    for (int v = 0; v < 256; ++v) {
      const float scaled = static_cast<float>(v) / 255.0f;
      table[v] = (scaled - spec.mean[c]) / spec.std[c];
    }
    float* out = chw + c * plane;
    const std::uint8_t* in = crop.pixels.data() + c;
    for (std::size_t i = 0; i < plane; ++i) out[i] = table[in[i * 3]];
  }
}

void preprocess(const RgbImage& image, const TransformSpec& spec, float* chw) {
  normalize_to_chw(resize_center_crop(image, spec), spec, chw);
}

}  // namespace resnet_cli
