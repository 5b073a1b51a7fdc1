// Running the model on a batch of prepared images (image_step.h), shared by
// classify's pipeline and serve's batcher.
#pragma once

#include <cstddef>
#include <vector>

#include "model/model.h"

namespace resnet_cli {

// What a batch's forward pass gives per image.
enum class BatchOutput {
  kLogits,
  kFeatures,  // the pooled features (--output-type embedding)
  // The logits, then layer4's feature maps of the same pass
  // (Model::forward_with_feature_maps), for explain.
  kLogitsAndMaps,
};

// Floats the model gives per image for `output` on crop x crop inputs: its
// class count, the pooled features' size, or the class count plus
// feature_size() x feature_map_side(crop)^2.
std::size_t model_output_size(const Model& model, BatchOutput output, int crop);

// Buffers a caller keeps between batches, so that their memory is reused.
struct BatchScratch {
  std::vector<float> input;    // several images gathered into one batch
  std::vector<float> outputs;  // kLogitsAndMaps: the model's own layout
};

// Runs `model` once on images[0..n) (each 3 x crop x crop floats, as
// prepare_input writes them) as one batch, writing n rows of
// model_output_size(model, output, crop) values to `output_rows`. Throws
// what the model throws.
void run_model_batch(const Model& model,
                     const std::vector<const float*>& images, int crop,
                     BatchOutput output, BatchScratch& scratch,
                     float* output_rows);

}  // namespace resnet_cli
