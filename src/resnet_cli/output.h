// Result records and one writer per output format.
//
// Every input gives exactly one record: predictions (or an embedding) when
// it worked, an error kind and message when it did not. Writers only format;
// they never decide what a result is. Paths are written as given, byte for
// byte where the format allows (CSV, TSV, text); JSON, which must be UTF-8,
// adds "path_base64" with the exact bytes when a path is not valid UTF-8.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resnet_cli/error.h"

namespace resnet_cli {

enum class OutputFormat { kText, kJson, kJsonl, kCsv, kTsv };
enum class OutputType { kProbability, kLogit, kEmbedding };

// "text", "json", "jsonl", "csv", "tsv" (any case); throws Error(kUsage).
OutputFormat parse_output_format(std::string_view text);
// "prob", "logit", "embedding"; throws Error(kUsage).
OutputType parse_output_type(std::string_view text);

struct Prediction {
  int rank = 0;            // 1 = best
  std::int64_t index = 0;  // class index in the model's output
  std::string label;
  double score = 0;  // probability (softmax) or logit
};

struct RecordError {
  ErrorKind kind = ErrorKind::kDecode;
  std::string message;
};

struct Record {
  std::string path;  // as the user gave it ("-" for stdin)
  std::vector<Prediction> predictions;
  std::vector<float> embedding;  // --output-type embedding
  std::optional<RecordError> error;
};

// Top `k` classes of one image's logits (k clamped to the class count), best
// first, ties to the lower index; scores are softmax probabilities or the
// logits themselves. `labels` may be shorter than the class count, in which
// case missing labels read as the index.
std::vector<Prediction> top_predictions(const float* logits,
                                        std::int64_t num_classes, int k,
                                        OutputType output_type,
                                        const std::vector<std::string>& labels);

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
};

// Writes to `out`, flushing after every record so that a pipe reader sees
// each record as soon as it is done.
std::unique_ptr<RecordWriter> make_record_writer(const WriterOptions& options,
                                                 std::ostream& out);

// The path a JSON record names: "path_base64" decoded when present, else
// "path". Used by --resume to read back what a run recorded.
std::string record_path_from_json(std::string_view json_line);

// The score as JSON writes it: the shortest decimal that reads back as the
// same float32, so logits keep all their precision and no noise.
double float_for_json(float value);

}  // namespace resnet_cli
