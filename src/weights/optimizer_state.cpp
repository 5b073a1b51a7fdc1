#include "weights/optimizer_state.h"

#include <cstring>

#include "base/error.h"
#include "base/mapped_file.h"
#include "weights/zip_archive.h"

namespace resnet_cli {

namespace {

using pickle::Dict;
using pickle::List;
using pickle::TensorRef;
using pickle::Value;
using pickle::ValuePtr;

// An optimizer's data.pkl is a few KB; a ResNet's whole state fits far below.
constexpr std::size_t kMaxPickleBytes = 64u << 20;

void pickle_value(TorchPickler& pickle, const GroupValue& value) {
  if (std::holds_alternative<std::monostate>(value)) return pickle.none();
  if (const bool* flag = std::get_if<bool>(&value)) {
    return pickle.boolean(*flag);
  }
  if (const auto* whole = std::get_if<std::int64_t>(&value)) {
    return pickle.integer(*whole);
  }
  if (const double* real = std::get_if<double>(&value)) {
    return pickle.real(*real);
  }
  const auto& tuple = std::get<std::vector<double>>(value);
  pickle.op('(');
  for (const double item : tuple) pickle.real(item);
  pickle.op('t');
}

[[noreturn]] void fail(const std::filesystem::path& path,
                       const std::string& why) {
  throw Error(ErrorKind::kCheckpoint, path.string() + ": " + why);
}

// The value under string key `key` of `dict`, or nullptr.
const Value* entry(const Dict& dict, const std::string& key) {
  for (const auto& [name, value] : dict.items) {
    const auto* text = name->get_if<std::string>();
    if (text && *text == key) return value.get();
  }
  return nullptr;
}

GroupValue group_value(const std::filesystem::path& path,
                       const std::string& name, const Value& value) {
  if (value.get_if<pickle::None>()) return std::monostate{};
  if (const bool* flag = value.get_if<bool>()) return *flag;
  if (const auto* whole = value.get_if<std::int64_t>()) return *whole;
  if (const double* real = value.get_if<double>()) return *real;
  if (const auto* tuple = value.get_if<pickle::Tuple>()) {
    std::vector<double> items;
    for (const ValuePtr& item : tuple->items) {
      const double* real = item->get_if<double>();
      if (!real) break;
      items.push_back(*real);
    }
    if (items.size() == tuple->items.size()) return items;
  }
  fail(path, "param_groups' '" + name + "' is a " + pickle::describe(value) +
                 ", not a number");
}

// A state tensor, C-contiguous over its storage's bytes in the archive.
StateDictEntry state_tensor(const std::filesystem::path& path,
                            const ZipArchive& archive, const std::string& name,
                            const TensorRef& tensor) {
  StateDictEntry out;
  out.name = name;
  out.type = tensor.storage->type;
  out.sizes = tensor.sizes;
  std::int64_t stride = 1;
  for (std::size_t i = tensor.sizes.size(); i-- > 0;) {
    if (tensor.sizes[i] < 0 ||
        (tensor.sizes[i] > 1 && tensor.strides[i] != stride)) {
      fail(path, "state tensor '" + name + "' is not contiguous");
    }
    stride *= tensor.sizes[i];
  }
  const std::string_view bytes = archive.read("data/" + tensor.storage->key);
  const std::size_t element = pickle::element_size(out.type);
  const auto offset = static_cast<std::uint64_t>(tensor.storage_offset);
  if (tensor.storage_offset < 0 ||
      (offset + numel(out)) * element > bytes.size()) {
    fail(path, "state tensor '" + name + "' reaches past its storage");
  }
  out.data = bytes.data() + offset * element;
  return out;
}

// "state": {index: {name: tensor}} into one list per parameter.
std::vector<std::vector<StateDictEntry>> parameter_states(
    const std::filesystem::path& path, const ZipArchive& archive,
    const Dict& state, std::size_t params) {
  std::vector<std::vector<StateDictEntry>> out(params);
  for (const auto& [key, value] : state.items) {
    const auto* index = key->get_if<std::int64_t>();
    const auto* tensors = value->get_if<Dict>();
    if (!index || !tensors || *index < 0 ||
        static_cast<std::size_t>(*index) >= params) {
      fail(path, "state entry " + pickle::describe(*key) +
                     " is not a parameter of the group");
    }
    for (const auto& [name, tensor] : tensors->items) {
      const auto* text = name->get_if<std::string>();
      const auto* ref = tensor->get_if<TensorRef>();
      if (!text || !ref) {
        fail(path, "state of parameter " + std::to_string(*index) +
                       " holds a " + pickle::describe(*tensor) +
                       ", not a named tensor");
      }
      out[static_cast<std::size_t>(*index)].push_back(
          state_tensor(path, archive, *text, *ref));
    }
  }
  return out;
}

// The one group of "param_groups", its "params" [0, 1, ...] counted.
OptimizerState read_group(const std::filesystem::path& path,
                          const Value& groups, std::size_t* params) {
  const auto* list = groups.get_if<List>();
  if (!list || list->items.size() != 1 || !list->items[0]->get_if<Dict>()) {
    fail(path, "param_groups is not a list of one group");
  }
  OptimizerState state;
  for (const auto& [key, value] : list->items[0]->get_if<Dict>()->items) {
    const auto* name = key->get_if<std::string>();
    if (!name) fail(path, "param_groups has a key that is not a string");
    if (*name != "params") {
      state.group.emplace_back(*name, group_value(path, *name, *value));
      continue;
    }
    const auto* indices = value->get_if<List>();
    if (!indices) fail(path, "param_groups' params is not a list");
    for (std::size_t i = 0; i < indices->items.size(); ++i) {
      const auto* index = indices->items[i]->get_if<std::int64_t>();
      if (!index || *index != static_cast<std::int64_t>(i)) {
        fail(path, "param_groups' params are not 0, 1, 2, ...");
      }
    }
    *params = indices->items.size();
  }
  return state;
}

}  // namespace

double OptimizerState::number(const std::string& name) const {
  for (const auto& [key, value] : group) {
    if (key != name) continue;
    if (const double* real = std::get_if<double>(&value)) return *real;
    if (const auto* whole = std::get_if<std::int64_t>(&value)) {
      return static_cast<double>(*whole);
    }
  }
  throw Error(ErrorKind::kCheckpoint,
              "the optimizer state has no number '" + name + "'");
}

void write_optimizer_state(AtomicFile& file, const OptimizerState& state) {
  TorchPickler pickle;
  pickle.op('}');  // {"state": {...}, "param_groups": [{...}]}
  pickle.op('(');
  pickle.text("state");
  pickle.op('}');
  pickle.op('(');
  for (std::size_t i = 0; i < state.state.size(); ++i) {
    if (state.state[i].empty()) continue;
    pickle.integer(static_cast<std::int64_t>(i));
    pickle.op('}');
    pickle.op('(');
    for (const StateDictEntry& tensor : state.state[i]) {
      pickle.text(tensor.name);
      pickle.tensor(tensor);
    }
    pickle.op('u');
  }
  pickle.op('u');
  pickle.text("param_groups");
  pickle.op(']');
  pickle.op('}');
  pickle.op('(');
  for (const auto& [name, value] : state.group) {
    pickle.text(name);
    pickle_value(pickle, value);
  }
  pickle.text("params");
  pickle.op(']');
  pickle.op('(');
  for (std::size_t i = 0; i < state.state.size(); ++i) {
    pickle.integer(static_cast<std::int64_t>(i));
  }
  pickle.op('e');
  pickle.op('u');
  pickle.op('a');
  pickle.op('u');
  const std::string bytes = pickle.finish();
  write_torch_archive(file, bytes, pickle.storages());
}

OptimizerState read_optimizer_state(const std::filesystem::path& path) {
  auto file = std::make_shared<MappedFile>(path, ErrorKind::kCheckpoint);
  if (file->size() < 4 || std::memcmp(file->data(), "PK\x03\x04", 4) != 0) {
    fail(path, "not a torch.save zip archive");
  }
  const ZipArchive archive(file->data(), file->size(), path.string());
  if (archive.find("constants.pkl") || archive.has_prefix("code/")) {
    fail(path,
         "a TorchScript archive (an optimizer state resnet-cli wrote before "
         "0.1.0's optimizer.pt format); start the run afresh with --force");
  }
  const std::string_view pickled = archive.read("data.pkl", kMaxPickleBytes);
  const ValuePtr root =
      pickle::unpickle(reinterpret_cast<const std::uint8_t*>(pickled.data()),
                       pickled.size(), path.string());
  const auto* dict = root->get_if<Dict>();
  const Value* groups = dict ? entry(*dict, "param_groups") : nullptr;
  const Value* state = dict ? entry(*dict, "state") : nullptr;
  if (!groups || !state || !state->get_if<Dict>()) {
    fail(path, "holds a " + pickle::describe(*root) +
                   ", not an optimizer's state_dict (state, param_groups)");
  }
  std::size_t params = 0;
  OptimizerState out = read_group(path, *groups, &params);
  out.state = parameter_states(path, archive, *state->get_if<Dict>(), params);
  out.owner = file;
  return out;
}

}  // namespace resnet_cli
