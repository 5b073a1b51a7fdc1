// Result records and one writer per output format.
//
// Every input gives exactly one record: predictions (or an embedding) when
// it worked, an error kind and message when it did not. Writers only format;
// they never decide what a result is.
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

enum class OutputFormat { kText, kJson, kJsonl };
enum class ScoreType { kProbability, kLogit };

// "text", "json", "jsonl" (any case); throws Error(kUsage).
OutputFormat parse_output_format(std::string_view text);
ScoreType parse_score_type(std::string_view text);  // "prob", "logit"

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
  std::optional<RecordError> error;
};

// Top `k` classes of one image's logits (k clamped to the class count), best
// first, ties to the lower index; scores are softmax probabilities or the
// logits themselves. `labels` may be shorter than the class count, in which
// case missing labels read as the index.
std::vector<Prediction> top_predictions(const float* logits,
                                        std::int64_t num_classes, int k,
                                        ScoreType score_type,
                                        const std::vector<std::string>& labels);

class RecordWriter {
 public:
  virtual ~RecordWriter() = default;
  virtual void write(const Record& record) = 0;
  // Closes the document (JSON's "]"); records may not follow.
  virtual void finish() = 0;
};

std::unique_ptr<RecordWriter> make_record_writer(OutputFormat format,
                                                 ScoreType score_type,
                                                 std::ostream& out);

// The score as JSON writes it: the shortest decimal that reads back as the
// same float32, so logits keep all their precision and no noise.
double float_for_json(float value);

}  // namespace resnet_cli
