#include "weights/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "base/mapped_file.h"
#include "base/text.h"
#include "weights/zip_archive.h"

namespace resnet_cli {

namespace {

// A per-channel parameter tensor, read once the storages are reachable.
struct PendingChannelValues {
  std::size_t tensor = 0;  // index into Checkpoint::Contents::tensors
  bool scales = true;      // else zero points
  CheckpointTensor values;
};

}  // namespace

// A state_dict's entries, before any storage is read.
struct Checkpoint::Contents {
  std::vector<CheckpointTensor> tensors;
  std::vector<CheckpointDType> dtypes;
  std::vector<PendingChannelValues> channel_values;
};

namespace {

using pickle::Dict;
using pickle::TensorRef;
using pickle::Value;
using pickle::ValuePtr;

// A data.pkl of a ResNet50 is ~30 KB; anything this large is not a state
// dict and would only cost memory.
constexpr std::size_t kMaxPickleBytes = 256u << 20;

// The pickled magic number that opens a legacy torch.save file:
// PROTO 2, LONG1 10 bytes, 0x1950a86a20f9469cfc6c, STOP.
constexpr std::uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c,
                                         0xfc, 0x9c, 0x46, 0xf9, 0x20,
                                         0x6a, 0xa8, 0x50, 0x19, 0x2e};

[[noreturn]] void fail(const std::filesystem::path& path,
                       const std::string& why) {
  throw Error(ErrorKind::kCheckpoint, path.string() + ": " + why);
}

bool has_prefix(const MappedFile& file, const void* prefix, std::size_t n) {
  return file.size() >= n && std::memcmp(file.data(), prefix, n) == 0;
}

std::string strip_prefixes(std::string key) {
  for (const char* prefix : {"module.", "_orig_mod."}) {
    const std::size_t length = std::strlen(prefix);
    while (key.compare(0, length, prefix) == 0) key.erase(0, length);
  }
  return key;
}

// Number of storage elements a tensor touches (0 when it is empty); throws on
// overflow, which only hostile files produce.
std::int64_t tensor_extent(const std::filesystem::path& path,
                           const std::string& name, const TensorRef& tensor) {
  std::int64_t last = tensor.storage_offset;
  for (std::size_t i = 0; i < tensor.sizes.size(); ++i) {
    if (tensor.sizes[i] == 0) return 0;
    std::int64_t step = 0;
    if (__builtin_mul_overflow(tensor.sizes[i] - 1, tensor.strides[i], &step) ||
        __builtin_add_overflow(last, step, &last) ||
        last >= (std::int64_t{1} << 60)) {
      fail(path, "tensor '" + name + "' has an absurd size");
    }
  }
  return last + 1;
}

// numel * element size, or fails on overflow.
std::size_t storage_bytes(const std::filesystem::path& path,
                          const std::string& key, std::int64_t numel,
                          pickle::ScalarType type) {
  std::size_t bytes = 0;
  if (numel < 0 || __builtin_mul_overflow(static_cast<std::size_t>(numel),
                                          pickle::element_size(type), &bytes)) {
    fail(path, "storage '" + key + "' has an absurd size");
  }
  return bytes;
}

constexpr const char kPackedParams[] = "._packed_params._packed_params";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const pickle::Global* as_dtype(const Value& value) {
  const auto* global = value.get_if<pickle::Global>();
  return global && global->module == "torch" &&
                 (global->name == "qint8" || global->name == "quint8" ||
                  global->name == "qint32" || global->name == "float16" ||
                  global->name == "float32")
             ? global
             : nullptr;
}

// What a state_dict may map a key to: a tensor, a dtype, or a quantized
// Linear's packed (weight, bias).
bool is_state_dict_value(const Value& value) {
  if (value.get_if<TensorRef>() || as_dtype(value)) return true;
  const auto* tuple = value.get_if<pickle::Tuple>();
  return tuple && tuple->items.size() == 2 &&
         tuple->items[0]->get_if<TensorRef>() &&
         (tuple->items[1]->get_if<TensorRef>() ||
          tuple->items[1]->get_if<pickle::None>());
}

// Finds the state_dict inside the unpickled object.
const Dict& locate_state_dict(const std::filesystem::path& path,
                              const Value& root) {
  const Dict* dict = root.get_if<Dict>();
  if (!dict) {
    fail(path, "holds a " + pickle::describe(root) +
                   ", not a state_dict; save model.state_dict() instead");
  }
  auto is_tensor_dict = [](const Dict& candidate) {
    return !candidate.items.empty() &&
           std::all_of(candidate.items.begin(), candidate.items.end(),
                       [](const auto& item) {
                         return is_state_dict_value(*item.second);
                       });
  };
  if (is_tensor_dict(*dict)) return *dict;
  for (const char* wanted : {"model", "state_dict"}) {
    for (const auto& [key, value] : dict->items) {
      const auto* text = key->get_if<std::string>();
      const auto* inner = value->get_if<Dict>();
      if (text && *text == wanted && inner) return *inner;
    }
  }
  std::string keys;
  std::size_t shown = 0;
  for (const auto& [key, value] : dict->items) {
    if (shown++ == 8) {
      keys += ", ...";
      break;
    }
    keys += (keys.empty() ? "" : ", ") + pickle::describe(*key);
  }
  if (dict->items.empty()) fail(path, "holds an empty dict, not a state_dict");
  fail(path, "holds a dict (keys: " + keys +
                 ") that is neither a state_dict nor has a 'model' or "
                 "'state_dict' entry");
}

// The range of a quantized storage type's integers.
std::pair<std::int64_t, std::int64_t> integer_range(pickle::ScalarType type) {
  switch (type) {
    case pickle::ScalarType::kQInt8:
      return {-128, 127};
    case pickle::ScalarType::kQUInt8:
      return {0, 255};
    default:
      return {INT32_MIN, INT32_MAX};
  }
}

using StateDictContents = Checkpoint::Contents;

CheckpointTensor describe_tensor(const std::filesystem::path& path,
                                 const std::string& name,
                                 const TensorRef& tensor) {
  CheckpointTensor out;
  out.name = name;
  out.type = tensor.storage->type;
  out.sizes = tensor.sizes;
  out.strides = tensor.strides;
  out.storage_offset = tensor.storage_offset;
  out.storage_key = tensor.storage->key;
  out.storage_numel = tensor.storage->numel;
  if (tensor_extent(path, name, tensor) > out.storage_numel) {
    fail(path, "tensor '" + name + "' reaches past the end of its storage");
  }
  return out;
}

// Per-channel scales or zero points: a list's values now, a tensor's once
// its storage can be read.
void add_channel_values(const std::filesystem::path& path,
                        const std::string& name, const Value& value,
                        bool scales, std::int64_t channels,
                        StateDictContents& contents) {
  const char* what = scales ? "scales" : "zero points";
  CheckpointTensor& owner = contents.tensors.back();
  std::vector<double>& target =
      scales ? owner.quantization->scales : owner.quantization->zero_points;
  if (const auto* list = value.get_if<pickle::List>()) {
    if (static_cast<std::int64_t>(list->items.size()) != channels) {
      fail(path, "quantized tensor '" + name + "' has " +
                     std::to_string(list->items.size()) + " " + what + " for " +
                     std::to_string(channels) + " channels");
    }
    for (const ValuePtr& item : list->items) {
      const auto* number = item->get_if<double>();
      const auto* integer = item->get_if<std::int64_t>();
      target.push_back(number ? *number : static_cast<double>(*integer));
    }
    return;
  }
  const TensorRef& tensor = *value.get_if<TensorRef>();
  if (tensor.sizes[0] != channels) {
    fail(path, "quantized tensor '" + name + "' has " +
                   std::to_string(tensor.sizes[0]) + " " + what + " for " +
                   std::to_string(channels) + " channels");
  }
  using pickle::ScalarType;
  const ScalarType type = tensor.storage->type;
  if (type != ScalarType::kFloat64 && type != ScalarType::kFloat32 &&
      (scales || (type != ScalarType::kInt64 && type != ScalarType::kInt32))) {
    fail(path, "quantized tensor '" + name + "' has " +
                   pickle::scalar_type_name(type) + " " + what);
  }
  contents.channel_values.push_back(
      {contents.tensors.size() - 1, scales,
       describe_tensor(path, name + (scales ? ".<scales>" : ".<zero points>"),
                       tensor)});
}

// Checks a quantized tensor's scheme and per-tensor parameters, and queues
// its per-channel ones.
void add_quantization(const std::filesystem::path& path,
                      const std::string& name, const pickle::Quantizer& q,
                      StateDictContents& contents) {
  CheckpointTensor& tensor = contents.tensors.back();
  QuantizationParams params;
  params.scheme = q.scheme;
  const auto [low, high] = integer_range(tensor.type);
  if (q.scheme == pickle::QScheme::kPerTensorAffine) {
    if (!std::isfinite(q.scale) || q.scale <= 0) {
      fail(path, "quantized tensor '" + name + "' has scale " +
                     std::to_string(q.scale));
    }
    if (q.zero_point < low || q.zero_point > high) {
      fail(path, "quantized tensor '" + name + "' has zero point " +
                     std::to_string(q.zero_point) + ", outside " +
                     pickle::scalar_type_name(tensor.type) + "'s range");
    }
    params.scale = q.scale;
    params.zero_point = q.zero_point;
    tensor.quantization = std::move(params);
    return;
  }
  if (q.axis < 0 || q.axis >= static_cast<std::int64_t>(tensor.sizes.size())) {
    fail(path, "quantized tensor '" + name + "' has per-channel axis " +
                   std::to_string(q.axis) + " for " +
                   std::to_string(tensor.sizes.size()) + " dimensions");
  }
  params.axis = q.axis;
  tensor.quantization = std::move(params);
  const std::int64_t channels = tensor.sizes[static_cast<std::size_t>(q.axis)];
  add_channel_values(path, name, *q.scales, true, channels, contents);
  add_channel_values(path, name, *q.zero_points, false, channels, contents);
}

void add_tensor(const std::filesystem::path& path, const std::string& name,
                const TensorRef& tensor, StateDictContents& contents) {
  contents.tensors.push_back(describe_tensor(path, name, tensor));
  if (tensor.quantizer) {
    add_quantization(path, name, *tensor.quantizer, contents);
  }
}

StateDictContents collect_tensors(const std::filesystem::path& path,
                                  const Value& root) {
  const Dict& state_dict = locate_state_dict(path, root);
  StateDictContents contents;
  for (const auto& [key, value] : state_dict.items) {
    const auto* text = key->get_if<std::string>();
    if (!text) {
      fail(path,
           "state_dict key is a " + pickle::describe(*key) + ", not a string");
    }
    const std::string name = strip_prefixes(*text);
    if (const auto* tensor = value->get_if<TensorRef>()) {
      add_tensor(path, name, *tensor, contents);
    } else if (const pickle::Global* dtype = as_dtype(*value)) {
      contents.dtypes.push_back({name, dtype->name});
    } else if (ends_with(name, kPackedParams) && is_state_dict_value(*value)) {
      const std::string base =
          name.substr(0, name.size() - std::strlen("._packed_params"));
      const auto& items = value->get_if<pickle::Tuple>()->items;
      add_tensor(path, base + ".weight", *items[0]->get_if<TensorRef>(),
                 contents);
      if (const auto* bias = items[1]->get_if<TensorRef>()) {
        add_tensor(path, base + ".bias", *bias, contents);
      }
    } else {
      fail(path, "state_dict entry '" + *text + "' is a " +
                     pickle::describe(*value) + ", not a tensor");
    }
  }
  std::unordered_set<std::string> names;
  for (const CheckpointTensor& tensor : contents.tensors) {
    if (!names.insert(tensor.name).second) {
      fail(path, "state_dict has key '" + tensor.name + "' twice");
    }
  }
  for (const CheckpointDType& dtype : contents.dtypes) {
    if (!names.insert(dtype.name).second) {
      fail(path, "state_dict has key '" + dtype.name + "' twice");
    }
  }
  return contents;
}

}  // namespace

