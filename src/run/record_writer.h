// One writer per output format (src/run/writers/): they only format records,
// never decide what a result is. Every writer flushes after each record, so
// that a pipe reader sees a record as soon as it is done. Paths are written
// as given, byte for byte where the format allows (text, CSV, TSV); JSON adds
// "path_base64" for paths that are not UTF-8 (see record_json.h).
#pragma once

#include <array>
#include <iosfwd>
#include <memory>
#include <string_view>

#include "base/enum_names.h"
#include "run/record.h"

namespace resnet_cli {

enum class OutputFormat { kText, kJson, kJsonl, kCsv, kTsv };

template <>
struct EnumNames<OutputFormat> {
  static constexpr std::string_view option = "--format";
  static constexpr std::array<EnumName<OutputFormat>, 5> names{{
      {"text", OutputFormat::kText},
      {"json", OutputFormat::kJson},
      {"jsonl", OutputFormat::kJsonl},
      {"csv", OutputFormat::kCsv},
      {"tsv", OutputFormat::kTsv},
  }};
};

class RecordWriter {
 public:
  virtual ~RecordWriter() = default;
  virtual void write(const Record& record) = 0;
  // Closes the document (JSON's "]"); records may not follow.
  virtual void finish() = 0;
};

struct WriterOptions {
  OutputFormat format = OutputFormat::kText;
  OutputType output_type = OutputType::kProbability;
  int topk = 5;               // columns of CSV and TSV
  int embedding_size = 2048;  // columns of CSV and TSV embeddings
  bool color = false;         // text: ANSI colour (paths bold, errors red)
  // --explain: classes explained per record (CSV and TSV columns; 0: none),
  // and whether they have overlay files (--explain-dir).
  int explain_topk = 0;
  bool explain_overlays = false;
};

// Human-readable: the path, then a table of rank, index, score and label,
// and the explained classes' boxes; `color`: with ANSI colour.
std::unique_ptr<RecordWriter> make_text_writer(OutputType output_type,
                                               std::ostream& out,
                                               bool color = false);
// One JSON array of record objects.
std::unique_ptr<RecordWriter> make_json_writer(std::ostream& out);
// One record object per line.
std::unique_ptr<RecordWriter> make_jsonl_writer(std::ostream& out);
// CSV (RFC 4180) or TSV: a header row, then one row per input; with
// explain, the crop's box and each explained class's index and box (and
// overlay file) as columns.
std::unique_ptr<RecordWriter> make_delimited_writer(
    const WriterOptions& options, std::ostream& out);

// The writer for options.format.
std::unique_ptr<RecordWriter> make_record_writer(const WriterOptions& options,
                                                 std::ostream& out);

}  // namespace resnet_cli
