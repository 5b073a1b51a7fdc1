// The quantized (int8) network: torchvision's quantizable ResNets as
// torch.ao.quantization's convert leaves them, run on oneDNN's integer
// kernels (quantized_resnet.cpp). Model::load sends quantized checkpoints
// here.
#pragma once

#include <memory>

#include "model/model.h"
#include "weights/model_spec.h"

namespace resnet_cli {
class Checkpoint;
}

namespace resnet_cli::detail {

// Checks `checkpoint` strictly against `arch`'s converted state_dict
// (quantized_parameter_specs) and prepares it. Throws Error(kCheckpoint) for
// the file, a layout oneDNN's engine cannot run (asymmetric or unsigned
// weights, a dynamically quantized Linear) included; Error(kDevice) for a
// device other than the CPU; Error(kUsage) for --precision bf16 or
// --engine reference.
std::unique_ptr<Model> load_quantized_model(const Checkpoint& checkpoint,
                                            const ArchSpec& arch,
                                            const ModelOptions& options);

}  // namespace resnet_cli::detail
