// A checkpoint entry as an ATen tensor, for the model side (resnet.cpp,
// trainer.cpp): the one place that maps the checkpoint reader's storages
// onto LibTorch's types.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "weights/checkpoint.h"

namespace resnet_cli::detail {

inline at::ScalarType to_aten(pickle::ScalarType type) {
  switch (type) {
    case pickle::ScalarType::kFloat32:
      return at::kFloat;
    case pickle::ScalarType::kFloat64:
      return at::kDouble;
    case pickle::ScalarType::kFloat16:
      return at::kHalf;
    case pickle::ScalarType::kBFloat16:
      return at::kBFloat16;
    case pickle::ScalarType::kInt64:
      return at::kLong;
    case pickle::ScalarType::kInt32:
      return at::kInt;
    case pickle::ScalarType::kInt16:
      return at::kShort;
    case pickle::ScalarType::kInt8:
      return at::kChar;
    case pickle::ScalarType::kUInt8:
      return at::kByte;
    case pickle::ScalarType::kBool:
      return at::kBool;
    // A quantized storage as its integers; the scales and zero points are
    // CheckpointTensor::quantization's.
    case pickle::ScalarType::kQInt8:
      return at::kChar;
    case pickle::ScalarType::kQUInt8:
      return at::kByte;
    case pickle::ScalarType::kQInt32:
      return at::kInt;
  }
  return at::kFloat;
}

// The inverse of to_aten for plain types, for writing checkpoints: none when
// no storage class holds `type`.
inline std::optional<pickle::ScalarType> from_aten(at::ScalarType type) {
  for (int i = 0; i <= static_cast<int>(pickle::ScalarType::kBool); ++i) {
    const auto candidate = static_cast<pickle::ScalarType>(i);
    if (to_aten(candidate) == type) return candidate;
  }
  return std::nullopt;
}

struct StoredTensor {
  at::Tensor view;  // the entry's sizes and strides over its storage's bytes
};

// One entry as stored, without a copy; the tensor keeps the bytes alive.
// Throws Error(kCheckpoint) as Checkpoint::read_storage does, c10::Error
// when the strides do not fit the storage.
inline StoredTensor stored_tensor(const Checkpoint& checkpoint,
                                  const CheckpointTensor& entry) {
  StorageBytes bytes = checkpoint.read_storage(entry.storage_key);
  std::shared_ptr<const void> owner = std::move(bytes.owner);
  const at::Tensor storage = at::from_blob(
      const_cast<std::uint8_t*>(bytes.data), {entry.storage_numel},
      [owner](void*) mutable { owner.reset(); },
      at::TensorOptions().dtype(to_aten(entry.type)));
  return {storage.as_strided(entry.sizes, entry.strides, entry.storage_offset)};
}

}  // namespace resnet_cli::detail
