#include "run/merge.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/error.h"
#include "base/human_units.h"
#include "base/json_array.h"
#include "base/jsonl_reader.h"
#include "run/record_json.h"

namespace resnet_cli {

namespace {

// Where one record lies. Records are read again when they are written, so
// that memory holds an index of paths rather than the records themselves (an
// embedding record is 2048 numbers, and a run may have millions).
struct LineSpan {
  std::uint64_t offset = 0;  // of the line's first byte
  std::uint64_t size = 0;    // without the newline
};

// An input's closing record (record.h), and for a video the lines of its
// frames before it, in the same part.
struct RecordLocation {
  std::size_t part = 0;
  std::uint64_t line = 0;    // 1-based, for messages
  std::uint64_t offset = 0;  // of the line's first byte
  std::uint64_t size = 0;    // without the newline
  bool failed = false;       // an error record
  bool listed = false;       // matched to an input
  std::vector<LineSpan> frames;
};

using RecordIndex = std::unordered_map<std::string, RecordLocation>;
// unordered_map never moves its elements, so pointers to them stay valid.
using IndexEntry = RecordIndex::value_type;

std::string where(const std::vector<std::string>& parts,
                  const RecordLocation& location) {
  return parts[location.part] + " line " + std::to_string(location.line);
}

// Adds the records of one part to the index, in the part's order. A last
// line without its newline (the task was stopped while writing it) is left
// out, as --resume cuts it off.
void index_part(const std::vector<std::string>& parts, std::size_t part,
                RecordIndex& index, std::vector<const IndexEntry*>& part_order,
                MergeSummary& summary) {
  const std::string& name = parts[part];
  JsonlReader reader(name);
  if (!reader.is_open()) {
    throw Error(ErrorKind::kMerge,
                name + ": cannot open: " + std::strerror(errno) +
                    " (did the task of this part run?)");
  }
  // A video's frame lines wait for its closing line.
  std::unordered_map<std::string, std::vector<LineSpan>> frames;
  JsonlLine line;
  while (reader.next(line)) {
    std::optional<RecordLine> fields = read_record_line(line.text);
    if (!fields) {
      throw Error(ErrorKind::kMerge,
                  name + " line " + std::to_string(line.number) +
                      ": not a resnet-cli record (a JSON object with a "
                      "\"path\", as classify --format jsonl writes)");
    }
    if (!fields->closes_input) {
      frames[fields->path].push_back({line.offset, line.text.size()});
      continue;
    }
    RecordLocation location{
        part,           line.number, line.offset, line.text.size(),
        fields->failed, false,       {}};
    if (auto found = frames.find(fields->path); found != frames.end()) {
      location.frames = std::move(found->second);
      frames.erase(found);
    }
    const auto [entry, inserted] =
        index.emplace(std::move(fields->path), std::move(location));
    if (!inserted) {
      throw Error(ErrorKind::kMerge,
                  entry->first + ": recorded twice, in " +
                      where(parts, entry->second) + " and in " + name +
                      " line " + std::to_string(line.number) +
                      " (each input belongs to one part: were all parts made "
                      "with the same inputs and --shard count?)");
    }
    part_order.push_back(&*entry);
  }
  for (const auto& [path, lines] : frames) {
    spdlog::warn(
        "{}: leaving out {} frame records of {}, a video whose task stopped "
        "before its end (continue that task with --resume)",
        name, lines.size(), path);
  }
  if (reader.failed()) {
    throw Error(ErrorKind::kMerge,
                name + ": read failed: " + std::strerror(errno));
  }
  if (reader.torn_bytes() > 0) {
    spdlog::warn(
        "{}: leaving out an incomplete last line ({} bytes): the task was "
        "stopped while writing it, and its input is not recorded",
        name, reader.torn_bytes());
    ++summary.incomplete_lines;
  }
}

// The records in input order: the inputs are listed again, and each must
// have exactly one record, and each record an input.
std::vector<const IndexEntry*> input_order(
    InputOptions inputs, const std::vector<std::string>& parts,
    RecordIndex& index, const std::vector<const IndexEntry*>& part_order) {
  // Every shard's inputs, and none left out as already recorded.
  inputs.shard.reset();
  inputs.skip.reset();
  InputScanner scanner(std::move(inputs));
  std::vector<const IndexEntry*> order;
  order.reserve(index.size());
  std::uint64_t missing = 0;
  std::string first_missing;
  Input input;
  while (scanner.next(input)) {
    const auto found = index.find(input.path);
    if (found == index.end()) {
      if (missing++ == 0) first_missing = input.path;
      continue;
    }
    // An input listed twice is recorded once, as --resume counts it.
    if (found->second.listed) continue;
    found->second.listed = true;
    order.push_back(&*found);
  }
  if (missing > 0) {
    throw Error(
        ErrorKind::kMerge,
        first_missing + ": not recorded in any part" +
            (missing > 1
                 ? " (one of " + count_of(missing, "input") + " missing)"
                 : "") +
            "; rerun the task of its shard (--resume continues where it "
            "stopped), then merge again");
  }
  if (order.size() < index.size()) {
    for (const IndexEntry* entry : part_order) {
      if (entry->second.listed) continue;
      throw Error(ErrorKind::kMerge,
                  entry->first + ": recorded in " +
                      where(parts, entry->second) +
                      " but not an input (is it a part of another run, or "
                      "did the run have other inputs, --ext or --follow?)");
    }
  }
  return order;
}

// A part named twice (a glob and a path, a link) would read as every one of
// its inputs recorded twice; say what happened instead.
void check_parts_distinct(const std::vector<std::string>& parts) {
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const std::string& part : parts) {
    struct stat info {};
    if (::stat(part.c_str(), &info) != 0) continue;  // reported when read
    if (!seen.insert({info.st_dev, info.st_ino}).second) {
      throw Error(ErrorKind::kUsage, part + ": given twice as a part");
    }
  }
}

// Reads records back from the parts. Files open on first use and stay open,
// since records in input order hop between parts; when the process runs out
// of file descriptors (a 2000-task array), the open ones are closed and
// reopened as needed.
class PartReader {
 public:
  explicit PartReader(const std::vector<std::string>& parts)
      : parts_(parts), files_(parts.size()) {}

