// PyTorch 1.13's observers (torch/ao/quantization/observer.py), ported
// expression by expression onto the same ATen operators, so that their
// scales and zero points are the ones Python's observers compute:
//   - HistogramObserver (bins 2048, upsample rate 128, quint8,
//     per_tensor_affine, reduce_range False): the activation observer of
//     get_default_qconfig("onednn"), histc ranges truncated to integers as
//     1.13's forward truncates them;
//   - PerChannelMinMaxObserver (qint8, per_channel_symmetric, axis 0): its
//     weight observer (default_per_channel_weight_observer).
// Python floats are doubles here, 0-dim tensors float32 ones, as in Python.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>

namespace resnet_cli::detail {

// A per-tensor scale and zero point, as calculate_qparams returns them.
struct ObservedQParams {
  float scale = 1;
  std::int64_t zero_point = 0;
};

class HistogramObserver {
 public:
  HistogramObserver();
  // forward(x): folds x's values into the running histogram.
  void observe(const at::Tensor& x);
  bool observed() const { return observed_; }
  // calculate_qparams(): the L2-minimising range's scale and zero point.
  ObservedQParams calculate_qparams() const;

 private:
  std::tuple<at::Tensor, at::Tensor, std::int64_t, std::int64_t> adjust_min_max(
      at::Tensor combined_min, at::Tensor combined_max) const;
  at::Tensor combine_histograms(at::Tensor orig_hist,
                                const at::Tensor& new_hist,
                                std::int64_t downsample_rate,
                                std::int64_t start_idx) const;
  double compute_quantization_error(std::int64_t next_start_bin,
                                    std::int64_t next_end_bin) const;
  std::pair<at::Tensor, at::Tensor> non_linear_param_search() const;

  at::Tensor histogram_;
  at::Tensor min_val_;
  at::Tensor max_val_;
  bool observed_ = false;
};

// The per-output-channel symmetric qint8 scales of a weight (zero points
// 0): PerChannelMinMaxObserver's forward and calculate_qparams on one
// tensor, float32 scales.
at::Tensor per_channel_symmetric_scales(const at::Tensor& weight);

}  // namespace resnet_cli::detail
