// The text format: the path, then a table of rank, index, score and label
// (or the embedding, or the error) per input, inputs separated by a blank
// line. A video's frame says its time and index beside the path; a video's
// closing record says what was classified and, with the summary, the mean's
// top-k and where each of them leads.
#include <cstdio>
#include <ostream>
#include <string>

#include "run/predictions.h"
#include "run/record_writer.h"

namespace resnet_cli {

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", seconds);
  return text;
}

std::string leads_text(const std::vector<TimeRange>& ranges) {
  if (ranges.empty()) return "";
  std::string text = "  (leads";
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    char range[64];
    std::snprintf(range, sizeof range, "%s %.1f-%.1f s", i ? "," : "",
                  ranges[i].start, ranges[i].end);
    text += range;
  }
  return text + ")";
}

class TextWriter final : public RecordWriter {
 public:
  TextWriter(OutputType output_type, std::ostream& out, bool color)
      : output_type_(output_type), out_(out), color_(color) {}

  void write(const Record& record) override {
    if (count_++ > 0) out_ << '\n';
    out_ << style("\x1b[1m") << record.path << style("\x1b[0m");
    if (record.frame) {
      out_ << " @ " << seconds_text(record.frame->time) << " (frame "
           << record.frame->index << ")";
    }
    out_ << '\n';
    if (record.error) {
      out_ << "  " << style("\x1b[31m") << "error ("
           << error_kind_name(record.error->kind)
           << "): " << record.error->message << style("\x1b[0m") << '\n';
    } else if (record.video) {
      write_video(record);
    } else if (output_type_ == OutputType::kEmbedding) {
      out_ << "  embedding (" << record.embedding.size() << "):";
      for (float value : record.embedding) out_ << ' ' << float_text(value);
      out_ << '\n';
    } else {
      write_table(record, output_type_);
      if (record.explanation) write_explanation(*record.explanation);
    }
    out_.flush();
  }
  void finish() override { out_.flush(); }

 private:
  static std::string box_text(const PixelBox& box) {
    return std::to_string(box.left) + "," + std::to_string(box.top) + " to " +
           std::to_string(box.right) + "," + std::to_string(box.bottom);
  }

  // "explain (crop ... of WxH):", then a line per explained class: its rank,
  // label, box (and overlay file).
  void write_explanation(const Explanation& explanation) {
    out_ << "  explain (crop " << box_text(explanation.crop) << " of "
         << explanation.image_width << "x" << explanation.image_height
         << "):\n";
    for (const ClassMap& map : explanation.maps) {
      out_ << "    rank " << map.rank << "  " << map.label << "  box "
           << (map.box ? box_text(*map.box) : std::string("none (map is 0)"));
      if (!map.overlay.empty()) out_ << "  overlay " << map.overlay;
      out_ << '\n';
    }
  }

  void write_video(const Record& record) {
    const VideoSummary& video = *record.video;
    out_ << "  video: " << video.frames << " frame"
         << (video.frames == 1 ? "" : "s") << " classified, "
         << seconds_text(video.start) << " to " << seconds_text(video.end)
         << '\n';
    if (!video.summary) return;
    out_ << "  mean of the frames' probabilities:\n";
    write_table(record, OutputType::kProbability);
  }

  void write_table(const Record& record, OutputType scores) {
    out_ << "  rank  index  "
         << (scores == OutputType::kLogit ? "   logit" : "    prob")
         << "  label\n";
    for (std::size_t i = 0; i < record.predictions.size(); ++i) {
      const Prediction& prediction = record.predictions[i];
      char line[64];
      std::snprintf(line, sizeof line, "  %4d  %5lld  %8.4f  ", prediction.rank,
                    static_cast<long long>(prediction.index), prediction.score);
      out_ << line << prediction.label;
      if (record.video && i < record.video->leads.size()) {
        out_ << leads_text(record.video->leads[i]);
      }
      out_ << '\n';
    }
  }

  // An ANSI SGR sequence when colouring, else nothing.
  const char* style(const char* sequence) const {
    return color_ ? sequence : "";
  }

  OutputType output_type_;
  std::ostream& out_;
  bool color_;
  std::size_t count_ = 0;
};

}  // namespace

std::unique_ptr<RecordWriter> make_text_writer(OutputType output_type,
                                               std::ostream& out, bool color) {
  return std::make_unique<TextWriter>(output_type, out, color);
}

}  // namespace resnet_cli
