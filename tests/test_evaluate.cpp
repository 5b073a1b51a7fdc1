// evaluate against the oracle: torchvision's evaluation of the same
// ImageFolder tree with the same checkpoint (tests/oracle/
// make_evaluate_fixture.py) gives the same acc@1, acc@5 and confusion matrix.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"

using namespace resnet_cli::testing;

namespace {

std::filesystem::path evaluate_fixture(const std::string& relative) {
  return std::filesystem::path(RESNET_CLI_EVALUATE_FIXTURE_DIR) / relative;
}

const nlohmann::json& expected() {
  static const nlohmann::json json =
      nlohmann::json::parse(read_file(evaluate_fixture("expected.json")));
  return json;
}

std::vector<std::string> model_args() {
  return {"--weights-file", evaluate_fixture("model.pth").string(), "--arch",
          "resnet18"};
}

CommandResult evaluate(std::vector<std::string> args) {
  args.insert(args.begin(), {"evaluate", evaluate_fixture("data").string()});
  const std::vector<std::string> model = model_args();
  args.insert(args.end(), model.begin(), model.end());
  return run_cli(args, fixture_env());
}

}  // namespace

TEST_CASE("evaluate: acc@1, acc@5 and the confusion matrix are torchvision's",
          "[evaluate]") {
  const auto folder = temp_dir("evaluate");
  const auto misclassified = folder / "wrong.csv";
  const CommandResult run = evaluate(
      {"--labels", evaluate_fixture("labels.txt").string(), "--format", "json",
       "--misclassified", misclassified.string(), "--progress", "never"});
  INFO(run.err);
  // The truncated JPEG is reported, counted and left out; the run goes on.
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::Contains("dog/broken.jpg"));
  const nlohmann::json result = nlohmann::json::parse(run.out);
  const nlohmann::json& oracle = expected();
  REQUIRE(oracle["images"].get<int>() >= 60);
  CHECK(result["images"] == oracle["images"]);
  CHECK(result["failed"] == 1);
  CHECK(result["topk"] == oracle["topk"]);
  CHECK(result["correct@1"] == oracle["correct@1"]);
  CHECK(result["correct@5"] == oracle["correct@5"]);
  CHECK(result["acc@1"].get<double>() ==
        Approx(oracle["acc@1"].get<double>()).margin(1e-9));
  CHECK(result["acc@5"].get<double>() ==
        Approx(oracle["acc@5"].get<double>()).margin(1e-9));
  CHECK(result["confusion"]["matrix"] == oracle["confusion"]);
  CHECK(result["confusion"]["rows"] == oracle["classes"]);
  CHECK(result["confusion"]["columns"] == oracle["classes"]);
  REQUIRE(result["errors"].size() == 1);
  CHECK(result["errors"][0]["error"]["kind"] == "decode");

  // Per class: count, precision and recall from the same matrix.
  const auto& matrix = oracle["confusion"];
  for (std::size_t c = 0; c < 3; ++c) {
    const auto& metrics = result["classes"][c];
    std::int64_t count = 0, predicted = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      count += matrix[c][k].get<std::int64_t>();
      predicted += matrix[k][c].get<std::int64_t>();
    }
    const double right = matrix[c][c].get<double>();
    CHECK(metrics["count"] == count);
    CHECK(metrics["recall"].get<double>() ==
          Approx(right / static_cast<double>(count)));
    CHECK(metrics["precision"].get<double>() ==
          Approx(right / static_cast<double>(predicted)));
  }

  // --misclassified: a header and a row per image that top-1 got wrong.
  const std::vector<std::string> rows = lines_of(read_file(misclassified));
  CHECK(rows.size() == 1 + oracle["images"].get<std::size_t>() -
                           oracle["correct@1"].get<std::size_t>());
  CHECK(rows.front() == "path,true,predicted,score\r");
}

