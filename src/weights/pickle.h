// A restricted unpickler for what torch.save writes, and nothing more.
//
// Like torch.load(weights_only=True), it never runs code: globals are names
// looked up in a fixed allow-list (OrderedDict, torch's tensor rebuilders,
// quantized ones included, storage types, quantization schemes and dtypes, a
// few inert containers); any other global is refused with Error(kCheckpoint).
// Every length and count is checked against the input and against fixed bounds,
// so hostile bytes cost at most a bounded amount of memory and time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace resnet_cli::pickle {

enum class ScalarType {
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt64,
  kInt32,
  kInt16,
  kInt8,
  kUInt8,
  kBool,
  // Quantized storages (torch.QInt8Storage ...): the integer values of a
  // quantized tensor, whose scales and zero points the tensor carries.
  kQInt8,
  kQUInt8,
  kQInt32,
};

// Whether `type` is one of the quantized storage types.
bool is_quantized(ScalarType type);

std::size_t element_size(ScalarType type);
const char* scalar_type_name(ScalarType type);
// torch's storage class for the type, e.g. "FloatStorage".
const char* storage_type_name(ScalarType type);

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// A typed storage named by a persistent id ('storage', torch.FloatStorage,
// key, location, numel). Its bytes live in the checkpoint's `data/<key>`
// record (zip) or after the pickles (legacy format).
struct StorageRef {
  std::string key;
  ScalarType type = ScalarType::kFloat32;
  std::string location;  // "cpu", "cuda:0", ...
  std::int64_t numel = 0;
};

// torch.qscheme values a quantized tensor can be rebuilt with
// (torch._utils._rebuild_qtensor accepts these three).
enum class QScheme {
  kPerTensorAffine,
  kPerChannelAffine,
  kPerChannelAffineFloatQParams,
};
const char* qscheme_name(QScheme scheme);

// How a quantized tensor maps its integers q to real values:
// (q - zero_point) * scale, one pair for the tensor or one per index along
// `axis`.
struct Quantizer {
  QScheme scheme = QScheme::kPerTensorAffine;
  double scale = 1;             // per tensor
  std::int64_t zero_point = 0;  // per tensor
  // Per channel: each a tensor (TensorRef, double or float scales; long or
  // float zero points) or, from older files, a list of numbers.
  std::shared_ptr<const Value> scales;
  std::shared_ptr<const Value> zero_points;
  std::int64_t axis = 0;
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...), or
// _rebuild_qtensor(storage, offset, size, stride, quantizer_params, ...) for
// a quantized tensor. Offsets and strides count elements, not bytes.
struct TensorRef {
  std::shared_ptr<const StorageRef> storage;
  std::int64_t storage_offset = 0;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;
  std::shared_ptr<const Quantizer> quantizer;  // set for quantized tensors
};

struct Tuple {
  std::vector<ValuePtr> items;
};
struct List {
  std::vector<ValuePtr> items;
};
// Keeps insertion order, as OrderedDict (and Python's dict) do.
struct Dict {
  std::vector<std::pair<ValuePtr, ValuePtr>> items;
  ValuePtr attributes;  // state set by BUILD (OrderedDict's _metadata)
};
struct Bytes {
  std::string data;
};
// An allowed global, before it is called.
struct Global {
  std::string module;
  std::string name;
};
// An instance of an allowed inert class (argparse.Namespace): just its state.
struct Object {
  std::string class_name;
  ValuePtr state;
};

struct None {};

struct Value {
  std::variant<None, bool, std::int64_t, double, std::string, Bytes, Tuple,
               List, Dict, Global, StorageRef, TensorRef, Object>
      data;

  template <typename T>
  const T* get_if() const {
    return std::get_if<T>(&data);
  }
  template <typename T>
  T* get_if() {
    return std::get_if<T>(&data);
  }
};

// Bounds that keep hostile input cheap. Defaults are far above anything a
// real checkpoint needs (a ResNet50 state_dict has ~1,600 memo entries).
struct Limits {
  std::size_t max_stack_depth = 100'000;
  std::size_t max_memo_entries = 1'000'000;
  std::size_t max_container_items = 10'000'000;
  std::size_t max_nesting = 200;       // containers inside containers
  std::size_t max_pushes = 2'000'000;  // values pushed in all, memo gets too
};

// Unpickles `size` bytes at `data`. `source` names the file in messages.
// Throws Error(kCheckpoint) for malformed input, an unsupported opcode or a
// global outside the allow-list. `consumed`, when given, receives the number
// of bytes read up to and including STOP (legacy files hold several pickles).
ValuePtr unpickle(const std::uint8_t* data, std::size_t size,
                  const std::string& source, const Limits& limits = {},
                  std::size_t* consumed = nullptr);

// A short rendering for messages: "dict", "tensor[64, 3, 7, 7]", "'text'".
std::string describe(const Value& value);

}  // namespace resnet_cli::pickle
