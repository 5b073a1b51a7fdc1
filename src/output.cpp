#include "resnet_cli/output.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>

namespace resnet_cli {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

nlohmann::json record_to_json(const Record& record) {
  nlohmann::json json;
  json["path"] = record.path;
  if (record.error) {
    json["error"] = {{"kind", std::string(error_kind_name(record.error->kind))},
                     {"message", record.error->message}};
    return json;
  }
  nlohmann::json predictions = nlohmann::json::array();
  for (const Prediction& prediction : record.predictions) {
    predictions.push_back({{"rank", prediction.rank},
                           {"index", prediction.index},
                           {"label", prediction.label},
                           {"score", prediction.score}});
  }
  json["predictions"] = std::move(predictions);
  return json;
}

std::string dump(const nlohmann::json& json) {
  // Paths need not be UTF-8; replace what is not rather than fail.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_text_record(std::ostream& out, const Record& record,
                       ScoreType score_type) {
  out << record.path << '\n';
  if (record.error) {
    out << "  error (" << error_kind_name(record.error->kind)
        << "): " << record.error->message << '\n';
    return;
  }
  out << "  rank  index  "
      << (score_type == ScoreType::kLogit ? "   logit" : "    prob")
      << "  label\n";
  for (const Prediction& prediction : record.predictions) {
    char line[64];
    std::snprintf(line, sizeof line, "  %4d  %5lld  %8.4f  ", prediction.rank,
                  static_cast<long long>(prediction.index), prediction.score);
    out << line << prediction.label << '\n';
  }
}

class TextWriter final : public RecordWriter {
 public:
  TextWriter(ScoreType score_type, std::ostream& out)
      : score_type_(score_type), out_(out) {}
  void write(const Record& record) override {
    if (count_++ > 0) out_ << '\n';
    write_text_record(out_, record, score_type_);
    out_.flush();
  }
  void finish() override { out_.flush(); }

 private:
  ScoreType score_type_;
  std::ostream& out_;
  std::size_t count_ = 0;
};

// A JSON array streamed record by record, so that memory stays flat.
class JsonWriter final : public RecordWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}
  void write(const Record& record) override {
    out_ << (count_++ == 0 ? "[\n" : ",\n") << dump(record_to_json(record));
    out_.flush();
  }
  void finish() override {
    out_ << (count_ == 0 ? "[]\n" : "\n]\n");
    out_.flush();
  }

 private:
  std::ostream& out_;
  std::size_t count_ = 0;
};

class JsonlWriter final : public RecordWriter {
 public:
  explicit JsonlWriter(std::ostream& out) : out_(out) {}
  void write(const Record& record) override {
    out_ << dump(record_to_json(record)) << '\n';
    out_.flush();
  }
  void finish() override { out_.flush(); }

 private:
  std::ostream& out_;
};

}  // namespace

OutputFormat parse_output_format(std::string_view text) {
  const std::string value = lower(text);
  if (value == "text") return OutputFormat::kText;
  if (value == "json") return OutputFormat::kJson;
  if (value == "jsonl") return OutputFormat::kJsonl;
  throw Error(ErrorKind::kUsage, "unknown format '" + std::string(text) +
                                     "' (expected text, json or jsonl)");
}

ScoreType parse_score_type(std::string_view text) {
  const std::string value = lower(text);
  if (value == "prob") return ScoreType::kProbability;
  if (value == "logit") return ScoreType::kLogit;
  throw Error(ErrorKind::kUsage, "unknown output type '" + std::string(text) +
                                     "' (expected prob or logit)");
}

double float_for_json(float value) {
  if (!std::isfinite(value)) return value;
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::strtod(std::string(buffer, result.ptr).c_str(), nullptr);
}

std::vector<Prediction> top_predictions(
    const float* logits, std::int64_t num_classes, int k, ScoreType score_type,
    const std::vector<std::string>& labels) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_classes));
  std::iota(order.begin(), order.end(), 0);
  const auto count = std::min<std::int64_t>(std::max(k, 0), num_classes);
  std::partial_sort(order.begin(), order.begin() + count, order.end(),
                    [logits](std::int64_t a, std::int64_t b) {
                      return logits[a] > logits[b] ||
                             (logits[a] == logits[b] && a < b);
                    });
  // Softmax in double, shifted by the maximum for range.
  double normalizer = 0;
  if (score_type == ScoreType::kProbability) {
    const float top = logits[order[0]];
    for (std::int64_t i = 0; i < num_classes; ++i) {
      normalizer += std::exp(static_cast<double>(logits[i]) - top);
    }
  }
  std::vector<Prediction> predictions;
  for (std::int64_t rank = 0; rank < count; ++rank) {
    const std::int64_t index = order[static_cast<std::size_t>(rank)];
    Prediction prediction;
    prediction.rank = static_cast<int>(rank + 1);
    prediction.index = index;
    prediction.label = index < static_cast<std::int64_t>(labels.size())
                           ? labels[static_cast<std::size_t>(index)]
                           : std::to_string(index);
    if (score_type == ScoreType::kLogit) {
      prediction.score = float_for_json(logits[index]);
    } else {
      const double probability =
          std::exp(static_cast<double>(logits[index]) - logits[order[0]]) /
          normalizer;
      prediction.score = float_for_json(static_cast<float>(probability));
    }
    predictions.push_back(std::move(prediction));
  }
  return predictions;
}

std::unique_ptr<RecordWriter> make_record_writer(OutputFormat format,
                                                 ScoreType score_type,
                                                 std::ostream& out) {
  switch (format) {
    case OutputFormat::kText:
      return std::make_unique<TextWriter>(score_type, out);
    case OutputFormat::kJson:
      return std::make_unique<JsonWriter>(out);
    case OutputFormat::kJsonl:
      return std::make_unique<JsonlWriter>(out);
  }
  return std::make_unique<TextWriter>(score_type, out);
}

}  // namespace resnet_cli