class Checkpoint::Source {
 public:
  virtual ~Source() = default;
  virtual StorageBytes read(const std::string& key) = 0;
};

namespace {

class ZipSource final : public Checkpoint::Source {
 public:
  ZipSource(const std::filesystem::path& path, std::shared_ptr<MappedFile> file)
      : file_(std::move(file)),
        archive_(file_->data(), file_->size(), path.string()) {}

  const ZipArchive& archive() const { return archive_; }

  StorageBytes read(const std::string& key) override {
    const std::string_view record = archive_.read("data/" + key);
    StorageBytes bytes;
    bytes.data = reinterpret_cast<const std::uint8_t*>(record.data());
    bytes.size = record.size();
    bytes.owner = file_;
    return bytes;
  }

 private:
  std::shared_ptr<MappedFile> file_;
  ZipArchive archive_;
};

// Legacy layout: pickles of the magic number, protocol version, system info,
// the object and the sorted storage keys; then, for each key in that order,
// an int64 element count and the raw bytes.
class LegacySource final : public Checkpoint::Source {
 public:
  LegacySource(const std::filesystem::path& path,
               std::unique_ptr<MappedFile> file)
      : path_(path), file_(std::move(file)) {}

  // Returns the state_dict's tensors and records where each storage lies.
  StateDictContents parse() {
    std::size_t pos = sizeof kLegacyMagic;
    auto next_pickle = [&]() {
      std::size_t consumed = 0;
      ValuePtr value =
          pickle::unpickle(file_->data() + pos, file_->size() - pos,
                           path_.string(), pickle::Limits{}, &consumed);
      pos += consumed;
      return value;
    };
    ValuePtr protocol = next_pickle();
    const auto* version = protocol->get_if<std::int64_t>();
    if (!version || *version != 1001) {
      fail(path_, "unknown legacy serialization protocol");
    }
    ValuePtr sys_info = next_pickle();
    if (const auto* info = sys_info->get_if<Dict>()) {
      for (const auto& [key, value] : info->items) {
        const auto* name = key->get_if<std::string>();
        const auto* flag = value->get_if<bool>();
        if (name && *name == "little_endian" && flag && !*flag) {
          fail(path_, "was saved on a big-endian machine; not supported");
        }
      }
    }
    StateDictContents contents = collect_tensors(path_, *next_pickle());
    std::unordered_map<std::string, const CheckpointTensor*> user_of;
    for (const CheckpointTensor& tensor : contents.tensors) {
      user_of.emplace(tensor.storage_key, &tensor);
    }
    for (const PendingChannelValues& pending : contents.channel_values) {
      user_of.emplace(pending.values.storage_key, &pending.values);
    }
    ValuePtr keys_value = next_pickle();
    const auto* keys = keys_value->get_if<pickle::List>();
    if (!keys) fail(path_, "legacy storage key list is missing");
    for (const ValuePtr& key_value : keys->items) {
      const auto* key = key_value->get_if<std::string>();
      if (!key) fail(path_, "legacy storage key is not a string");
      auto user = user_of.find(*key);
      if (user == user_of.end()) {
        fail(path_, "storage '" + *key + "' is not used by any tensor");
      }
      if (file_->size() - pos < 8) fail(path_, "truncated storage header");
      std::int64_t stored_numel;
      std::memcpy(&stored_numel, file_->data() + pos, 8);
      pos += 8;
      if (stored_numel != user->second->storage_numel) {
        fail(path_, "storage '" + *key + "' size disagrees with its pickle");
      }
      const std::size_t bytes =
          storage_bytes(path_, *key, stored_numel, user->second->type);
      if (bytes > file_->size() - pos) {
        fail(path_, "truncated: storage '" + *key + "' runs past the end");
      }
      offsets_[*key] = {pos, bytes};
      pos += bytes;
    }
    for (const auto& [key, user] : user_of) {
      if (!offsets_.count(key)) {
        fail(path_, "storage '" + key + "' is missing");
      }
    }
    return contents;
  }

