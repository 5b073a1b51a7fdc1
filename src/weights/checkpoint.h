// Reads the state_dict checkpoints that torch.save writes, without Python.
//
// Formats: the zip archive of torch >= 1.6 (`<name>/data.pkl`,
// `<name>/data/<key>`, `<name>/version`) and the legacy stream of pickles
// followed by raw storages (torch < 1.6, or `_use_new_zipfile_serialization=
// False`). The top-level object may be a state_dict or a dict holding one
// under "model" or "state_dict" (torchvision's reference scripts); "module."
// (DistributedDataParallel) and "_orig_mod." (torch.compile) key prefixes
// are removed. Nothing in the file is ever executed (see pickle.h).
//
// Quantized state_dicts (torch.ao.quantization's convert) are read too: their
// tensors carry their scales and zero points (QuantizationParams), a
// quantized Linear's packed parameters, the tuple (weight, bias) saved under
// "<name>._packed_params._packed_params", read as the two tensors
// "<name>._packed_params.weight" and "<name>._packed_params.bias" (the keys
// older files use), and its "<name>._packed_params.dtype" as a dtype entry.
//
// Every failure throws Error(kCheckpoint) with the file name and the reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weights/pickle.h"

namespace resnet_cli {

// A quantized tensor's mapping of its integers q to values,
// (q - zero_point) * scale: one pair for the tensor, or one per index along
// `axis` (per channel). Checked when the file is opened: scales finite and
// positive, zero points within the storage type's range (float qparams: any
// finite value), one per channel.
struct QuantizationParams {
  pickle::QScheme scheme = pickle::QScheme::kPerTensorAffine;
  double scale = 1;                 // per tensor
  std::int64_t zero_point = 0;      // per tensor
  std::int64_t axis = 0;            // per channel
  std::vector<double> scales;       // per channel
  std::vector<double> zero_points;  // per channel (integers unless float
                                    // qparams)
};

struct CheckpointTensor {
  std::string name;  // state_dict key, prefixes removed
  // The storage's type; a quantized one (kQInt8, ...) holds the integers.
  pickle::ScalarType type = pickle::ScalarType::kFloat32;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;  // in elements
  std::int64_t storage_offset = 0;    // in elements
  std::string storage_key;
  std::int64_t storage_numel = 0;
  std::optional<QuantizationParams> quantization;  // quantized tensors only
};

// A state_dict entry that is a dtype, not a tensor ("fc._packed_params.dtype"
// of a quantized Linear): torch's name for it, "qint8", "float16", ...
struct CheckpointDType {
  std::string name;
  std::string dtype;
};

// A storage's raw bytes, little-endian, element_size(type) * numel long.
struct StorageBytes {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  // Keeps `data` alive: a read-only mapping of the file, never to be written.
  std::shared_ptr<const void> owner;
};

class Checkpoint {
 public:
  // Opens `path` and reads its pickle; storages are read on demand.
  explicit Checkpoint(const std::filesystem::path& path);
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // "zip" or "legacy".
  const std::string& format() const { return format_; }
  // In the order the file lists them.
  const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
  const CheckpointTensor* find(const std::string& name) const;
  // Whether any tensor is quantized.
  bool is_quantized() const;
  // The state_dict's dtype entries, in file order.
  const std::vector<CheckpointDType>& dtypes() const { return dtypes_; }
  const CheckpointDType* find_dtype(const std::string& name) const;

  // Reads one storage's bytes; its size is checked against the pickle.
  StorageBytes read_storage(const std::string& key) const;

  class Source;     // where storages come from; defined in checkpoint.cpp
  struct Contents;  // what the pickle holds; defined in checkpoint.cpp

 private:
  void take_contents(Contents&& contents);
  // Reads and checks quantized tensors' per-channel scales and zero points.
  void read_channel_values();
  void check_channel_values(const CheckpointTensor& tensor) const;

  std::filesystem::path path_;
  std::string format_;
  std::vector<CheckpointTensor> tensors_;
  std::vector<CheckpointDType> dtypes_;
  // Per-channel scales and zero points: their storages, and the index in
  // tensors_ each belongs to (true: scales).
  std::vector<CheckpointTensor> channel_tensors_;
  std::vector<std::pair<std::size_t, bool>> channel_owners_;
  std::unique_ptr<Source> source_;
};

}  // namespace resnet_cli
