#include "weights/pickle.h"

#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"

namespace resnet_cli::pickle {

std::size_t element_size(ScalarType type) {
  switch (type) {
    case ScalarType::kFloat64:
    case ScalarType::kInt64:
      return 8;
    case ScalarType::kFloat32:
    case ScalarType::kInt32:
      return 4;
    case ScalarType::kFloat16:
    case ScalarType::kBFloat16:
    case ScalarType::kInt16:
      return 2;
    case ScalarType::kInt8:
    case ScalarType::kUInt8:
    case ScalarType::kBool:
    case ScalarType::kQInt8:
    case ScalarType::kQUInt8:
      return 1;
    case ScalarType::kQInt32:
      return 4;
  }
  return 1;
}

bool is_quantized(ScalarType type) {
  return type == ScalarType::kQInt8 || type == ScalarType::kQUInt8 ||
         type == ScalarType::kQInt32;
}

const char* qscheme_name(QScheme scheme) {
  switch (scheme) {
    case QScheme::kPerTensorAffine:
      return "per_tensor_affine";
    case QScheme::kPerChannelAffine:
      return "per_channel_affine";
    case QScheme::kPerChannelAffineFloatQParams:
      return "per_channel_affine_float_qparams";
  }
  return "unknown";
}

const char* scalar_type_name(ScalarType type) {
  switch (type) {
    case ScalarType::kFloat32:
      return "float32";
    case ScalarType::kFloat64:
      return "float64";
    case ScalarType::kFloat16:
      return "float16";
    case ScalarType::kBFloat16:
      return "bfloat16";
    case ScalarType::kInt64:
      return "int64";
    case ScalarType::kInt32:
      return "int32";
    case ScalarType::kInt16:
      return "int16";
    case ScalarType::kInt8:
      return "int8";
    case ScalarType::kUInt8:
      return "uint8";
    case ScalarType::kBool:
      return "bool";
    case ScalarType::kQInt8:
      return "qint8";
    case ScalarType::kQUInt8:
      return "quint8";
    case ScalarType::kQInt32:
      return "qint32";
  }
  return "unknown";
}

namespace {

// Pickle opcodes (Lib/pickletools.py) that torch.save and ordinary
// containers use, protocols 0 to 5.
enum Op : std::uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinFloat = 'G',
  kInt = 'I',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

enum class Callable {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kCodecsEncode,
  kNamespace,
  kStorageType,
  kRestoreTypeTag,
  kRebuildQTensor,
  // Inert values, never called: torch.per_channel_affine, torch.qint8 ...
  kQScheme,
  kDType,
};

struct AllowedGlobal {
  const char* module;
  const char* name;
  Callable callable;
  ScalarType storage_type;
  QScheme qscheme = QScheme::kPerTensorAffine;  // kQScheme only
};

// The allow-list. Storage classes only ever appear inside persistent ids.
constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", Callable::kOrderedDict, ScalarType::kUInt8},
    {"torch._utils", "_rebuild_tensor_v2", Callable::kRebuildTensorV2,
     ScalarType::kUInt8},
    {"torch._utils", "_rebuild_parameter", Callable::kRebuildParameter,
     ScalarType::kUInt8},
    {"torch._utils", "_rebuild_parameter_with_state",
     Callable::kRebuildParameterWithState, ScalarType::kUInt8},
    // Protocol 2 pickles Python 3 bytes as _codecs.encode(text, "latin1").
    {"_codecs", "encode", Callable::kCodecsEncode, ScalarType::kUInt8},
    // torchvision's reference scripts save their argparse arguments beside
    // the model; an inert record here, never constructed.
    {"argparse", "Namespace", Callable::kNamespace, ScalarType::kUInt8},
    // LibTorch's pickler (torch::pickle_save, which resnet-cli train used
    // before state_dict_writer.h) tags a typed Dict with its type, "Dict[str,
    // Tensor]": the identity.
    {"torch.jit._pickle", "restore_type_tag", Callable::kRestoreTypeTag,
     ScalarType::kUInt8},
    {"torch", "FloatStorage", Callable::kStorageType, ScalarType::kFloat32},
    {"torch", "DoubleStorage", Callable::kStorageType, ScalarType::kFloat64},
    {"torch", "HalfStorage", Callable::kStorageType, ScalarType::kFloat16},
    {"torch", "BFloat16Storage", Callable::kStorageType, ScalarType::kBFloat16},
    {"torch", "LongStorage", Callable::kStorageType, ScalarType::kInt64},
    {"torch", "IntStorage", Callable::kStorageType, ScalarType::kInt32},
    {"torch", "ShortStorage", Callable::kStorageType, ScalarType::kInt16},
    {"torch", "CharStorage", Callable::kStorageType, ScalarType::kInt8},
    {"torch", "ByteStorage", Callable::kStorageType, ScalarType::kUInt8},
    {"torch", "BoolStorage", Callable::kStorageType, ScalarType::kBool},
    // Quantized tensors (a converted model's state_dict): the rebuilder, its
    // storages and schemes, and the dtype LinearPackedParams records.
    {"torch._utils", "_rebuild_qtensor", Callable::kRebuildQTensor,
     ScalarType::kUInt8},
    {"torch", "QInt8Storage", Callable::kStorageType, ScalarType::kQInt8},
    {"torch", "QUInt8Storage", Callable::kStorageType, ScalarType::kQUInt8},
    {"torch", "QInt32Storage", Callable::kStorageType, ScalarType::kQInt32},
    {"torch", "per_tensor_affine", Callable::kQScheme, ScalarType::kUInt8,
     QScheme::kPerTensorAffine},
    {"torch", "per_channel_affine", Callable::kQScheme, ScalarType::kUInt8,
     QScheme::kPerChannelAffine},
    {"torch", "per_channel_affine_float_qparams", Callable::kQScheme,
     ScalarType::kUInt8, QScheme::kPerChannelAffineFloatQParams},
    // Symmetric schemes name observers, never a stored tensor (torch refuses
    // to rebuild one); allowed as values so that the refusal says so.
    {"torch", "per_tensor_symmetric", Callable::kQScheme, ScalarType::kUInt8,
     QScheme::kPerTensorAffine},
    {"torch", "per_channel_symmetric", Callable::kQScheme, ScalarType::kUInt8,
     QScheme::kPerChannelAffine},
    {"torch", "qint8", Callable::kDType, ScalarType::kQInt8},
    {"torch", "quint8", Callable::kDType, ScalarType::kQUInt8},
    {"torch", "qint32", Callable::kDType, ScalarType::kQInt32},
    {"torch", "float16", Callable::kDType, ScalarType::kFloat16},
    {"torch", "float32", Callable::kDType, ScalarType::kFloat32},
};

const AllowedGlobal* find_allowed(const Global& global) {
  for (const AllowedGlobal& allowed : kAllowedGlobals) {
    if (global.module == allowed.module && global.name == allowed.name) {
      return &allowed;
    }
  }
  return nullptr;
}

template <typename T>
ValuePtr make(T value) {
  auto out = std::make_shared<Value>();
  out->data = std::move(value);
  return out;
}

// Every Value directly held by `value`.
template <typename Visit>
void for_each_child(const Value& value, Visit&& visit) {
  if (const auto* tuple = value.get_if<Tuple>()) {
    for (const ValuePtr& item : tuple->items) visit(item);
  } else if (const auto* list = value.get_if<List>()) {
    for (const ValuePtr& item : list->items) visit(item);
  } else if (const auto* dict = value.get_if<Dict>()) {
    for (const auto& [key, item] : dict->items) {
      visit(key);
      visit(item);
    }
    visit(dict->attributes);
  } else if (const auto* object = value.get_if<Object>()) {
    visit(object->state);
  }
}

void clear_children(Value& value) {
  if (auto* tuple = value.get_if<Tuple>()) {
    tuple->items.clear();
  } else if (auto* list = value.get_if<List>()) {
    list->items.clear();
  } else if (auto* dict = value.get_if<Dict>()) {
    dict->items.clear();
    dict->attributes.reset();
  } else if (auto* object = value.get_if<Object>()) {
    object->state.reset();
  }
}

// Breaks every reference between the values reachable from `roots` without
// recursion, so that cycles (possible through the memo) do not leak and deep
// nesting does not overflow the stack when they are destroyed.
void tear_down(const std::vector<ValuePtr>& roots) {
  std::vector<ValuePtr> all;
  std::unordered_set<const Value*> seen;
  std::vector<ValuePtr> pending(roots.begin(), roots.end());
  while (!pending.empty()) {
    ValuePtr value = std::move(pending.back());
    pending.pop_back();
    if (!value || !seen.insert(value.get()).second) continue;
    for_each_child(*value, [&](const ValuePtr& child) {
      if (child) pending.push_back(child);
    });
    all.push_back(std::move(value));
  }
  for (const ValuePtr& value : all) clear_children(*value);
}

// Fails on a cycle or on nesting deeper than `max_nesting`, without
// recursion. Values shared between several parents are visited once.
bool is_acyclic_and_shallow(const std::vector<ValuePtr>& roots,
                            std::size_t max_nesting) {
  enum State { kVisiting, kDone };
  std::unordered_map<const Value*, std::pair<State, std::size_t>> state;
  struct Frame {
    const Value* value;
    std::vector<const Value*> children;
    std::size_t next = 0;
    std::size_t height = 1;
  };
  for (const ValuePtr& root : roots) {
    if (!root || state.count(root.get())) continue;
    std::vector<Frame> frames;
    auto push = [&](const Value* value) {
      Frame frame{value, {}, 0, 1};
      for_each_child(*value, [&](const ValuePtr& child) {
        if (child) frame.children.push_back(child.get());
      });
      state[value] = {kVisiting, 0};
      frames.push_back(std::move(frame));
    };
    push(root.get());
    while (!frames.empty()) {
      if (frames.size() > max_nesting) return false;
      Frame& top = frames.back();
      if (top.next < top.children.size()) {
        const Value* child = top.children[top.next++];
        auto found = state.find(child);
        if (found == state.end()) {
          push(child);
        } else if (found->second.first == kVisiting) {
          return false;  // a cycle
        } else {
          top.height = std::max(top.height, found->second.second + 1);
          if (top.height > max_nesting) return false;
        }
        continue;
      }
      const std::size_t height = top.height;
      state[top.value] = {kDone, height};
      frames.pop_back();
      if (!frames.empty()) {
        frames.back().height = std::max(frames.back().height, height + 1);
        if (frames.back().height > max_nesting) return false;
      }
    }
  }
  return true;
}

class Unpickler {
 public:
  Unpickler(const std::uint8_t* data, std::size_t size, std::string source,
            const Limits& limits)
      : data_(data), size_(size), source_(std::move(source)), limits_(limits) {}