  StorageBytes read(const std::string& key) override {
    auto found = offsets_.find(key);
    if (found == offsets_.end()) fail(path_, "missing storage '" + key + "'");
    StorageBytes bytes;
    bytes.data = file_->data() + found->second.first;
    bytes.size = found->second.second;
    bytes.owner = file_;
    return bytes;
  }

 private:
  std::filesystem::path path_;
  std::shared_ptr<MappedFile> file_;
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> offsets_;
};

}  // namespace

Checkpoint::Checkpoint(const std::filesystem::path& path) : path_(path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    fail(path, "no such file");
  }
  if (std::filesystem::is_directory(status)) fail(path, "is a directory");

  auto file = std::make_unique<MappedFile>(path, ErrorKind::kCheckpoint);
  if (has_prefix(*file, "PK\x03\x04", 4)) {
    format_ = "zip";
    auto zip = std::make_unique<ZipSource>(path, std::move(file));
    const ZipArchive& archive = zip->archive();
    if (archive.find("constants.pkl") || archive.has_prefix("code/") ||
        archive.find("bytecode.pkl")) {
      fail(path,
           "is a TorchScript module (torch.jit.save), not a "
           "state_dict; save model.state_dict() with torch.save");
    }
    if (archive.find("byteorder") &&
        archive.read("byteorder", 16) != "little") {
      fail(path, "was saved big-endian; not supported");
    }
    const std::string_view pickled = archive.read("data.pkl", kMaxPickleBytes);
    ValuePtr root =
        pickle::unpickle(reinterpret_cast<const std::uint8_t*>(pickled.data()),
                         pickled.size(), path.string());
    take_contents(collect_tensors(path, *root));
    source_ = std::move(zip);
  } else if (has_prefix(*file, kLegacyMagic, sizeof kLegacyMagic)) {
    format_ = "legacy";
    auto legacy = std::make_unique<LegacySource>(path, std::move(file));
    take_contents(legacy->parse());
    source_ = std::move(legacy);
  } else if (file->size() > 8 && file->data()[8] == '{') {
    fail(path,
         "looks like a safetensors file; only torch.save checkpoints "
         "(.pth) are supported");
  } else {
    fail(path,
         "not a PyTorch checkpoint (neither a torch.save zip archive "
         "nor a legacy torch.save file)");
  }
  if (tensors_.empty()) fail(path, "state_dict holds no tensors");
  read_channel_values();
}

