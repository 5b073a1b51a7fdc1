// evaluate's printers, one per format.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/csv.h"
#include "run/record_json.h"
#include "train/evaluation.h"

namespace resnet_cli {

namespace {

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string optional_fixed(const std::optional<double>& value) {
  return value ? fixed(*value, 4) : "-";
}

std::string pad(const std::string& text, std::size_t width, bool left) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return left ? text + fill : fill + text;
}

void write_class_table(const EvaluationResult& result, std::ostream& out) {
  std::size_t width = 5;
  for (const ClassMetrics& c : result.classes) {
    width = std::max(width, c.name.size());
  }
  out << pad("class", width, true) << "  index  count  precision  recall\n";
  for (const ClassMetrics& c : result.classes) {
    out << pad(c.name, width, true) << "  "
        << pad(std::to_string(c.model_index), 5, false) << "  "
        << pad(std::to_string(c.count), 5, false) << "  "
        << pad(optional_fixed(c.precision), 9, false) << "  "
        << pad(optional_fixed(c.recall), 6, false) << "\n";
  }
}

void write_confusion_text(const EvaluationResult& result, std::ostream& out) {
  std::size_t width = 4;
  for (const std::string& column : result.columns) {
    width = std::max(width, column.size());
  }
  out << "\nconfusion matrix (rows: true class, columns: predicted)\n"
      << pad("", width, true);
  for (const std::string& column : result.columns) {
    out << "  " << pad(column, width, false);
  }
  out << "\n";
  for (std::size_t row = 0; row < result.confusion.size(); ++row) {
    out << pad(result.classes[row].name, width, true);
    for (std::uint64_t count : result.confusion[row]) {
      out << "  " << pad(std::to_string(count), width, false);
    }
    out << "\n";
  }
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json classes_json(const EvaluationResult& result) {
  nlohmann::json classes = nlohmann::json::array();
  for (const ClassMetrics& c : result.classes) {
    classes.push_back({{"name", c.name},
                       {"index", c.model_index},
                       {"count", c.count},
                       {"correct@1", c.correct1},
                       {"correct@5", c.correct5},
                       {"predicted", c.predicted},
                       {"precision", optional_json(c.precision)},
                       {"recall", optional_json(c.recall)}});
  }
  return classes;
}

nlohmann::json misclassified_json(const EvaluationResult& result) {
  nlohmann::json list = nlohmann::json::array();
  for (const Misclassified& m : result.misclassified) {
    // record_json gives the path (and path_base64 when it is not UTF-8).
    Record record;
    record.path = m.path;
    record.explanation = m.explanation;
    nlohmann::json item = nlohmann::json::parse(record_json(record));
    item.erase("predictions");
    item["true"] = m.true_class;
    item["predicted"] = m.predicted_label;
    item["predicted_index"] = m.predicted_index;
    item["score"] = m.score;
    list.push_back(std::move(item));
  }
  return list;
}

// acc@5 is the JSON key, the CSV column and the text's name whatever the class
// count; with fewer than 5 classes it counts the top min(5, classes), as
// torchvision's reference evaluation would, and the text says so.
std::string top_note(const EvaluationResult& result) {
  if (result.topk >= 5) return "";
  return " (top " + std::to_string(result.topk) +
         ": the model has fewer than 5 classes)";
}

}  // namespace

void write_evaluation_text(const EvaluationResult& result, std::ostream& out) {
  out << result.data << ": " << result.images << " images in "
      << result.classes.size() << " classes";
  if (result.failed > 0) out << " (" << result.failed << " failed)";
  out << "\nacc@1 " << fixed(result.acc1, 2) << "%  acc@5 "
      << fixed(result.acc5, 2) << "%" << top_note(result) << "\n\n";
  write_class_table(result, out);
  write_confusion_text(result, out);
}

void write_evaluation_json(const EvaluationResult& result, std::ostream& out) {
  nlohmann::json errors = nlohmann::json::array();
  for (const Record& record : result.errors) {
    errors.push_back(nlohmann::json::parse(record_json(record)));
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const ClassMetrics& c : result.classes) rows.push_back(c.name);
  const nlohmann::json json = {
      {"data", result.data},
      {"images", result.images},
      {"failed", result.failed},
      {"topk", result.topk},
      {"acc@1", result.acc1},
      {"acc@5", result.acc5},
      {"correct@1", result.correct1},
      {"correct@5", result.correct5},
      {"classes", classes_json(result)},
      {"confusion",
       {{"rows", std::move(rows)},
        {"columns", result.columns},
        {"matrix", result.confusion}}},
      {"misclassified", misclassified_json(result)},
      {"errors", std::move(errors)},
  };
  out << json.dump(1, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
}

void write_evaluation_csv(const EvaluationResult& result, std::ostream& out) {
  out << "class,index,count,correct@1,correct@5,precision,recall,acc@1,"
         "acc@5";
  for (const std::string& column : result.columns) {
    out << "," << csv_field("predicted:" + column);
  }
  out << "\r\n";
  const auto percent = [](std::uint64_t part, std::uint64_t whole) {
    return whole ? fixed(100.0 * static_cast<double>(part) /
                             static_cast<double>(whole),
                         4)
                 : "";
  };
  const auto optional = [](const std::optional<double>& value) {
    return value ? fixed(*value, 6) : "";
  };
  std::vector<std::uint64_t> predicted(result.columns.size(), 0);
  for (std::size_t row = 0; row < result.classes.size(); ++row) {
    const ClassMetrics& c = result.classes[row];
    out << csv_field(c.name) << "," << c.model_index << "," << c.count << ","
        << c.correct1 << "," << c.correct5 << "," << optional(c.precision)
        << "," << optional(c.recall) << "," << percent(c.correct1, c.count)
        << "," << percent(c.correct5, c.count);
    for (std::size_t column = 0; column < result.columns.size(); ++column) {
      out << "," << result.confusion[row][column];
      predicted[column] += result.confusion[row][column];
    }
    out << "\r\n";
  }
  out << "all,," << result.images << "," << result.correct1 << ","
      << result.correct5 << ",,," << percent(result.correct1, result.images)
      << "," << percent(result.correct5, result.images);
  for (std::uint64_t count : predicted) out << "," << count;
  out << "\r\n";
}

void write_misclassified_csv(const EvaluationResult& result,
                             std::ostream& out) {
  out << "path,true,predicted,score\r\n";
  for (const Misclassified& m : result.misclassified) {
    out << csv_field(m.path) << "," << csv_field(m.true_class) << ","
        << csv_field(m.predicted_label) << "," << fixed(m.score, 6) << "\r\n";
  }
}

}  // namespace resnet_cli