  void read(std::size_t part, const LineSpan& span, std::string& line) {
    std::unique_ptr<std::ifstream>& file = files_[part];
    if (!file) file = open(part);
    line.resize(span.size);
    file->seekg(static_cast<std::streamoff>(span.offset));
    file->read(line.data(), static_cast<std::streamsize>(span.size));
    if (!*file) {
      throw Error(ErrorKind::kMerge,
                  parts_[part] + " at byte " + std::to_string(span.offset) +
                      ": cannot be read again (did the part change while it "
                      "was merged?)");
    }
  }

 private:
  std::unique_ptr<std::ifstream> open(std::size_t part) {
    auto file = std::make_unique<std::ifstream>(parts_[part], std::ios::binary);
    if (!*file && (errno == EMFILE || errno == ENFILE)) {
      for (auto& other : files_) other.reset();
      file = std::make_unique<std::ifstream>(parts_[part], std::ios::binary);
    }
    if (!*file) {
      throw Error(ErrorKind::kMerge,
                  parts_[part] + ": cannot open: " + std::strerror(errno));
    }
    return file;
  }

  const std::vector<std::string>& parts_;
  std::vector<std::unique_ptr<std::ifstream>> files_;
};

// Writes the lines byte for byte as the parts hold them, so that the merged
// output is the one a single process writes: JSON Lines, or a JSON array laid
// out as classify --format json lays it out.
void write_records(const std::vector<std::string>& parts,
                   const std::vector<const IndexEntry*>& order,
                   OutputFormat format, std::ostream& out,
                   MergeSummary& summary) {
  PartReader reader(parts);
  JsonArrayStream array(out);
  std::string line;
  const auto write_line = [&](std::size_t part, const LineSpan& span) {
    reader.read(part, span, line);
    if (format == OutputFormat::kJson) {
      array.element(line);
    } else {
      out << line << '\n';
    }
    ++summary.records;
  };
  for (const IndexEntry* entry : order) {
    const RecordLocation& location = entry->second;
    for (const LineSpan& frame : location.frames) {
      write_line(location.part, frame);
    }
    write_line(location.part, {location.offset, location.size});
    if (!out) return;  // the caller reports the failed write
    if (location.failed) ++summary.failed;
  }
  if (format == OutputFormat::kJson) array.close();
  out.flush();
}

}  // namespace

MergeSummary merge_parts(const MergeSettings& settings, std::ostream& out) {
  if (settings.format != OutputFormat::kJsonl &&
      settings.format != OutputFormat::kJson) {
    throw Error(ErrorKind::kUsage, "merge: --format must be jsonl or json");
  }
  if (settings.parts.empty()) {
    throw Error(ErrorKind::kUsage,
                "merge: give the parts to merge (JSON Lines files)");
  }
  check_parts_distinct(settings.parts);

  MergeSummary summary;
  RecordIndex index;
  std::vector<const IndexEntry*> part_order;
  for (std::size_t part = 0; part < settings.parts.size(); ++part) {
    index_part(settings.parts, part, index, part_order, summary);
  }
  const std::vector<const IndexEntry*> order =
      settings.inputs
          ? input_order(*settings.inputs, settings.parts, index, part_order)
          : part_order;
  write_records(settings.parts, order, settings.format, out, summary);
  return summary;
}

}  // namespace resnet_cli
