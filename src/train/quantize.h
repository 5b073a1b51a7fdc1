// resnet-cli quantize: post-training static quantization of a float
// network, as PyTorch does it for torchvision's quantizable ResNets
// (model/calibrator.h): the calibration images, in the scan's order, through
// the base's transforms, in batches of `batch_size` (the observers see these
// batches, so the same batches give Python's scales); then MODEL_DIR, as
// train writes it:
//   model.pth    the converted state_dict (torch.save's format), which
//                torchvision's quantizable network loads strict after the
//                same fuse_model, prepare and convert, and classify --model
//                runs in int8
//   labels.txt   the base's class names
//   model.json   the base, the transforms, the calibration and every
//                observer's scale and zero point
// Nothing is written until the conversion is done; then each file
// atomically, model.json last. Nothing here knows of terminals.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "image/decode.h"
#include "run/inputs.h"
#include "run/session.h"

namespace resnet_cli {

struct QuantizeOptions {
  // The float network: weights name, file or URL, a --model folder, arch,
  // transforms, threads, labels.
  SessionOptions base;
  InputOptions calibration;  // the calibration images (folders scanned)
  DecodeOptions decode;
  std::filesystem::path output_dir;
  int batch_size = 8;
  bool force = false;  // replace a model folder already there
};

struct QuantizeProgress {
  // A calibration batch observed: images done of those found so far, and
  // whether the scan is complete (total then final).
  std::function<void(std::uint64_t done, std::uint64_t total)> calibrated;
  // An image left out because it failed to decode: the one-line reason.
  std::function<void(const std::string& message)> skipped;
};

struct QuantizeSummary {
  std::uint64_t images = 0;   // observed
  std::uint64_t skipped = 0;  // failed to decode
  std::int64_t batches = 0;
  bool interrupted = false;  // stopped before converting: nothing written
};

// Throws Error: kUsage (no calibration image, an output folder holding
// another model without `force`, a quantized base), kOutput (MODEL_DIR
// cannot be written), the base's kinds (weights, checkpoint, model).
QuantizeSummary quantize_network(const QuantizeOptions& options,
                                 const QuantizeProgress& progress,
                                 const std::atomic<bool>& stop);

}  // namespace resnet_cli
