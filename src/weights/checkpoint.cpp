#include "weights/checkpoint.h"

#include <algorithm>
#include <cerrno>
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
                         return item.second->template get_if<TensorRef>() !=
                                nullptr;
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

std::vector<CheckpointTensor> collect_tensors(const std::filesystem::path& path,
                                              const Value& root) {
  const Dict& state_dict = locate_state_dict(path, root);
  std::vector<CheckpointTensor> tensors;
  std::unordered_set<std::string> names;
  for (const auto& [key, value] : state_dict.items) {
    const auto* text = key->get_if<std::string>();
    if (!text) {
      fail(path,
           "state_dict key is a " + pickle::describe(*key) + ", not a string");
    }
    const auto* tensor = value->get_if<TensorRef>();
    if (!tensor) {
      fail(path, "state_dict entry '" + *text + "' is a " +
                     pickle::describe(*value) + ", not a tensor");
    }
    CheckpointTensor out;
    out.name = strip_prefixes(*text);
    out.type = tensor->storage->type;
    out.sizes = tensor->sizes;
    out.strides = tensor->strides;
    out.storage_offset = tensor->storage_offset;
    out.storage_key = tensor->storage->key;
    out.storage_numel = tensor->storage->numel;
    if (tensor_extent(path, *text, *tensor) > out.storage_numel) {
      fail(path, "tensor '" + *text + "' reaches past the end of its storage");
    }
    if (!names.insert(out.name).second) {
      fail(path, "state_dict has key '" + out.name + "' twice");
    }
    tensors.push_back(std::move(out));
  }
  return tensors;
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
  std::vector<CheckpointTensor> parse() {
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
    std::vector<CheckpointTensor> tensors =
        collect_tensors(path_, *next_pickle());
    std::unordered_map<std::string, const CheckpointTensor*> user_of;
    for (const CheckpointTensor& tensor : tensors) {
      user_of.emplace(tensor.storage_key, &tensor);
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
    for (const CheckpointTensor& tensor : tensors) {
      if (!offsets_.count(tensor.storage_key)) {
        fail(path_, "storage '" + tensor.storage_key + "' is missing");
      }
    }
    return tensors;
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
    tensors_ = collect_tensors(path, *root);
    source_ = std::move(zip);
  } else if (has_prefix(*file, kLegacyMagic, sizeof kLegacyMagic)) {
    format_ = "legacy";
    auto legacy = std::make_unique<LegacySource>(path, std::move(file));
    tensors_ = legacy->parse();
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
}

Checkpoint::~Checkpoint() = default;

const CheckpointTensor* Checkpoint::find(const std::string& name) const {
  for (const CheckpointTensor& tensor : tensors_) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

StorageBytes Checkpoint::read_storage(const std::string& key) const {
  const CheckpointTensor* user = nullptr;
  for (const CheckpointTensor& tensor : tensors_) {
    if (tensor.storage_key == key) {
      user = &tensor;
      break;
    }
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
