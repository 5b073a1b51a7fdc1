// Writes a state_dict as torch.save(model.state_dict()) writes it, without
// LibTorch: the zip format of torch >= 1.6, read back by torch.load,
// torch::load's PyTorchStreamReader and checkpoint.h alike.
//
// The archive holds "archive/data.pkl" (pickle protocol 2: a
// collections.OrderedDict of torch._utils._rebuild_tensor_v2 calls over
// persistent ids ('storage', torch.FloatStorage, key, 'cpu', numel); quantized
// tensors as _rebuild_qtensor calls; the _metadata of module versions set by
// BUILD when given), one stored (uncompressed) record "archive/data/<key>"
// per storage, and "archive/version". Every record's data starts on a 64-byte
// boundary, as PyTorchStreamWriter aligns them, so that readers may map them in
// place. Timestamps are fixed, so equal entries always give equal bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "weights/pickle.h"

namespace resnet_cli {

class AtomicFile;

// A quantized tensor's parameters, as torch.save pickles them for
// _rebuild_qtensor: per tensor (torch.per_tensor_affine, scale, zero_point),
// or per channel along axis 0 (torch.per_channel_affine, a double tensor of
// scales, a long tensor of zero points, 0).
struct StateDictQuantization {
  bool per_channel = false;
  double scale = 1;
  std::int64_t zero_point = 0;
  std::vector<double> scales;
  std::vector<std::int64_t> zero_points;
};

struct StateDictEntry {
  std::string name;  // the state_dict key, e.g. "layer1.0.conv1.weight"
  pickle::ScalarType type = pickle::ScalarType::kFloat32;
  std::vector<std::int64_t> sizes;  // C-contiguous; empty for a scalar
  // element_size(type) * numel bytes, little-endian; read during the call.
  const void* data = nullptr;
  // A quantized tensor (type kQInt8, kQUInt8 or kQInt32): its parameters.
  const StateDictQuantization* quantization = nullptr;
  // Values that are not one tensor (a converted quantized Linear's): a
  // dtype, torch.<dtype> ("qint8"), or a tuple of these tensors (their
  // names unused), such as "fc._packed_params._packed_params" (weight, bias).
  std::string dtype;
  std::vector<StateDictEntry> tuple;
};

std::uint64_t numel(const StateDictEntry& entry);

// The state_dict's _metadata (torch.nn.Module.state_dict): each module's
// version by prefix, which load_state_dict hands the module. Only modules
// whose loading depends on it need to be listed (a converted Linear and its
// packed parameters: version 3).
using ModuleVersions = std::vector<std::pair<std::string, int>>;

// Writes the entries, in their order, to `file` (not committed). Throws
// Error(kOutput) naming the file when a write fails, and before writing
// anything when the archive would pass 4 GiB (zip64 is not written; the
// largest torchvision ResNet is 485 MB).
void write_state_dict(AtomicFile& file,
                      const std::vector<StateDictEntry>& entries,
                      const ModuleVersions& versions = {});

}  // namespace resnet_cli
