// Running the model on a batch of prepared images (image_step.h), shared by
// classify's pipeline and serve's batcher.
#pragma once

#include <cstddef>
#include <vector>

#include "model/model.h"

namespace resnet_cli {

// Values the model gives per image: its class count, or, for `features`
// (--output-type embedding), the pooled features' size.
std::size_t model_output_size(const Model& model, bool features);

// Runs `model` once on images[0..n) (each 3 x crop x crop floats, as
// prepare_input writes them) as one batch, writing n x
// model_output_size(model, features) values to `output`. A batch of several
// images is gathered into `scratch` first, which keeps its memory between
// calls. Throws what the model throws.
void run_model_batch(const Model& model,
                     const std::vector<const float*>& images, int crop,
                     bool features, std::vector<float>& scratch, float* output);

}  // namespace resnet_cli
