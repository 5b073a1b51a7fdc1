// Measuring a model on labelled images laid out as torchvision's ImageFolder:
// DATA/<class>/.../<image>, one sub-folder per class, class i being the i-th
// sub-folder name in sorted (byte) order. The records come from the same
// pipeline classify runs; this module only decides each image's true class
// and counts: top-1 and top-5 accuracy, per-class precision and recall, and
// the confusion matrix. No LibTorch here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "run/record.h"

namespace resnet_cli {

// The 1000 ImageNet-1K WordNet ids (n01440764, ...) in class index order.
// That order is the wnids' sorted order (torchvision's ImageNet dataset and
// its reference validation sort them), which is why ImageNet's class folders
// need no mapping file.
const std::vector<std::string>& imagenet_wnids();

struct DatasetClass {
  std::string name;    // the sub-folder's name
  std::string folder;  // DATA joined with name, as the scanner sees it
  std::int64_t model_index = 0;  // the model's output for this class
};

// DATA's class folders, sorted as ImageFolder sorts them, each mapped to the
// model's class:
// - with ImageNet's labels (`imagenet_labels`) and folders that are all
//   WordNet ids, each folder maps to its wnid's index, so that a subset of
//   ImageNet's classes can be evaluated;
// - otherwise folder i is class i: the folder count must equal
//   `num_classes`, and with `labels` (a labels file, or ImageNet's names)
//   the names must equal the labels in order.
// Throws Error(kUsage) naming DATA (not a folder, no class folders) or both
// sides of a mismatch.
std::vector<DatasetClass> image_folder_classes(
    const std::filesystem::path& data, const std::vector<std::string>& labels,
    bool imagenet_labels, std::int64_t num_classes);

struct ClassMetrics {
  std::string name;
  std::int64_t model_index = 0;
  std::uint64_t count = 0;      // images of this class that were classified
  std::uint64_t correct1 = 0;   // top-1 right
  std::uint64_t correct5 = 0;   // true class among the top-k
  std::uint64_t predicted = 0;  // images of any class predicted as this one
  // correct1 / predicted and correct1 / count; empty when the divisor is 0.
  std::optional<double> precision;
  std::optional<double> recall;
};

struct Misclassified {
  std::string path;
  std::string true_class;
  std::int64_t predicted_index = 0;
  std::string predicted_label;
  double score = 0;                        // the predicted class's probability
  std::optional<Explanation> explanation;  // --explain-errors
};

struct EvaluationResult {
  std::string data;          // DATA as given
  int topk = 5;              // acc@5 counts the top min(5, classes)
  std::uint64_t images = 0;  // classified (failed inputs are not counted)
  std::uint64_t failed = 0;
  std::uint64_t correct1 = 0;
  std::uint64_t correct5 = 0;
  double acc1 = 0;  // percent, as torchvision reports acc@1
  double acc5 = 0;
  std::vector<ClassMetrics> classes;
  // Rows: true classes; columns: the classes, then "other" (a model class
  // that is no folder of DATA) when the model has classes DATA lacks.
  std::vector<std::string> columns;
  std::vector<std::vector<std::uint64_t>> confusion;
  std::vector<Misclassified> misclassified;  // in input order
  std::vector<Record> errors;                // failed inputs, in input order
};

class Evaluation {
 public:
  Evaluation(std::string data, std::vector<DatasetClass> classes,
             std::int64_t num_classes, int topk);

  // Counts one record; its class is the DATA sub-folder its path is in.
  void add(const Record& record);
  // Whether a record that worked names another class than its folder's
  // first. Reads only what the constructor set: safe from any thread.
  bool misclassified(const Record& record) const;
  EvaluationResult result() const;

 private:
  std::size_t class_of(const std::string& path) const;

  EvaluationResult result_;
  std::vector<DatasetClass> classes_;
  std::vector<std::int64_t> column_of_index_;  // model index -> column
};

// The printers of evaluate's --format: one per format. text: a summary, a
// table per class and the matrix; json: one object (the report command reads
// it); csv: a row per class and a last row "all", each with its confusion
// matrix row.
void write_evaluation_text(const EvaluationResult& result, std::ostream& out);
void write_evaluation_json(const EvaluationResult& result, std::ostream& out);
void write_evaluation_csv(const EvaluationResult& result, std::ostream& out);
// --misclassified: CSV rows path,true,predicted,score.
void write_misclassified_csv(const EvaluationResult& result, std::ostream& out);

}  // namespace resnet_cli
