// evaluate's bookkeeping without a model: class folders as ImageFolder sorts
// them, WordNet ids, mismatches named, and the counts from given records.
#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "base/error.h"
#include "test_support.h"
#include "train/evaluation.h"

using namespace resnet_cli;

namespace {

std::filesystem::path class_tree(const std::vector<std::string>& names) {
  const auto root = testing::temp_dir("evaluation");
  for (const std::string& name : names) {
    std::filesystem::create_directories(root / name);
  }
  testing::write_text(root / "stray.jpg", "not a class folder");
  return root;
}

std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    return e.what();
  }
  FAIL("no error");
  return {};
}

Record predicted(const std::string& path, std::vector<std::int64_t> top) {
  Record record;
  record.path = path;
  for (std::size_t i = 0; i < top.size(); ++i) {
    record.predictions.push_back({static_cast<int>(i + 1), top[i],
                                  "c" + std::to_string(top[i]),
                                  i == 0 ? 0.75 : 0.1});
  }
  return record;
}

}  // namespace

TEST_CASE("evaluation: ImageNet's class order is its wnids' sorted order",
          "[evaluate]") {
  const std::vector<std::string>& wnids = imagenet_wnids();
  REQUIRE(wnids.size() == 1000);
  CHECK(std::is_sorted(wnids.begin(), wnids.end()));
  CHECK(wnids.front() == "n01440764");  // tench, class 0
  CHECK(wnids[1] == "n01443537");       // goldfish
  CHECK(wnids.back() == "n15075141");   // toilet tissue, class 999
}

TEST_CASE("evaluation: class folders sorted by bytes, as ImageFolder does",
          "[evaluate]") {
  const auto root = class_tree({"dog", "Cat", "bird"});
  const auto classes =
      image_folder_classes(root, {"Cat", "bird", "dog"}, false, 3);
  REQUIRE(classes.size() == 3);
  CHECK(classes[0].name == "Cat");
  CHECK(classes[1].name == "bird");
  CHECK(classes[2].model_index == 2);
  CHECK(classes[2].folder == (root / "dog").string());
  // Without labels only the count is checked.
  CHECK(image_folder_classes(root, {}, false, 3).size() == 3);
}

TEST_CASE("evaluation: ImageNet folders named by wnid map to their class",
          "[evaluate]") {
  const auto root = class_tree({"n15075141", "n01443537", "n01440764"});
  std::vector<std::string> labels(1000, "x");
  const auto classes = image_folder_classes(root, labels, true, 1000);
  REQUIRE(classes.size() == 3);
  CHECK(classes[0].model_index == 0);
  CHECK(classes[1].model_index == 1);
  CHECK(classes[2].model_index == 999);
}

TEST_CASE("evaluation: mismatches name both sides", "[evaluate]") {
  const auto root = class_tree({"a", "b"});
  CHECK_THAT(message_of([&] { image_folder_classes(root, {}, false, 3); }),
             Catch::Contains("has 2 class folders but the model has 3 "
                             "classes"));
  CHECK_THAT(message_of([&] {
               image_folder_classes(root, {"a", "c"}, false, 2);
             }),
             Catch::Contains("class folder 1 is 'b'") &&
                 Catch::Contains("label 1 of the labels is 'c'"));
  CHECK_THAT(message_of([&] {
               image_folder_classes(root / "a" / "none", {}, false, 2);
             }),
             Catch::Contains("not a folder"));
  const auto empty = testing::temp_dir("evaluation-empty");
  CHECK_THAT(message_of([&] { image_folder_classes(empty, {}, false, 2); }),
             Catch::Contains("no class folders"));
}

TEST_CASE("evaluation: counts, precision, recall and the matrix",
          "[evaluate]") {
  const std::vector<DatasetClass> classes = {
      {"x", "D/x", 0}, {"y", "D/y", 2}};  // a subset of a 4-class model
  Evaluation evaluation("D", classes, 4, 2);
  evaluation.add(predicted("D/x/1.jpg", {0, 1}));
  evaluation.add(predicted("D/x/sub/2.jpg", {2, 0}));
  evaluation.add(predicted("D/y/3.jpg", {3, 2}));
  evaluation.add(predicted("D/y/4.jpg", {2, 3}));
  Record broken;
  broken.path = "D/y/5.jpg";
  broken.error = RecordError{ErrorKind::kDecode, "D/y/5.jpg: broken"};
  evaluation.add(broken);
  const EvaluationResult result = evaluation.result();
  CHECK(result.images == 4);
  CHECK(result.failed == 1);
  CHECK(result.acc1 == 50.0);
  CHECK(result.acc5 == 100.0);
  CHECK(result.columns == std::vector<std::string>{"x", "y", "other"});
  CHECK(result.confusion ==
        std::vector<std::vector<std::uint64_t>>{{1, 1, 0}, {0, 1, 1}});
  CHECK(result.classes[0].precision == 1.0);
  CHECK(result.classes[0].recall == 0.5);
  CHECK(result.classes[1].precision == 0.5);
  REQUIRE(result.misclassified.size() == 2);
  CHECK(result.misclassified[1].path == "D/y/3.jpg");
  CHECK(result.misclassified[1].predicted_index == 3);

  std::ostringstream csv;
  write_misclassified_csv(result, csv);
  CHECK(csv.str() ==
        "path,true,predicted,score\r\nD/x/sub/2.jpg,x,c2,0.750000\r\n"
        "D/y/3.jpg,y,c3,0.750000\r\n");
  std::ostringstream table;
  write_evaluation_csv(result, table);
  CHECK_THAT(table.str(),
             Catch::StartsWith("class,index,count,correct@1,correct@5,"
                               "precision,recall,acc@1,acc@5,predicted:x,"
                               "predicted:y,predicted:other\r\n"
                               "x,0,2,1,2,1.000000,0.500000,50.0000,100.0000,"
                               "1,1,0\r\n"));
  CHECK_THAT(table.str(), Catch::EndsWith("all,,4,2,4,,,50.0000,100.0000,1,"
                                          "2,1\r\n"));
  // acc@5 is called so in every format (the JSON key), the text saying how
  // many classes its top holds when the model has fewer than 5.
  std::ostringstream text;
  write_evaluation_text(result, text);
  CHECK_THAT(text.str(),
             Catch::Contains("acc@1 50.00%  acc@5 100.00% (top 2: the model "
                             "has fewer than 5 classes)"));
  CHECK_THAT(text.str(), !Catch::Contains("acc@2"));
}
