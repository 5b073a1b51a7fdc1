// Writes what torch.save writes, without LibTorch: the zip format of
// torch >= 1.6, read back by torch.load, torch::load's PyTorchStreamReader
// and checkpoint.h alike. write_state_dict writes torch.save(
// model.state_dict()); optimizer_state.h builds on the same pieces.
//
// The archive holds "archive/data.pkl" (pickle protocol 2: for a
// state_dict, a collections.OrderedDict of torch._utils._rebuild_tensor_v2
// calls over persistent ids ('storage', torch.FloatStorage, key, 'cpu',
// numel); quantized tensors as _rebuild_qtensor calls; the _metadata of
// module versions set by BUILD when given), one stored (uncompressed) record
// "archive/data/<key>" per storage, and "archive/version". Every record's
// data starts on a 64-byte boundary, as PyTorchStreamWriter aligns them, so
// that readers may map them in place. Timestamps are fixed, so equal entries
// always give equal bytes.
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

// The pickle of a torch.save archive, opcode by opcode, in the shape
// Python's pickler (protocol 2) gives torch.save's objects. tensor() numbers
// the storages in the order the tensors come; write_torch_archive writes
// them in that order.
class TorchPickler {
 public:
  TorchPickler();

  void global(const char* module, const char* name);
  void text(const std::string& value);
  void integer(std::int64_t value);
  void real(double value);  // BINFLOAT
  void boolean(bool value);
  void none();
  // A tuple of whole numbers (a tensor's sizes, strides).
  void integers(const std::vector<std::int64_t>& values);
  // collections.OrderedDict()
  void empty_ordered_dict();
  // torch._utils._rebuild_tensor_v2 over the next storage: C-contiguous,
  // offset 0, requires_grad False. `entry` must outlive the pickler.
  void tensor(const StateDictEntry& entry);
  void op(char code);

  // The pickle, STOP added, and the tensors whose storages it names.
  std::string finish();
  const std::vector<const StateDictEntry*>& storages() const {
    return storages_;
  }

 private:
  std::string bytes_;
  std::vector<const StateDictEntry*> storages_;
};

// Writes `pickle` and the storages it names (TorchPickler::storages) as
// torch.save's zip archive; throws as write_state_dict does.
void write_torch_archive(AtomicFile& file, const std::string& pickle,
                         const std::vector<const StateDictEntry*>& storages);

}  // namespace resnet_cli
