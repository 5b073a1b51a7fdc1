#include "weights/state_dict_writer.h"

#include <zlib.h>

#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/file_util.h"

namespace resnet_cli {

namespace {

// PyTorchStreamWriter's alignment of record data (kFieldAlignment).
constexpr std::uint64_t kAlignment = 64;
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEndRecordSize = 22;
constexpr const char* kArchive = "archive/";
// The format version torch.save 1.13 writes into "version".
constexpr const char* kVersion = "3\n";

void put16(std::string& out, std::uint64_t value) {
  out.push_back(static_cast<char>(value & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
}

void put32(std::string& out, std::uint64_t value) {
  put16(out, value & 0xffff);
  put16(out, (value >> 16) & 0xffff);
}

std::vector<std::int64_t> contiguous_strides(
    const std::vector<std::int64_t>& sizes) {
  std::vector<std::int64_t> strides(sizes.size());
  std::int64_t stride = 1;
  for (std::size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= sizes[i];
  }
  return strides;
}

// One storage of the archive: "data/<its index>".
struct Storage {
  pickle::ScalarType type = pickle::ScalarType::kFloat32;
  std::uint64_t numel = 0;
  const void* data = nullptr;
};

// torch.save's pickle of a state_dict; the storages it names are appended to
// `storages` in the order it names them (keys "0", "1", ...).
class StateDictPickler {
 public:
  std::string pickle(const std::vector<StateDictEntry>& entries,
                     const ModuleVersions& versions) {
    pickle_.empty_ordered_dict();
    pickle_.op('(');
    for (const StateDictEntry& entry : entries) {
      pickle_.text(entry.name);
      value(entry);
    }
    pickle_.op('u');
    if (!versions.empty()) metadata(versions);
    return pickle_.finish();
  }

  std::vector<Storage> storages;

 private:
  void value(const StateDictEntry& entry) {
    if (!entry.dtype.empty()) {
      pickle_.global("torch", entry.dtype.c_str());
    } else if (!entry.tuple.empty()) {
      pickle_.op('(');
      for (const StateDictEntry& item : entry.tuple) value(item);
      pickle_.op('t');
    } else if (entry.quantization) {
      qtensor(entry, *entry.quantization);
    } else {
      tensor(entry.type, entry.sizes, entry.data);
    }
  }

  // ('storage', torch.<type>Storage, key, 'cpu', numel) as a persistent id.
  void storage(pickle::ScalarType type, std::uint64_t count, const void* data) {
    pickle_.op('(');
    pickle_.text("storage");
    pickle_.global("torch", pickle::storage_type_name(type));
    pickle_.text(std::to_string(storages.size()));
    pickle_.text("cpu");
    pickle_.integer(static_cast<std::int64_t>(count));
    pickle_.op('t');
    pickle_.op('Q');  // BINPERSID: the tuple is a persistent id
    storages.push_back({type, count, data});
  }

  // storage, offset 0, size, contiguous stride, as both rebuilders start.
  void view(pickle::ScalarType type, const std::vector<std::int64_t>& sizes,
            const void* data) {
    std::uint64_t count = 1;
    for (const std::int64_t size : sizes) {
      count *= static_cast<std::uint64_t>(size);
    }
    storage(type, count, data);
    pickle_.integer(0);
    pickle_.integers(sizes);
    pickle_.integers(contiguous_strides(sizes));
  }

  void tensor(pickle::ScalarType type, const std::vector<std::int64_t>& sizes,
              const void* data) {
    pickle_.global("torch._utils", "_rebuild_tensor_v2");
    pickle_.op('(');
    view(type, sizes, data);
    pickle_.op('\x89');            // requires_grad=False
    pickle_.empty_ordered_dict();  // backward hooks
    pickle_.op('t');
    pickle_.op('R');
  }

  void qtensor(const StateDictEntry& entry, const StateDictQuantization& q) {
    pickle_.global("torch._utils", "_rebuild_qtensor");
    pickle_.op('(');
    view(entry.type, entry.sizes, entry.data);
    pickle_.op('(');
    if (q.per_channel) {
      pickle_.global("torch", "per_channel_affine");
      tensor(pickle::ScalarType::kFloat64,
             {static_cast<std::int64_t>(q.scales.size())}, q.scales.data());
      tensor(pickle::ScalarType::kInt64,
             {static_cast<std::int64_t>(q.zero_points.size())},
             q.zero_points.data());
      pickle_.integer(0);  // axis
    } else {
      pickle_.global("torch", "per_tensor_affine");
      pickle_.real(q.scale);
      pickle_.integer(q.zero_point);
    }
    pickle_.op('t');
    pickle_.op('\x89');  // requires_grad=False
    pickle_.empty_ordered_dict();
    pickle_.op('t');
    pickle_.op('R');
  }

  // BUILD {'_metadata': OrderedDict([(prefix, {'version': v}), ...])}.
  void metadata(const ModuleVersions& versions) {
    pickle_.op('}');
    pickle_.text("_metadata");
    pickle_.empty_ordered_dict();
    pickle_.op('(');
    for (const auto& [prefix, version] : versions) {
      pickle_.text(prefix);
      pickle_.op('}');
      pickle_.text("version");
      pickle_.integer(version);
      pickle_.op('s');
    }
    pickle_.op('u');
    pickle_.op('s');
    pickle_.op('b');
  }

  TorchPickler pickle_;  // the opcodes, as for any torch.save pickle
};

struct Record {
  std::string name;
  const void* data = nullptr;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;  // of its local header
  std::uint32_t crc = 0;
};

// The local header's extra field: "FB", its length, and padding ('Z'), so
// that the data after it starts on an aligned offset.
std::string alignment_field(const Record& record) {
  const std::uint64_t before =
      record.offset + kLocalHeaderSize + record.name.size() + 4;
  const std::uint64_t padding = (kAlignment - before % kAlignment) % kAlignment;
  std::string field = "FB";
  put16(field, padding);
  field.append(padding, 'Z');
  return field;
}

// What a local header and its central directory entry both say: stored, no
// data descriptor, DOS time and date 0 as PyTorch writes them.
void put_shared_fields(std::string& header, const Record& record) {
  put16(header, 0);  // version needed
  put16(header, 0);  // flags
  put16(header, 0);  // stored
  put32(header, 0);  // time, date
  put32(header, record.crc);
  put32(header, record.size);
  put32(header, record.size);
  put16(header, record.name.size());
}

std::string local_header(const Record& record) {
  const std::string extra = alignment_field(record);
  std::string header;
  put32(header, 0x04034b50);
  put_shared_fields(header, record);
  put16(header, extra.size());
  return header + record.name + extra;
}

std::string central_header(const Record& record) {
  std::string header;
  put32(header, 0x02014b50);
  put16(header, 0);  // version made by
  put_shared_fields(header, record);
  put16(header, 0);  // extra
  put16(header, 0);  // comment
  put16(header, 0);  // disk
  put16(header, 0);  // internal attributes
  put32(header, 0);  // external attributes
  put32(header, record.offset);
  return header + record.name;
}

std::uint32_t crc32_of(const void* data, std::uint64_t size) {
  uLong crc = crc32_z(0, nullptr, 0);
  return static_cast<std::uint32_t>(
      crc32_z(crc, static_cast<const Bytef*>(data), size));
}

struct Layout {
  std::uint64_t directory_offset = 0;
  std::uint64_t archive_size = 0;
};

// Places each record (sets its offset) and the central directory after them.
Layout lay_out(std::vector<Record>& records) {
  Layout layout;
  std::uint64_t directory_size = 0;
  for (Record& record : records) {
    record.offset = layout.directory_offset;
    layout.directory_offset += kLocalHeaderSize + record.name.size() +
                               alignment_field(record).size() + record.size;
    directory_size += kCentralHeaderSize + record.name.size();
  }
  layout.archive_size =
      layout.directory_offset + directory_size + kEndRecordSize;
  return layout;
}

// torch.save's zip archive of `pickle` and the storages it names, in order
// (records "data/0", "data/1", ...).
void write_archive(AtomicFile& file, const std::string& pickle,
                   const std::vector<Storage>& storages) {
  std::vector<Record> records;
  records.push_back(
      {kArchive + std::string("data.pkl"), pickle.data(), pickle.size()});
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const Storage& storage = storages[i];
    records.push_back({kArchive + ("data/" + std::to_string(i)), storage.data,
                       storage.numel * element_size(storage.type)});
  }
  records.push_back(
      {kArchive + std::string("version"), kVersion, std::strlen(kVersion)});
  const Layout layout = lay_out(records);
  if (records.size() > 0xffff ||
      layout.archive_size > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorKind::kOutput, file.destination().string() +
                                        ": does not fit a zip archive without "
                                        "zip64 (4 GiB, 65535 records)");
  }
  std::string directory;
  for (Record& record : records) {
    record.crc = crc32_of(record.data, record.size);
    file.write(local_header(record));
    file.write(record.data, record.size);
    directory += central_header(record);
  }
  std::string end;
  put32(end, 0x06054b50);
  put32(end, 0);  // disk numbers
  put16(end, records.size());
  put16(end, records.size());
  put32(end, directory.size());
  put32(end, layout.directory_offset);
  put16(end, 0);  // comment
  file.write(directory + end);
}

}  // namespace

TorchPickler::TorchPickler() { bytes_ += "\x80\x02"; }

void TorchPickler::global(const char* module, const char* name) {
  bytes_ += 'c';
  (bytes_ += module) += '\n';
  (bytes_ += name) += '\n';
}

void TorchPickler::text(const std::string& value) {
  bytes_ += 'X';
  put32(bytes_, value.size());
  bytes_ += value;
}

void TorchPickler::integer(std::int64_t value) {
  if (value >= 0 && value < 0x100) {
    bytes_ += 'K';
    bytes_.push_back(static_cast<char>(value));
  } else if (value >= 0 && value < 0x10000) {
    bytes_ += 'M';
    put16(bytes_, static_cast<std::uint64_t>(value));
  } else if (value >= std::numeric_limits<std::int32_t>::min() &&
             value <= std::numeric_limits<std::int32_t>::max()) {
    bytes_ += 'J';
    put32(bytes_, static_cast<std::uint32_t>(value));
  } else {
    bytes_ += "\x8a\x08";  // LONG1, 8 bytes of two's complement
    const auto bits = static_cast<std::uint64_t>(value);
    for (int shift = 0; shift < 64; shift += 8) {
      bytes_.push_back(static_cast<char>((bits >> shift) & 0xff));
    }
  }
}

void TorchPickler::real(double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  bytes_ += 'G';  // BINFLOAT: big-endian IEEE 754 double
  for (int shift = 56; shift >= 0; shift -= 8) {
    bytes_.push_back(static_cast<char>((bits >> shift) & 0xff));
  }
}

void TorchPickler::boolean(bool value) { op(value ? '\x88' : '\x89'); }

void TorchPickler::none() { op('N'); }

void TorchPickler::integers(const std::vector<std::int64_t>& values) {
  if (values.empty()) return op(')');
  if (values.size() > 3) op('(');
  for (const std::int64_t value : values) integer(value);
  static constexpr char kTupleOf[] = {'t', '\x85', '\x86', '\x87'};
  op(kTupleOf[values.size() > 3 ? 0 : values.size()]);
}

void TorchPickler::empty_ordered_dict() {
  global("collections", "OrderedDict");
  bytes_ += ")R";
}

void TorchPickler::tensor(const StateDictEntry& entry) {
  global("torch._utils", "_rebuild_tensor_v2");
  op('(');
  op('(');
  text("storage");
  global("torch", pickle::storage_type_name(entry.type));
  text(std::to_string(storages_.size()));
  text("cpu");
  integer(static_cast<std::int64_t>(numel(entry)));
  op('t');
  op('Q');     // BINPERSID: the tuple is a persistent id
  integer(0);  // storage offset
  integers(entry.sizes);
  integers(contiguous_strides(entry.sizes));
  boolean(false);        // requires_grad
  empty_ordered_dict();  // backward hooks
  op('t');
  op('R');
  storages_.push_back(&entry);
}

void TorchPickler::op(char code) { bytes_ += code; }

std::string TorchPickler::finish() { return std::move(bytes_ += '.'); }

std::uint64_t numel(const StateDictEntry& entry) {
  std::uint64_t count = 1;
  for (const std::int64_t size : entry.sizes) {
    count *= static_cast<std::uint64_t>(size);
  }
  return count;
}

void write_state_dict(AtomicFile& file,
                      const std::vector<StateDictEntry>& entries,
                      const ModuleVersions& versions) {
  StateDictPickler pickler;
  const std::string pickle = pickler.pickle(entries, versions);
  write_archive(file, pickle, pickler.storages);
}

void write_torch_archive(AtomicFile& file, const std::string& pickle,
                         const std::vector<const StateDictEntry*>& storages) {
  std::vector<Storage> list;
  for (const StateDictEntry* entry : storages) {
    list.push_back({entry->type, numel(*entry), entry->data});
  }
  write_archive(file, pickle, list);
}

}  // namespace resnet_cli
