// Writes a state_dict as torch.save(model.state_dict()) writes it, without
// LibTorch: the zip format of torch >= 1.6, read back by torch.load,
// torch::load's PyTorchStreamReader and checkpoint.h alike.
//
// The archive holds "archive/data.pkl" (pickle protocol 2: a
// collections.OrderedDict of torch._utils._rebuild_tensor_v2 calls over
// persistent ids ('storage', torch.FloatStorage, key, 'cpu', numel)), one
// stored (uncompressed) record "archive/data/<key>" per tensor, and
// "archive/version". Every record's data starts on a 64-byte boundary, as
// PyTorchStreamWriter aligns them, so that readers may map them in place.
// Timestamps are fixed, so equal entries always give equal bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weights/pickle.h"

namespace resnet_cli {

class AtomicFile;

struct StateDictEntry {
  std::string name;  // the state_dict key, e.g. "layer1.0.conv1.weight"
  pickle::ScalarType type = pickle::ScalarType::kFloat32;
  std::vector<std::int64_t> sizes;  // C-contiguous; empty for a scalar
  // element_size(type) * numel bytes, little-endian; read during the call.
  const void* data = nullptr;
};

std::uint64_t numel(const StateDictEntry& entry);

// Writes the entries, in their order, to `file` (not committed). Throws
// Error(kOutput) naming the file when a write fails, and before writing
// anything when the archive would pass 4 GiB (zip64 is not written; the
// largest torchvision ResNet is 485 MB).
void write_state_dict(AtomicFile& file,
                      const std::vector<StateDictEntry>& entries);

}  // namespace resnet_cli