  ValuePtr run(std::size_t* consumed) {
    ValuePtr result;
    try {
      result = parse();
      std::vector<ValuePtr> roots = stack_;
      roots.push_back(result);
      for (auto& [index, value] : memo_) roots.push_back(value);
      if (!is_acyclic_and_shallow(roots, limits_.max_nesting)) {
        tear_down(roots);
        fail("object graph is cyclic or nested deeper than " +
             std::to_string(limits_.max_nesting) + " levels");
      }
    } catch (...) {
      std::vector<ValuePtr> roots = stack_;
      for (auto& [index, value] : memo_) roots.push_back(value);
      if (result) roots.push_back(result);
      tear_down(roots);
      throw;
    }
    if (consumed) *consumed = pos_;
    return result;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::kCheckpoint, source_ + ": bad pickle at byte " +
                                            std::to_string(pos_) + ": " + what);
  }

  const std::uint8_t* take(std::size_t count) {
    if (count > size_ - pos_) fail("unexpected end of data");
    const std::uint8_t* out = data_ + pos_;
    pos_ += count;
    return out;
  }

  std::uint64_t read_le(std::size_t count) {
    const std::uint8_t* bytes = take(count);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      value |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
    }
    return value;
  }

  std::string read_bytes(std::uint64_t count) {
    if (count > size_ - pos_) fail("length field runs past the end of data");
    const std::uint8_t* bytes = take(static_cast<std::size_t>(count));
    return std::string(reinterpret_cast<const char*>(bytes),
                       static_cast<std::size_t>(count));
  }

  std::string read_line() {
    constexpr std::size_t kMaxLine = 4096;
    const std::size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - start > kMaxLine) fail("text line too long");
      ++pos_;
    }
    if (pos_ >= size_) fail("unterminated text line");
    std::string line(reinterpret_cast<const char*>(data_ + start),
                     pos_ - start);
    ++pos_;  // the '\n'
    return line;
  }

  void push(ValuePtr value) {
    if (stack_.size() >= limits_.max_stack_depth) fail("stack too deep");
    if (++pushes_ > limits_.max_pushes) fail("too many values");
    stack_.push_back(std::move(value));
  }

  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail("stack underflow");
    }
    ValuePtr value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }

  ValuePtr& top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail("stack underflow");
    }
    return stack_.back();
  }

  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(
        std::make_move_iterator(stack_.begin() + static_cast<long>(mark)),
        std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }

  void memo_put(std::uint64_t index) {
    if (memo_.size() >= limits_.max_memo_entries && !memo_.count(index)) {
      fail("memo too large");
    }
    memo_[index] = top();
  }

  ValuePtr memo_get(std::uint64_t index) {
    auto found = memo_.find(index);
    if (found == memo_.end()) {
      fail("memo key " + std::to_string(index) + " was never stored");
    }
    return found->second;
  }

  void add_items(std::size_t current, std::size_t added) {
    if (current + added > limits_.max_container_items) {
      fail("container too large");
    }
  }

  std::int64_t as_int(const ValuePtr& value, const char* what) {
    if (const auto* number = value->get_if<std::int64_t>()) return *number;
    if (const auto* flag = value->get_if<bool>()) return *flag ? 1 : 0;
    fail(std::string(what) + " must be an integer, not " + describe(*value));
  }

  const std::string& as_string(const ValuePtr& value, const char* what) {
    if (const auto* text = value->get_if<std::string>()) return *text;
    fail(std::string(what) + " must be a string, not " + describe(*value));
  }

  std::vector<std::int64_t> as_int_tuple(const ValuePtr& value,
                                         const char* what) {
    const std::vector<ValuePtr>* items = nullptr;
    if (const auto* tuple = value->get_if<Tuple>()) items = &tuple->items;
    if (const auto* list = value->get_if<List>()) items = &list->items;
    if (!items) {
      fail(std::string(what) + " must be a tuple, not " + describe(*value));
    }
    if (items->size() > 32) fail(std::string(what) + " has too many dims");
    std::vector<std::int64_t> out;
    for (const ValuePtr& item : *items) {
      const std::int64_t number = as_int(item, what);
      if (number < 0) fail(std::string(what) + " has a negative entry");
      out.push_back(number);
    }
    return out;
  }

  const AllowedGlobal& resolve_global(std::string module, std::string name) {
    Global global{std::move(module), std::move(name)};
    const AllowedGlobal* allowed = find_allowed(global);
    if (!allowed) {
      throw Error(ErrorKind::kCheckpoint,
                  source_ + ": refusing global '" + global.module + "." +
                      global.name +
                      "': a checkpoint may only hold tensors and plain "
                      "containers (as torch.load(weights_only=True))");
    }
    return *allowed;
  }

  ValuePtr persistent_load(const ValuePtr& pid) {
    const auto* tuple = pid->get_if<Tuple>();
    if (!tuple || tuple->items.size() < 5 || tuple->items.size() > 6) {
      fail("persistent id is not a storage tuple: " + describe(*pid));
    }
    const auto& items = tuple->items;
    if (as_string(items[0], "persistent id tag") != "storage") {
      fail("unknown persistent id tag");
    }
    const auto* type_global = items[1]->get_if<Global>();
    const AllowedGlobal* allowed =
        type_global ? find_allowed(*type_global) : nullptr;
    if (!allowed || allowed->callable != Callable::kStorageType) {
      fail("persistent id names no storage type: " + describe(*items[1]));
    }
    StorageRef storage;
    storage.type = allowed->storage_type;
    storage.key = as_string(items[2], "storage key");
    storage.location = as_string(items[3], "storage location");
    storage.numel = as_int(items[4], "storage size");
    if (storage.numel < 0) fail("negative storage size");
    if (items.size() == 6 && !items[5]->get_if<None>()) {
      fail("storage views (pre-1.6 view metadata) are not supported");
    }
    auto shared = storages_.find(storage.key);
    if (shared != storages_.end()) {
      if (shared->second->get_if<StorageRef>()->numel != storage.numel ||
          shared->second->get_if<StorageRef>()->type != storage.type) {
        fail("storage '" + storage.key + "' is declared twice differently");
      }
      return shared->second;
    }
    ValuePtr value = make(std::move(storage));
    storages_[value->get_if<StorageRef>()->key] = value;
    return value;
  }

  ValuePtr call(const ValuePtr& callable_value, const ValuePtr& args_value) {
    const auto* global = callable_value->get_if<Global>();
    if (!global) fail("REDUCE on a non-callable " + describe(*callable_value));
    const AllowedGlobal* allowed = find_allowed(*global);
    const auto* args_tuple = args_value->get_if<Tuple>();
    if (!allowed || !args_tuple) fail("malformed REDUCE");
    const std::vector<ValuePtr>& args = args_tuple->items;
    switch (allowed->callable) {
      case Callable::kOrderedDict: {
        Dict dict;
        if (args.size() == 1) {
          const auto* pairs = args[0]->get_if<List>();
          if (!pairs) fail("OrderedDict() argument must be a list");
          for (const ValuePtr& pair : pairs->items) {
            const auto* kv = pair->get_if<Tuple>();
            if (!kv || kv->items.size() != 2) fail("OrderedDict() item");
            dict.items.emplace_back(kv->items[0], kv->items[1]);
          }
        } else if (!args.empty()) {
          fail("OrderedDict() takes at most one argument");
        }
        return make(std::move(dict));
      }
      case Callable::kRebuildTensorV2: {
        if (args.size() < 6 || args.size() > 7) {
          fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
        }
        TensorRef tensor = tensor_view(args, "_rebuild_tensor_v2");
        if (is_quantized(tensor.storage->type)) {
          fail("_rebuild_tensor_v2 of a quantized storage");
        }
        return make(std::move(tensor));
      }
      case Callable::kRebuildQTensor:
        return rebuild_qtensor(args);
      case Callable::kRebuildParameter:
      case Callable::kRebuildParameterWithState: {
        const std::size_t expected =
            allowed->callable == Callable::kRebuildParameter ? 3 : 4;
        if (args.size() != expected || !args[0]->get_if<TensorRef>()) {
          fail(std::string(global->name) + " needs a tensor");
        }
        return args[0];
      }
      case Callable::kRestoreTypeTag: {
        if (args.size() != 2) fail("restore_type_tag takes 2 arguments");
        as_string(args[1], "restore_type_tag() type");
        return args[0];
      }
      case Callable::kCodecsEncode: {
        if (args.size() != 2) fail("_codecs.encode takes 2 arguments");
        const std::string& text = as_string(args[0], "encode() text");
        const std::string& encoding = as_string(args[1], "encode() encoding");
        if (encoding != "latin1" && encoding != "latin-1") {
          fail("_codecs.encode with encoding '" + encoding + "'");
        }
        return make(Bytes{utf8_to_latin1(text)});
      }
      case Callable::kNamespace:
        if (!args.empty()) fail("Namespace() takes no positional arguments");
        return make(Object{global->module + "." + global->name, nullptr});
      case Callable::kStorageType:
        fail("storage type " + global->name +
             " may only appear in a persistent id");
      case Callable::kQScheme:
      case Callable::kDType:
        fail("torch." + global->name + " is a value, not a callable");
    }
    fail("unreachable");
  }

  // The storage, offset, size and stride that open both tensor rebuilders'
  // arguments.
  TensorRef tensor_view(const std::vector<ValuePtr>& args, const char* what) {
    const auto* storage = args[0]->get_if<StorageRef>();
    if (!storage) fail(std::string(what) + " needs a storage");
    TensorRef tensor;
    tensor.storage = std::shared_ptr<const StorageRef>(args[0], storage);
    tensor.storage_offset = as_int(args[1], "storage offset");
    if (tensor.storage_offset < 0) fail("negative storage offset");
    tensor.sizes = as_int_tuple(args[2], "tensor size");
    tensor.strides = as_int_tuple(args[3], "tensor stride");
    if (tensor.sizes.size() != tensor.strides.size()) {
      fail("tensor size and stride differ in length");
    }
    return tensor;
  }

  double as_double(const ValuePtr& value, const char* what) {
    if (const auto* number = value->get_if<double>()) return *number;
    if (const auto* integer = value->get_if<std::int64_t>()) {
      return static_cast<double>(*integer);
    }
    fail(std::string(what) + " must be a number, not " + describe(*value));
  }

  // A per-channel scale or zero point vector: a tensor or a list of numbers.
  ValuePtr per_channel_values(const ValuePtr& value, const char* what) {
    if (const auto* tensor = value->get_if<TensorRef>()) {
      if (tensor->quantizer || tensor->sizes.size() != 1) {
        fail(std::string(what) + " must be a plain one-dimensional tensor");
      }
      return value;
    }
    if (const auto* list = value->get_if<List>()) {
      for (const ValuePtr& item : list->items) as_double(item, what);
      return value;
    }
    fail(std::string(what) + " must be a tensor or a list, not " +
         describe(*value));
  }

  // torch._utils._rebuild_qtensor(storage, storage_offset, size, stride,
  // quantizer_params, requires_grad, backward_hooks), quantizer_params
  // being (qscheme, scale, zero_point) or (qscheme, scales, zero_points,
  // axis).
  ValuePtr rebuild_qtensor(const std::vector<ValuePtr>& args) {
    if (args.size() != 7) fail("_rebuild_qtensor takes 7 arguments");
    TensorRef tensor = tensor_view(args, "_rebuild_qtensor");
    if (!is_quantized(tensor.storage->type)) {
      fail("_rebuild_qtensor of a " +
           std::string(scalar_type_name(tensor.storage->type)) +
           " storage, not a quantized one");
    }
    const auto* params = args[4]->get_if<Tuple>();
    if (!params || params->items.empty()) {
      fail("_rebuild_qtensor's quantizer parameters must be a tuple");
    }
    const auto* scheme_global = params->items[0]->get_if<Global>();
    const AllowedGlobal* scheme =
        scheme_global ? find_allowed(*scheme_global) : nullptr;
    if (!scheme || scheme->callable != Callable::kQScheme) {
      fail("_rebuild_qtensor's qscheme is " + describe(*params->items[0]));
    }
    if (scheme_global->name.find("symmetric") != std::string::npos) {
      fail("cannot rebuild a quantized tensor with qscheme torch." +
           scheme_global->name + " (as torch.load cannot)");
    }
    auto quantizer = std::make_shared<Quantizer>();
    quantizer->scheme = scheme->qscheme;
    const std::vector<ValuePtr>& items = params->items;
    if (quantizer->scheme == QScheme::kPerTensorAffine) {
      if (items.size() != 3) fail("per_tensor_affine takes scale, zero_point");
      quantizer->scale = as_double(items[1], "quantized tensor scale");
      quantizer->zero_point = as_int(items[2], "quantized tensor zero point");
    } else {
      if (items.size() != 4) {
        fail("per-channel quantization takes scales, zero_points, axis");
      }
      quantizer->scales = per_channel_values(items[1], "per-channel scales");
      quantizer->zero_points =
          per_channel_values(items[2], "per-channel zero points");
      quantizer->axis = as_int(items[3], "per-channel axis");
    }
    tensor.quantizer = std::move(quantizer);
    return make(std::move(tensor));
  }

  std::string utf8_to_latin1(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte < 0x80) {
        out.push_back(static_cast<char>(byte));
      } else if ((byte & 0xE0) == 0xC0 && i + 1 < text.size() && byte <= 0xC3) {
        const auto next = static_cast<unsigned char>(text[++i]);
        out.push_back(static_cast<char>(((byte & 0x1F) << 6) | (next & 0x3F)));
      } else {
        fail("latin1 text with a character above U+00FF");
      }
    }
    return out;
  }

  void build(const ValuePtr& state) {
    ValuePtr& target = top();
    if (auto* dict = target->get_if<Dict>()) {
      dict->attributes = state;
    } else if (auto* object = target->get_if<Object>()) {
      object->state = state;
    } else if (target->get_if<TensorRef>()) {
      // Tensor state (e.g. a Parameter's __dict__) carries no data we use.
    } else {
      fail("BUILD on " + describe(*target));
    }
  }

  ValuePtr parse() {
    for (;;) {
      const std::uint8_t op = *take(1);
      switch (op) {
        case kProto:
          if (*take(1) > 5) fail("unknown pickle protocol");
          break;
        case kFrame:
          take(8);
          break;
        case kStop:
          return pop();
        case kMark:
          if (marks_.size() >= limits_.max_stack_depth) fail("too many marks");
          marks_.push_back(stack_.size());
          break;
        case kPop:
          if (!marks_.empty() && stack_.size() == marks_.back()) {
            marks_.pop_back();  // POP of a bare MARK, as CPython allows
          } else {
            pop();
          }
          break;
        case kPopMark:
          pop_to_mark();
          break;
        case kDup:
          push(top());
          break;
        case kNone:
          push(make(None{}));
          break;
        case kNewTrue:
          push(make(true));
          break;
        case kNewFalse:
          push(make(false));
          break;
        case kInt: {
          const std::string line = read_line();
          if (line == "01") {
            push(make(true));
          } else if (line == "00") {
            push(make(false));
          } else {
            std::int64_t number = 0;
            std::istringstream in(line);
            if (!(in >> number) || !in.eof()) fail("malformed INT");
            push(make(number));
          }
          break;
        }
        case kBinInt:
          push(make(static_cast<std::int64_t>(
              static_cast<std::int32_t>(read_le(4)))));
          break;
        case kBinInt1:
          push(make(static_cast<std::int64_t>(read_le(1))));
          break;
        case kBinInt2:
          push(make(static_cast<std::int64_t>(read_le(2))));
          break;
        case kLong1:
        case kLong4: {
          const std::uint64_t count = read_le(op == kLong1 ? 1 : 4);
          if (count > 8) fail("integer wider than 64 bits");
          std::uint64_t raw =
              count ? read_le(static_cast<std::size_t>(count)) : 0;
          if (count > 0 && count < 8 && (raw >> (8 * count - 1)) & 1) {
            raw |= ~std::uint64_t{0} << (8 * count);  // sign-extend
          }
          push(make(static_cast<std::int64_t>(raw)));
          break;
        }
        case kBinFloat: {
          const std::uint8_t* bytes = take(8);
          std::uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | bytes[i];
          double number;
          std::memcpy(&number, &bits, sizeof number);
          push(make(number));
          break;
        }
        case kShortBinString:
        case kShortBinUnicode:
          push(make(read_bytes(read_le(1))));
          break;
        case kBinString: {
          const auto count = static_cast<std::int32_t>(read_le(4));
          if (count < 0) fail("negative string length");
          push(make(read_bytes(static_cast<std::uint64_t>(count))));
          break;
        }
        case kBinUnicode:
          push(make(read_bytes(read_le(4))));
          break;
        case kBinUnicode8:
          push(make(read_bytes(read_le(8))));
          break;
        case kShortBinBytes:
          push(make(Bytes{read_bytes(read_le(1))}));
          break;
        case kBinBytes:
          push(make(Bytes{read_bytes(read_le(4))}));
          break;
        case kBinBytes8:
          push(make(Bytes{read_bytes(read_le(8))}));
          break;
        case kEmptyTuple:
          push(make(Tuple{}));
          break;
        case kTuple1:
        case kTuple2:
        case kTuple3: {
          const std::size_t count = op - kTuple1 + 1;
          std::vector<ValuePtr> items(count);
          for (std::size_t i = count; i-- > 0;) items[i] = pop();
          push(make(Tuple{std::move(items)}));
          break;
        }
        case kTuple:
          push(make(Tuple{pop_to_mark()}));
          break;
        case kEmptyList:
          push(make(List{}));
          break;
        case kList:
          push(make(List{pop_to_mark()}));
          break;
        case kEmptySet:
          push(make(List{}));
          break;
        case kFrozenSet:
          push(make(List{pop_to_mark()}));
          break;
        case kAppend: {
          ValuePtr item = pop();
          auto* list = top()->get_if<List>();
          if (!list) fail("APPEND to " + describe(*top()));
          add_items(list->items.size(), 1);
          list->items.push_back(std::move(item));
          break;
        }
        case kAppends:
        case kAddItems: {
          std::vector<ValuePtr> items = pop_to_mark();
          auto* list = top()->get_if<List>();
          if (!list) fail("APPENDS to " + describe(*top()));
          add_items(list->items.size(), items.size());
          for (ValuePtr& item : items) list->items.push_back(std::move(item));
          break;
        }
        case kEmptyDict:
          push(make(Dict{}));
          break;
        case kDict: {
          std::vector<ValuePtr> items = pop_to_mark();
          if (items.size() % 2) fail("DICT with an odd item count");
          Dict dict;
          for (std::size_t i = 0; i < items.size(); i += 2) {
            dict.items.emplace_back(items[i], items[i + 1]);
          }
          push(make(std::move(dict)));
          break;
        }
        case kSetItem: {
          ValuePtr value = pop();
          ValuePtr key = pop();
          auto* dict = top()->get_if<Dict>();
          if (!dict) fail("SETITEM on " + describe(*top()));
          add_items(dict->items.size(), 1);
          dict->items.emplace_back(std::move(key), std::move(value));
          break;
        }
        case kSetItems: {
          std::vector<ValuePtr> items = pop_to_mark();
          if (items.size() % 2) fail("SETITEMS with an odd item count");
          auto* dict = top()->get_if<Dict>();
          if (!dict) fail("SETITEMS on " + describe(*top()));
          add_items(dict->items.size(), items.size() / 2);
          for (std::size_t i = 0; i < items.size(); i += 2) {
            dict->items.emplace_back(std::move(items[i]),
                                     std::move(items[i + 1]));
          }
          break;
        }
        case kBinPut:
          memo_put(read_le(1));
          break;
        case kLongBinPut:
          memo_put(read_le(4));
          break;
        case kMemoize:
          memo_put(memo_.size());
          break;
        case kBinGet:
          push(memo_get(read_le(1)));
          break;
        case kLongBinGet:
          push(memo_get(read_le(4)));
          break;
        case kGlobal: {
          std::string module = read_line();
          std::string name = read_line();
          const AllowedGlobal& allowed =
              resolve_global(std::move(module), std::move(name));
          push(make(Global{allowed.module, allowed.name}));
          break;
        }
        case kStackGlobal: {
          ValuePtr name = pop();
          ValuePtr module = pop();
          const AllowedGlobal& allowed =
              resolve_global(as_string(module, "global module"),
                             as_string(name, "global name"));
          push(make(Global{allowed.module, allowed.name}));
          break;
        }
        case kReduce: {
          ValuePtr args = pop();
          ValuePtr callable = pop();
          push(call(callable, args));
          break;
        }
        case kNewObj: {
          ValuePtr args = pop();
          ValuePtr cls = pop();
          const auto* global = cls->get_if<Global>();
          const AllowedGlobal* allowed =
              global ? find_allowed(*global) : nullptr;
          if (!allowed || (allowed->callable != Callable::kNamespace &&
                           allowed->callable != Callable::kOrderedDict)) {
            fail("NEWOBJ of " + describe(*cls));
          }
          push(call(cls, args));
          break;
        }
        case kBuild: {
          ValuePtr state = pop();
          build(state);
          break;
        }
        case kBinPersId: {
          ValuePtr pid = pop();
          push(persistent_load(pid));
          break;
        }
        default: {
          std::ostringstream hex;
          hex << std::hex << static_cast<int>(op);
          --pos_;
          fail("unsupported opcode 0x" + hex.str());
        }
      }
    }
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::size_t pushes_ = 0;
  std::string source_;
  Limits limits_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ValuePtr> memo_;
  std::unordered_map<std::string, ValuePtr> storages_;
};

}  // namespace

