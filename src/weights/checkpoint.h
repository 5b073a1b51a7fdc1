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
// Every failure throws Error(kCheckpoint) with the file name and the reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weights/pickle.h"

namespace resnet_cli {

struct CheckpointTensor {
  std::string name;  // state_dict key, prefixes removed
  pickle::ScalarType type = pickle::ScalarType::kFloat32;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;  // in elements
  std::int64_t storage_offset = 0;    // in elements
  std::string storage_key;
  std::int64_t storage_numel = 0;
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

  // Reads one storage's bytes; its size is checked against the pickle.
  StorageBytes read_storage(const std::string& key) const;

  class Source;  // where storages come from; defined in checkpoint.cpp

 private:
  std::filesystem::path path_;
  std::string format_;
  std::vector<CheckpointTensor> tensors_;
  std::unique_ptr<Source> source_;
};

}  // namespace resnet_cli