Checkpoint::~Checkpoint() = default;

void Checkpoint::take_contents(Contents&& contents) {
  tensors_ = std::move(contents.tensors);
  dtypes_ = std::move(contents.dtypes);
  for (PendingChannelValues& pending : contents.channel_values) {
    channel_tensors_.push_back(std::move(pending.values));
    channel_owners_.emplace_back(pending.tensor, pending.scales);
  }
}

void Checkpoint::read_channel_values() {
  using pickle::ScalarType;
  for (std::size_t i = 0; i < channel_tensors_.size(); ++i) {
    const CheckpointTensor& values = channel_tensors_[i];
    CheckpointTensor& owner = tensors_[channel_owners_[i].first];
    const bool scales = channel_owners_[i].second;
    QuantizationParams& params = *owner.quantization;
    std::vector<double>& target = scales ? params.scales : params.zero_points;
    const StorageBytes bytes = read_storage(values.storage_key);
    for (std::int64_t c = 0; c < values.sizes[0]; ++c) {
      const std::size_t index = static_cast<std::size_t>(values.storage_offset +
                                                         c * values.strides[0]);
      const std::uint8_t* at =
          bytes.data + index * pickle::element_size(values.type);
      double value = 0;
      if (values.type == ScalarType::kFloat64) {
        std::memcpy(&value, at, 8);
      } else if (values.type == ScalarType::kFloat32) {
        float number;
        std::memcpy(&number, at, 4);
        value = number;
      } else if (values.type == ScalarType::kInt64) {
        std::int64_t number;
        std::memcpy(&number, at, 8);
        value = static_cast<double>(number);
      } else {
        std::int32_t number;
        std::memcpy(&number, at, 4);
        value = number;
      }
      target.push_back(value);
    }
  }
  for (const CheckpointTensor& tensor : tensors_) {
    if (tensor.quantization && !tensor.quantization->scales.empty()) {
      check_channel_values(tensor);
    }
  }
}

