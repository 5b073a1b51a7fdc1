#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/csv.h"
#include "run/predictions.h"
#include "run/record_writer.h"

namespace resnet_cli {

namespace {

// CSV (RFC 4180: CRLF rows, fields with separators, quotes or line breaks
// quoted, quotes doubled) and TSV (no quoting; tab, newline, carriage return
// and backslash escaped as \t, \n, \r, \\). One row per input: path, status,
// error kind and message, then index/label/score per rank or the embedding,
// then what the record is (image, frame or video) and a frame's index and
// time. A video's closing row carries its summary's top-k, when asked for.
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
      add_explanation(record, fields);
    }
    const std::string kind =
        record.frame ? "frame"
                     : (record.video || record.video_error ? "video" : "image");
    fields.push_back(kind);
    fields.push_back(record.frame ? std::to_string(record.frame->index) : "");
    fields.push_back(record.frame ? double_text(record.frame->time) : "");
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
      if (options_.explain_topk > 0) {
        names.insert(names.end(),
                     {"crop_left", "crop_top", "crop_right", "crop_bottom"});
      }
      for (int rank = 1; rank <= options_.explain_topk; ++rank) {
        const std::string r = std::to_string(rank);
        names.insert(names.end(),
                     {"explain_index_" + r, "box_left_" + r, "box_top_" + r,
                      "box_right_" + r, "box_bottom_" + r});
        if (options_.explain_overlays) names.push_back("overlay_" + r);
      }
    }
    names.insert(names.end(), {"kind", "frame", "time"});
    write_row(names);
  }

  static void add_box(const std::optional<PixelBox>& box,
                      std::vector<std::string>& fields) {
    if (!box) {
      fields.insert(fields.end(), 4, "");
      return;
    }
    for (int value : {box->left, box->top, box->right, box->bottom}) {
      fields.push_back(std::to_string(value));
    }
  }

  // The explain columns: the crop's box, then each explained class's index
  // and box (and overlay); empty where the record has fewer.
  void add_explanation(const Record& record,
                       std::vector<std::string>& fields) const {
    if (options_.explain_topk <= 0) return;
    const Explanation* explanation =
        record.explanation ? &*record.explanation : nullptr;
    add_box(
        explanation ? std::optional<PixelBox>(explanation->crop) : std::nullopt,
        fields);
    for (int rank = 0; rank < options_.explain_topk; ++rank) {
      const ClassMap* map =
          explanation &&
                  static_cast<std::size_t>(rank) < explanation->maps.size()
              ? &explanation->maps[static_cast<std::size_t>(rank)]
              : nullptr;
      fields.push_back(map ? std::to_string(map->index) : "");
      add_box(map ? map->box : std::nullopt, fields);
      if (options_.explain_overlays) {
        fields.push_back(map ? map->overlay : "");
      }
    }
  }

  void write_row(const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) out_ << (csv_ ? ',' : '\t');
      if (csv_) {
        out_ << csv_field(fields[i]);
      } else {
        write_tsv_field(fields[i]);
      }
    }
    out_ << (csv_ ? "\r\n" : "\n");
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

std::unique_ptr<RecordWriter> make_delimited_writer(
    const WriterOptions& options, std::ostream& out) {
  return std::make_unique<DelimitedWriter>(options, out);
}

}  // namespace resnet_cli
