// Class activation maps (explain): where in the image an answer comes from.
//
// A torchvision ResNet's logits are fc(mean over layer4's grid of its output
// A), so the map of class k is CAM_k = sum_c fc.weight[k, c] * A[c] (the bias
// only shifts every cell alike), and Grad-CAM at layer4 is ReLU(CAM_k) / cells
// (d logit_k / d A[c] is fc.weight[k, c] / cells in every cell). Both come
// from the forward pass the logits come from; normalised as pytorch-grad-cam
// normalises (ReLU, minus the minimum, divided by the maximum + 1e-7) they
// are the same map. No LibTorch here: the model gives A and fc's weight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/heatmap.h"
#include "image/transform.h"
#include "model/model.h"
#include "run/record.h"

namespace resnet_cli {

// sum_c weight[c] * feature_maps[c * cells + cell] for each cell, summed in
// double, into `out` (cells floats).
void class_activation_map(const float* feature_maps, std::int64_t channels,
                          std::int64_t cells, const float* weight, float* out);

// pytorch-grad-cam's normalisation (base_cam.py, scale_cam_image), in place:
// ReLU, then minus the minimum, then divided by the maximum + 1e-7.
void normalize_activation_map(std::vector<float>& grid);

// Where the center crop lies in the input's pixels: columns [crop_left,
// crop_left + crop) of the resized image times width / resized_width (rows
// likewise), plan_resize_crop's geometry undone. Reaches past the image
// where the crop pads it.
ImageRegion crop_region(int image_width, int image_height,
                        const TransformSpec& transform);

// `region` rounded outwards to whole pixels (floor of left and top, ceiling
// of right and bottom), clipped to the image.
PixelBox pixel_box(const ImageRegion& region, int image_width,
                   int image_height);

// The bounding box of the grid's cells above half its maximum, in the
// input's pixels: cell (r, c) covers columns region.left + c * (region.right
// - region.left) / columns to the next such edge (rows likewise), rounded
// and clipped as pixel_box. None when the maximum is not above 0.
std::optional<PixelBox> half_max_box(const std::vector<float>& grid, int rows,
                                     int columns, const ImageRegion& region,
                                     int image_width, int image_height);

// The explanations of one model's answers, for a session's transforms.
class Explainer {
 public:
  // Reads the model's classifier weight once. `transform` and `decode`: how
  // the inputs were decoded and cropped. `topk`: classes explained per
  // image, best first (at most the model's classes). `labels` (may be
  // shorter than the classes: indices then) must outlive the explainer.
  Explainer(const Model& model, const TransformSpec& transform,
            const DecodeOptions& decode, const std::vector<std::string>& labels,
            int topk);

  int topk() const { return topk_; }
  // Floats of a row of run_model_batch(BatchOutput::kLogitsAndMaps).
  std::size_t row_size() const;

  // One image's explanation from its row (logits, then layer4's maps), the
  // decoded input being image_width x image_height.
  Explanation explain(const float* row, int image_width,
                      int image_height) const;

 private:
  std::vector<float> weight_;  // classes x channels
  std::int64_t classes_ = 0;
  std::int64_t channels_ = 0;
  int rows_ = 0;
  int columns_ = 0;
  TransformSpec transform_;
  bool exif_applied_ = false;
  const std::vector<std::string>* labels_;
  int topk_ = 1;
};

}  // namespace resnet_cli