void Checkpoint::check_channel_values(const CheckpointTensor& tensor) const {
  const QuantizationParams& params = *tensor.quantization;
  const auto [low, high] = integer_range(tensor.type);
  const bool integral =
      params.scheme != pickle::QScheme::kPerChannelAffineFloatQParams;
  for (std::size_t c = 0; c < params.scales.size(); ++c) {
    const double scale = params.scales[c];
    const double zero_point = params.zero_points[c];
    if (!std::isfinite(scale) || scale <= 0) {
      fail(path_, "quantized tensor '" + tensor.name + "' has scale " +
                      std::to_string(scale) + " in channel " +
                      std::to_string(c));
    }
    if (!std::isfinite(zero_point) ||
        (integral && (zero_point != std::floor(zero_point) ||
                      zero_point < static_cast<double>(low) ||
                      zero_point > static_cast<double>(high)))) {
      fail(path_, "quantized tensor '" + tensor.name + "' has zero point " +
                      std::to_string(zero_point) + " in channel " +
                      std::to_string(c) + ", outside " +
                      pickle::scalar_type_name(tensor.type) + "'s range");
    }
  }
}

bool Checkpoint::is_quantized() const {
  return std::any_of(tensors_.begin(), tensors_.end(),
                     [](const CheckpointTensor& tensor) {
                       return tensor.quantization.has_value();
                     });
}

const CheckpointDType* Checkpoint::find_dtype(const std::string& name) const {
  for (const CheckpointDType& dtype : dtypes_) {
    if (dtype.name == name) return &dtype;
  }
  return nullptr;
}

const CheckpointTensor* Checkpoint::find(const std::string& name) const {
  for (const CheckpointTensor& tensor : tensors_) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

StorageBytes Checkpoint::read_storage(const std::string& key) const {
  const CheckpointTensor* user = nullptr;
  for (const auto* list : {&tensors_, &channel_tensors_}) {
    for (const CheckpointTensor& tensor : *list) {
      if (tensor.storage_key == key) {
        user = &tensor;
        break;
      }
    }
    if (user) break;
  }
  if (!user) fail(path_, "no tensor uses storage '" + key + "'");
  StorageBytes bytes = source_->read(key);
  const std::size_t expected =
      storage_bytes(path_, key, user->storage_numel, user->type);
  if (bytes.size != expected) {
    fail(path_, "storage '" + key + "' holds " + std::to_string(bytes.size) +
                    " bytes; its tensors need " + std::to_string(expected));
  }
  return bytes;
}

}  // namespace resnet_cli