TEST_CASE("evaluate: text and csv print the same figures", "[evaluate]") {
  const nlohmann::json& oracle = expected();
  const CommandResult text = evaluate({"--progress", "never"});
  CHECK(text.exit_code == 1);
  char acc1[32];
  std::snprintf(acc1, sizeof acc1, "acc@1 %.2f%%",
                oracle["acc@1"].get<double>());
  CHECK_THAT(text.out, Catch::Contains(acc1));
  CHECK_THAT(text.out, Catch::Contains("confusion matrix"));

  const CommandResult csv = evaluate({"-f", "csv", "-q"});
  const std::vector<std::string> rows = lines_of(csv.out);
  REQUIRE(rows.size() == 5);  // header, 3 classes, all
  CHECK_THAT(rows[4],
             Catch::StartsWith("all,," + oracle["images"].dump() + "," +
                               oracle["correct@1"].dump() + ","));
}

TEST_CASE("evaluate: mismatches and bad DATA are one line and exit 2",
          "[evaluate]") {
  const auto folder = temp_dir("evaluate-bad");
  write_text(folder / "labels.txt", "Cat\nbird\nfox\n");
  CommandResult run = evaluate({"--labels", (folder / "labels.txt").string()});
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.err, Catch::Contains("class folder 2 is 'dog'") &&
                          Catch::Contains("is 'fox'"));

  const auto two = folder / "two";
  std::filesystem::create_directories(two / "a");
  std::filesystem::create_directories(two / "b");
  std::vector<std::string> args = {"evaluate", two.string()};
  for (const std::string& arg : model_args()) args.push_back(arg);
  run = run_cli(args, fixture_env());
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.err,
             Catch::Contains(two.string() + ": has 2 class folders but the "
                                            "model has 3 classes"));

  args[1] = (folder / "labels.txt").string();
  run = run_cli(args, fixture_env());
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.err, Catch::Contains("labels.txt: not a folder"));
}

TEST_CASE("evaluate: --explain-errors maps the misclassified images",
          "[evaluate]") {
  const auto folder = temp_dir("evaluate-explain");
  const auto overlays = folder / "overlays";
  const CommandResult run =
      evaluate({"--format", "json", "--explain-dir", overlays.string(),
                "--progress", "never", "-q"});
  REQUIRE(run.exit_code == 1);  // the broken JPEG
  const nlohmann::json result = nlohmann::json::parse(run.out);
  const nlohmann::json& wrong = result["misclassified"];
  REQUIRE(wrong.size() > 0);
  std::string lines;
  for (const nlohmann::json& item : wrong) {
    INFO(item.dump());
    const nlohmann::json& map = item.at("explain").at("maps").at(0);
    CHECK(map["index"] == item["predicted_index"]);
    CHECK(std::filesystem::exists(map.at("overlay").get<std::string>()));
    lines += item.dump() + "\n";
  }
  for (const nlohmann::json& error : result["errors"]) {
    CHECK_FALSE(error.contains("explain"));
  }
  // An overlay for each misclassified image, none for the others.
  std::size_t files = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(overlays)) {
    files += entry.is_regular_file() ? 1 : 0;
  }
  CHECK(files == wrong.size());
  // Their maps are torchvision's (the predicted class is the top-1 one).
  write_text(folder / "wrong.jsonl", lines);
  const CommandResult python = run_command(
      std::string(RESNET_CLI_TEST_PYTHON) + " " + RESNET_CLI_SOURCE_DIR +
      "/tests/oracle/explain_reference.py maps '" +
      (folder / "wrong.jsonl").string() + "' '" +
      evaluate_fixture("model.pth").string() + "' resnet18 256 224 ignore");
  INFO(python.err);
  REQUIRE(python.exit_code == 0);
  for (const nlohmann::json& item : nlohmann::json::parse(python.out)) {
    INFO(item.dump());
    CHECK(item["record_index"] == item["top1"]);
    CHECK(item["cam_difference"].get<double>() <= 1e-4);
    CHECK(item["gradcam_difference"].get<double>() <= 1e-4);
    CHECK(item["record_box"] == item["box"]);
  }
}
