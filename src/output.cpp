#include "resnet_cli/output.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>

#include "text.h"

namespace resnet_cli {

namespace {

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t j = 1; j < length; ++j) {
      const auto next = static_cast<unsigned char>(text[i + j]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < minimum[length] || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kBase64[(chunk >> 18) & 63]);
    out.push_back(kBase64[(chunk >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64[(chunk >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kBase64[chunk & 63] : '=');
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string out;
  std::uint32_t chunk = 0;
  int bits = 0;
  for (char c : text) {
    const char* found = std::strchr(kBase64, c);
    if (c == '=' || !found || c == '\0') break;
    chunk = (chunk << 6) | static_cast<std::uint32_t>(found - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((chunk >> bits) & 0xFF));
    }
  }
  return out;
}

// Shortest text that reads back as the same float.
std::string float_text(float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

nlohmann::json record_to_json(const Record& record) {
  nlohmann::json json;
  json["path"] = record.path;
  if (!is_valid_utf8(record.path)) {
    json["path_base64"] = base64_encode(record.path);
  }
  if (record.error) {
    json["error"] = {{"kind", std::string(error_kind_name(record.error->kind))},
                     {"message", record.error->message}};
    return json;
  }
  if (!record.embedding.empty()) {
    nlohmann::json values = nlohmann::json::array();
    for (float value : record.embedding)
      values.push_back(float_for_json(value));
    json["embedding"] = std::move(values);
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
  // Messages may quote non-UTF-8 paths; replace what is not UTF-8 there
  // rather than fail (the path itself is also in path_base64).
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class TextWriter final : public RecordWriter {
 public:
  TextWriter(OutputType output_type, std::ostream& out)
      : output_type_(output_type), out_(out) {}

  void write(const Record& record) override {
    if (count_++ > 0) out_ << '\n';
    out_ << record.path << '\n';
    if (record.error) {
      out_ << "  error (" << error_kind_name(record.error->kind)
           << "): " << record.error->message << '\n';
    } else if (output_type_ == OutputType::kEmbedding) {
      out_ << "  embedding (" << record.embedding.size() << "):";
      for (float value : record.embedding) out_ << ' ' << float_text(value);
      out_ << '\n';
    } else {
      out_ << "  rank  index  "
           << (output_type_ == OutputType::kLogit ? "   logit" : "    prob")
           << "  label\n";
      for (const Prediction& prediction : record.predictions) {
        char line[64];
        std::snprintf(line, sizeof line, "  %4d  %5lld  %8.4f  ",
                      prediction.rank, static_cast<long long>(prediction.index),
                      prediction.score);
        out_ << line << prediction.label << '\n';
      }
    }
    out_.flush();
  }
  void finish() override { out_.flush(); }

 private:
  OutputType output_type_;
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

// CSV (RFC 4180: CRLF rows, fields with separators, quotes or line breaks
// quoted, quotes doubled) and TSV (no quoting; tab, newline, carriage return
// and backslash escaped as \t, \n, \r, \\). One row per input: path, status,
// error kind and message, then index/label/score per rank or the embedding.
class DelimitedWriter final : public RecordWriter {
 public:
  DelimitedWriter(const WriterOptions& options, std::ostream& out)
      : options_(options),
        out_(out),
        csv_(options.format == OutputFormat::kCsv) {}

  void write(const Record& record) override {
    if (!header_written_) {
      write_header();
      header_written_ = true;
    }
    std::vector<std::string> fields = {
        record.path, record.error ? "error" : "ok",
        record.error ? std::string(error_kind_name(record.error->kind)) : "",
        record.error ? record.error->message : ""};
    if (options_.output_type == OutputType::kEmbedding) {
      for (int i = 0; i < options_.embedding_size; ++i) {
        fields.push_back(
            static_cast<std::size_t>(i) < record.embedding.size()
                ? float_text(record.embedding[static_cast<std::size_t>(i)])
                : "");
      }
    } else {
      for (int rank = 0; rank < options_.topk; ++rank) {
        if (static_cast<std::size_t>(rank) < record.predictions.size()) {
          const Prediction& p =
              record.predictions[static_cast<std::size_t>(rank)];
          fields.push_back(std::to_string(p.index));
          fields.push_back(p.label);
          fields.push_back(float_text(static_cast<float>(p.score)));
        } else {
          fields.insert(fields.end(), 3, "");
        }
      }
    }
    write_row(fields);
    out_.flush();
  }

  void finish() override {
    if (!header_written_) write_header();
    out_.flush();
  }

 private:
  void write_header() {
    std::vector<std::string> names = {"path", "status", "error_kind",
                                      "error_message"};
    if (options_.output_type == OutputType::kEmbedding) {
      for (int i = 0; i < options_.embedding_size; ++i) {
        names.push_back("e" + std::to_string(i));
      }
    } else {
      for (int rank = 1; rank <= options_.topk; ++rank) {
        names.push_back("index_" + std::to_string(rank));
        names.push_back("label_" + std::to_string(rank));
        names.push_back("score_" + std::to_string(rank));
      }
    }
    write_row(names);
  }

  void write_row(const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) out_ << (csv_ ? ',' : '\t');
      if (csv_) {
        write_csv_field(fields[i]);
      } else {
        write_tsv_field(fields[i]);
      }
    }
    out_ << (csv_ ? "\r\n" : "\n");
  }

  void write_csv_field(const std::string& field) {
    if (field.find_first_of(",\"\r\n") == std::string::npos) {
      out_ << field;
      return;
    }
    out_ << '"';
    for (char c : field) {
      if (c == '"') out_ << '"';
      out_ << c;
    }
    out_ << '"';
  }

  void write_tsv_field(const std::string& field) {
    for (char c : field) {
      switch (c) {
        case '\t':
          out_ << "\\t";
          break;
        case '\n':
          out_ << "\\n";
          break;
        case '\r':
          out_ << "\\r";
          break;
        case '\\':
          out_ << "\\\\";
          break;
        default:
          out_ << c;
      }
    }
  }

  WriterOptions options_;
  std::ostream& out_;
  bool csv_;
  bool header_written_ = false;
};

}  // namespace

OutputFormat parse_output_format(std::string_view text) {
  const std::string value = detail::ascii_lower(text);
  if (value == "text") return OutputFormat::kText;
  if (value == "json") return OutputFormat::kJson;
  if (value == "jsonl") return OutputFormat::kJsonl;
  if (value == "csv") return OutputFormat::kCsv;
  if (value == "tsv") return OutputFormat::kTsv;
  throw Error(ErrorKind::kUsage,
              "unknown format '" + std::string(text) +
                  "' (expected text, json, jsonl, csv or tsv)");
}

OutputType parse_output_type(std::string_view text) {
  const std::string value = detail::ascii_lower(text);
  if (value == "prob") return OutputType::kProbability;
  if (value == "logit") return OutputType::kLogit;
  if (value == "embedding") return OutputType::kEmbedding;
  throw Error(ErrorKind::kUsage, "unknown output type '" + std::string(text) +
                                     "' (expected prob, logit or embedding)");
}

double float_for_json(float value) {
  if (!std::isfinite(value)) return value;
  return std::strtod(float_text(value).c_str(), nullptr);
}

std::vector<Prediction> top_predictions(
    const float* logits, std::int64_t num_classes, int k,
    OutputType output_type, const std::vector<std::string>& labels) {
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
  const float top = logits[order[0]];
  if (output_type == OutputType::kProbability) {
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
    if (output_type == OutputType::kProbability) {
      const double probability =
          std::exp(static_cast<double>(logits[index]) - top) / normalizer;
      prediction.score = float_for_json(static_cast<float>(probability));
    } else {
      prediction.score = float_for_json(logits[index]);
    }
    predictions.push_back(std::move(prediction));
  }
  return predictions;
}

std::unique_ptr<RecordWriter> make_record_writer(const WriterOptions& options,
                                                 std::ostream& out) {
  switch (options.format) {
    case OutputFormat::kText:
      return std::make_unique<TextWriter>(options.output_type, out);
    case OutputFormat::kJson:
      return std::make_unique<JsonWriter>(out);
    case OutputFormat::kJsonl:
      return std::make_unique<JsonlWriter>(out);
    case OutputFormat::kCsv:
    case OutputFormat::kTsv:
      return std::make_unique<DelimitedWriter>(options, out);
  }
  return std::make_unique<TextWriter>(options.output_type, out);
}

std::string record_path_from_json(std::string_view json_line) {
  const nlohmann::json json =
      nlohmann::json::parse(json_line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return {};
  if (auto encoded = json.find("path_base64");
      encoded != json.end() && encoded->is_string()) {
    return base64_decode(encoded->get<std::string>());
  }
  if (auto path = json.find("path"); path != json.end() && path->is_string()) {
    return path->get<std::string>();
  }
  return {};
}

}  // namespace resnet_cli