const char* storage_type_name(ScalarType type) {
  for (const AllowedGlobal& allowed : kAllowedGlobals) {
    if (allowed.callable == Callable::kStorageType &&
        allowed.storage_type == type) {
      return allowed.name;
    }
  }
  return "ByteStorage";  // unreachable: every type has its storage class
}

ValuePtr unpickle(const std::uint8_t* data, std::size_t size,
                  const std::string& source, const Limits& limits,
                  std::size_t* consumed) {
  Unpickler unpickler(data, size, source, limits);
  return unpickler.run(consumed);
}

std::string describe(const Value& value) {
  struct Describer {
    std::string operator()(const None&) const { return "None"; }
    std::string operator()(bool) const { return "bool"; }
    std::string operator()(std::int64_t) const { return "int"; }
    std::string operator()(double) const { return "float"; }
    std::string operator()(const std::string& text) const {
      return "str '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) +
             "'";
    }
    std::string operator()(const Bytes&) const { return "bytes"; }
    std::string operator()(const Tuple& tuple) const {
      return "tuple of " + std::to_string(tuple.items.size());
    }
    std::string operator()(const List& list) const {
      return "list of " + std::to_string(list.items.size());
    }
    std::string operator()(const Dict& dict) const {
      return "dict of " + std::to_string(dict.items.size());
    }
    std::string operator()(const Global& global) const {
      return global.module + "." + global.name;
    }
    std::string operator()(const StorageRef&) const { return "storage"; }
    std::string operator()(const TensorRef& tensor) const {
      std::string out = tensor.quantizer ? "quantized tensor[" : "tensor[";
      for (std::size_t i = 0; i < tensor.sizes.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(tensor.sizes[i]);
      }
      return out + "]";
    }
    std::string operator()(const Object& object) const {
      return object.class_name;
    }
  };
  return std::visit(Describer{}, value.data);
}

}  // namespace resnet_cli::pickle
