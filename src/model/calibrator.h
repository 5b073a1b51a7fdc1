// Post-training static quantization as PyTorch 1.13 does it for
// torchvision's quantizable ResNets (torchvision.models.quantization,
// torch.ao.quantization): the float network fused (each convolution with its
// BatchNorm, and ReLU where one follows, fuse_model's pairs), prepared with
// get_default_qconfig("onednn")'s observers (HistogramObserver on every
// activation, per-channel symmetric qint8 weights), run on calibration
// batches, then converted. The implementation (model/torch/calibrator.cpp)
// runs the same ATen operators Python's modules and observers run, so that
// the scales and zero points are Python's.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "weights/state_dict_writer.h"

namespace resnet_cli {

struct CalibratorOptions {
  // model_spec.h's name the checkpoint must be; empty: its own.
  std::string arch;
  int threads = 0;  // 0: one per available core
};

// An activation observer's result: the module it follows ("conv1",
// "layer1.0.add_relu", "quant", "fc") and the scale and zero point its
// converted module keeps.
struct ObservedActivation {
  std::string module;
  double scale = 1;
  std::int64_t zero_point = 0;
};

// torch.ao.quantization.convert's result: the converted network's
// state_dict, loadable strict by torchvision's quantizable network after
// the same fuse_model, prepare and convert, and resnet-cli's int8 model.
struct ConvertedModel {
  std::vector<StateDictEntry> entries;  // their data points into `owned`
  ModuleVersions versions;              // the state_dict's _metadata
  std::vector<ObservedActivation> activations;
  // The bytes and parameters the entries point to (deques: adding one moves
  // none of the others).
  std::deque<std::vector<std::uint8_t>> owned;
  std::deque<StateDictQuantization> quantizations;
};

class Calibrator {
 public:
  virtual ~Calibrator() = default;

  // As Model::bind_thread: the calling thread's intra-op threads.
  virtual void bind_thread(int threads) const = 0;
  virtual std::string architecture() const = 0;
  virtual std::int64_t num_classes() const = 0;

  // Runs the fused float network on one batch (batch x 3 x height x width
  // floats, normalized), every observer taking in what it sees. The batch
  // boundaries matter, as in Python: HistogramObserver folds each batch's
  // histogram into the running one. Throws Error(kModel).
  virtual void observe(const float* input, std::int64_t batch,
                       std::int64_t height, std::int64_t width) = 0;
  // The number of batches observed.
  virtual std::int64_t batches() const = 0;

  // The observers' scales and zero points, the weights quantized with
  // theirs: the converted state_dict. Throws Error(kModel) before any batch.
  virtual ConvertedModel convert() const = 0;
};

}  // namespace resnet_cli
