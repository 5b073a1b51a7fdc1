#include "model/torch/observers.h"

#include <cmath>
#include <limits>
#include <vector>

namespace resnet_cli::detail {

namespace {

constexpr std::int64_t kBins = 2048;
constexpr std::int64_t kUpsampleRate = 128;
constexpr std::int64_t kDstBins = 256;  // 2 ** torch.iinfo(quint8).bits
constexpr std::int64_t kQuantMin = 0;   // quint8, reduce_range False
constexpr std::int64_t kQuantMax = 255;

// torch.finfo(torch.float32).eps, the observers' eps buffer ([1]).
at::Tensor eps() {
  return at::full({1}, std::numeric_limits<float>::epsilon(), at::kFloat);
}

// Python's int() of a float tensor's value: truncation toward zero.
double truncated(const at::Tensor& value) {
  return static_cast<double>(static_cast<std::int64_t>(value.item<double>()));
}

// UniformQuantizationObserverBase._calculate_qparams, per_tensor_affine.
ObservedQParams affine_qparams(const at::Tensor& min_val,
                               const at::Tensor& max_val) {
  const at::Tensor min_val_neg = at::min(min_val, at::zeros_like(min_val));
  const at::Tensor max_val_pos = at::max(max_val, at::zeros_like(max_val));
  at::Tensor scale =
      (max_val_pos - min_val_neg) / static_cast<double>(kQuantMax - kQuantMin);
  scale = at::max(scale, eps());
  at::Tensor zero_point =
      at::rsub(at::round(min_val_neg / scale).to(at::kInt), kQuantMin);
  zero_point = at::clamp(zero_point, kQuantMin, kQuantMax);
  return {scale.reshape({-1})[0].item<float>(),
          zero_point.reshape({-1})[0].item<std::int64_t>()};
}

// HistogramObserver._get_norm.
at::Tensor get_norm(const at::Tensor& delta_begin, const at::Tensor& delta_end,
                    const at::Tensor& density) {
  const at::Tensor norm = (delta_end * delta_end * delta_end -
                           delta_begin * delta_begin * delta_begin) /
                          3;
  return density * norm;
}

// torch.tensor(x): a float32 0-dim tensor of a Python float.
at::Tensor scalar(double value) { return at::scalar_tensor(value, at::kFloat); }

}  // namespace

HistogramObserver::HistogramObserver()
    : histogram_(at::zeros({kBins}, at::kFloat)),
      min_val_(scalar(std::numeric_limits<double>::infinity())),
      max_val_(scalar(-std::numeric_limits<double>::infinity())) {}

void HistogramObserver::observe(const at::Tensor& x_orig) {
  if (x_orig.numel() == 0) return;
  const at::Tensor x = x_orig.detach();
  const bool same_values = min_val_.item<double>() == max_val_.item<double>();
  if (!observed_ || same_values) {
    auto [min_val, max_val] = at::aminmax(x);
    min_val_ = min_val.clone();
    max_val_ = max_val.clone();
    histogram_ = at::histc(x, kBins, truncated(min_val), truncated(max_val));
    observed_ = true;
    return;
  }
  auto [new_min, new_max] = at::aminmax(x);
  at::Tensor combined_min = at::min(new_min, min_val_);
  at::Tensor combined_max = at::max(new_max, max_val_);
  auto [adjusted_min, adjusted_max, downsample_rate, start_idx] =
      adjust_min_max(combined_min, combined_max);
  at::Tensor combined_histogram =
      at::histc(x, kBins, truncated(adjusted_min), truncated(adjusted_max));
  if (adjusted_min.item<double>() == min_val_.item<double>() &&
      adjusted_max.item<double>() == max_val_.item<double>()) {
    combined_histogram += histogram_;
  } else {
    combined_histogram = combine_histograms(combined_histogram, histogram_,
                                            downsample_rate, start_idx);
  }
  histogram_ = combined_histogram;
  min_val_ = adjusted_min;
  max_val_ = adjusted_max;
}

std::tuple<at::Tensor, at::Tensor, std::int64_t, std::int64_t>
HistogramObserver::adjust_min_max(at::Tensor combined_min,
                                  at::Tensor combined_max) const {
  // (combined_max - combined_min) / (downsample_rate * Nbins) equals
  // (max - min) / (upsample_rate * Nbins): a common grid.
  const at::Tensor hist_bin_width =
      (max_val_ - min_val_) / (kBins * kUpsampleRate);
  const auto downsample_rate = static_cast<std::int64_t>(
      at::ceil((combined_max - combined_min) / (kBins * hist_bin_width))
          .item<double>());
  const at::Tensor e = downsample_rate * (kBins * hist_bin_width) -
                       (combined_max - combined_min);
  // Only the max is relaxed, so that one-sided distributions keep min 0.
  combined_max = combined_max + e;
  const auto start_idx = static_cast<std::int64_t>(
      at::round((min_val_ - combined_min) / hist_bin_width).item<double>());
  return {combined_min, combined_max, downsample_rate, start_idx};
}

at::Tensor HistogramObserver::combine_histograms(at::Tensor orig_hist,
                                                 const at::Tensor& new_hist,
                                                 std::int64_t downsample_rate,
                                                 std::int64_t start_idx) const {
  const at::Tensor upsampled_histogram =
      new_hist.repeat_interleave(kUpsampleRate);
  at::Tensor histogram_with_output_range =
      at::zeros({kBins * downsample_rate}, at::kFloat);
  histogram_with_output_range
      .slice(0, start_idx, kBins * kUpsampleRate + start_idx)
      .copy_(upsampled_histogram);
  // Double precision, so that the integral cannot overflow.
  const at::Tensor integral_histogram =
      at::cumsum(histogram_with_output_range, 0, at::kDouble)
          .slice(0, downsample_rate - 1, c10::nullopt, downsample_rate);
  at::Tensor shifted_integral_histogram = at::zeros({kBins}, at::kFloat);
  shifted_integral_histogram.slice(0, 1, kBins)
      .copy_(integral_histogram.slice(0, 0, -1));
  const at::Tensor interpolated_histogram =
      (integral_histogram - shifted_integral_histogram) / kUpsampleRate;
  return orig_hist + interpolated_histogram.to(at::kFloat);
}

double HistogramObserver::compute_quantization_error(
    std::int64_t next_start_bin, std::int64_t next_end_bin) const {
  const double bin_width =
      (max_val_.item<double>() - min_val_.item<double>()) / kBins;
  const double dst_bin_width =
      bin_width * static_cast<double>(next_end_bin - next_start_bin + 1) /
      kDstBins;
  if (dst_bin_width == 0.0) return 0.0;
  const at::Tensor src_bin = at::arange(kBins);
  // Distances from the first dst bin's start to each src bin's start and
  // end.
  const at::Tensor src_bin_begin = (src_bin - next_start_bin) * bin_width;
  const at::Tensor src_bin_end = src_bin_begin + bin_width;
  // Which dst bins the beginning and end of each src bin fall in.
  const at::Tensor dst_bin_of_begin = at::clamp(
      at::div(src_bin_begin, dst_bin_width, "floor"), 0, kDstBins - 1);
  const at::Tensor dst_bin_of_begin_center =
      (dst_bin_of_begin + 0.5) * dst_bin_width;
  const at::Tensor dst_bin_of_end =
      at::clamp(at::div(src_bin_end, dst_bin_width, "floor"), 0, kDstBins - 1);
  const at::Tensor density = histogram_ / bin_width;
  at::Tensor norm = at::zeros({kBins}, at::kFloat);
  at::Tensor delta_begin = src_bin_begin - dst_bin_of_begin_center;
  norm +=
      get_norm(delta_begin, at::ones({kBins}, at::kFloat) * (dst_bin_width / 2),
               density);
  norm +=
      (dst_bin_of_end - dst_bin_of_begin - 1) *
      get_norm(scalar(-dst_bin_width / 2), scalar(dst_bin_width / 2), density);
  const at::Tensor dst_bin_of_end_center =
      dst_bin_of_end * dst_bin_width + dst_bin_width / 2;
  const at::Tensor delta_end = src_bin_end - dst_bin_of_end_center;
  norm += get_norm(scalar(-dst_bin_width / 2), delta_end, density);
  return norm.sum().item<double>();
}

std::pair<at::Tensor, at::Tensor> HistogramObserver::non_linear_param_search()
    const {
  const at::Tensor bin_width = (max_val_ - min_val_) / kBins;
  const double total = at::sum(histogram_).item<double>();
  const at::Tensor c_sum_tensor = at::cumsum(histogram_, 0).contiguous();
  const float* c_sum = c_sum_tensor.data_ptr<float>();
  constexpr double kStepSize = 1e-5;
  double alpha = 0.0;
  double beta = 1.0;
  std::int64_t start_bin = 0;
  std::int64_t end_bin = kBins - 1;
  double norm_min = std::numeric_limits<double>::infinity();
  while (alpha < beta) {
    const double next_alpha = alpha + kStepSize;
    const double next_beta = beta - kStepSize;
    // cSum[l] < next_alpha * total compares a float32 tensor with a Python
    // float: in float32.
    const auto low = static_cast<float>(next_alpha * total);
    const auto high = static_cast<float>(next_beta * total);
    std::int64_t l = start_bin;
    std::int64_t r = end_bin;
    while (l < end_bin && c_sum[l] < low) ++l;
    while (r > start_bin && c_sum[r] > high) --r;
    std::int64_t next_start_bin = start_bin;
    std::int64_t next_end_bin = end_bin;
    if ((l - start_bin) > (end_bin - r)) {
      next_start_bin = l;
      alpha = next_alpha;
    } else {
      next_end_bin = r;
      beta = next_beta;
    }
    if (next_start_bin == start_bin && next_end_bin == end_bin) continue;
    const double norm =
        compute_quantization_error(next_start_bin, next_end_bin);
    if (norm > norm_min) break;
    norm_min = norm;
    start_bin = next_start_bin;
    end_bin = next_end_bin;
  }
  return {min_val_ + bin_width * start_bin,
          min_val_ + bin_width * (end_bin + 1)};
}

ObservedQParams HistogramObserver::calculate_qparams() const {
  if (!observed_) return {1.0f, 0};
  auto [new_min, new_max] = non_linear_param_search();
  return affine_qparams(new_min, new_max);
}

at::Tensor per_channel_symmetric_scales(const at::Tensor& weight) {
  const at::Tensor y = at::flatten(weight.to(at::kFloat), 1);
  auto [min_val, max_val] = at::aminmax(y, 1);
  const at::Tensor min_val_neg = at::min(min_val, at::zeros_like(min_val));
  at::Tensor max_val_pos = at::max(max_val, at::zeros_like(max_val));
  max_val_pos = at::max(-min_val_neg, max_val_pos);
  // qint8: quant_min -128, quant_max 127.
  const at::Tensor scale = max_val_pos / (static_cast<double>(127 + 128) / 2);
  return at::max(scale, eps());
}

}  // namespace resnet_cli::detail
