// resnet-cli train against PyTorch training the same network the same way
// (tests/oracle/train_parity.py, run by the oracle's Python at test time),
// and its refusals of bad input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace fs = std::filesystem;
using resnet_cli::testing::checkpoint_fixture;
using resnet_cli::testing::fixture_env;
using resnet_cli::testing::run_cli;
using resnet_cli::testing::run_command;
using resnet_cli::testing::temp_dir;

namespace {

const std::string kParity =
    std::string(RESNET_CLI_SOURCE_DIR) + "/tests/oracle/train_parity.py";

std::string python(const std::string& arguments) {
  const auto result = run_command(std::string(RESNET_CLI_TEST_PYTHON) + " " +
                                  kParity + " " + arguments);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

// Three class folders of small PNGs, and a validation folder like them.
fs::path make_data(const std::string& name) {
  const fs::path dir = temp_dir(name);
  python("make " + dir.string());
  return dir;
}

std::string fixture_path() { return checkpoint_fixture("zip").string(); }

}  // namespace

TEST_CASE(
    "train --train fc: PyTorch's fc after 3 epochs, loadable strict, "
    "classify --model gives Python's logits",
    "[oracle][train]") {
  const fs::path dir = make_data("train-fc");
  // lr 0.05, weight decay 1e-4, label smoothing 0.1, batch 4, seed 5.
  python("fit " + dir.string() + " " + fixture_path() +
         " fc 3 0.05 1e-4 0.1 4 5");
  const fs::path out = dir / "model";
  const auto trained = run_cli({"train",
                                (dir / "data").string(),
                                "--val",
                                (dir / "val").string(),
                                "-o",
                                out.string(),
                                "--train",
                                "fc",
                                "--epochs",
                                "3",
                                "--lr",
                                "0.05",
                                "--weight-decay",
                                "1e-4",
                                "--label-smoothing",
                                "0.1",
                                "-b",
                                "4",
                                "--seed",
                                "5",
                                "--no-shuffle",
                                "--weights-file",
                                fixture_path(),
                                "--cache",
                                (dir / "cache").string()},
                               fixture_env());
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  for (const char* file :
       {"model.pth", "labels.txt", "model.json", "train.jsonl"}) {
    CHECK(fs::exists(out / file));
  }
  CHECK(resnet_cli::testing::lines_of(
            resnet_cli::testing::read_file(out / "train.jsonl"))
            .size() == 3);

  const nlohmann::json check = nlohmann::json::parse(python(
      "check " + out.string() + " " + (dir / "expected-fc.pth").string() + " " +
      fixture_path() + " " + (dir / "val").string()));
  CHECK(check["strict"] == true);
  CHECK(check["keys_in_order"] == true);
  CHECK(check["fc"].get<double>() < 1e-4);
  CHECK(check["trunk_identical"] == true);
  CHECK(check["layer4_identical"] == true);

  // Python's logits of the validation images, from model.pth.
  const auto classified =
      run_cli({"classify", "--model", out.string(), "--output-type", "logit",
               "-k", "3", "-f", "jsonl", (dir / "val").string()},
              fixture_env());
  INFO(classified.err);
  REQUIRE(classified.exit_code == 0);
  int compared = 0;
  for (const std::string& line :
       resnet_cli::testing::lines_of(classified.out)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    const std::string path =
        fs::absolute(record["path"].get<std::string>()).string();
    const std::vector<float> expected =
        check["logits"].at(path).get<std::vector<float>>();
    std::vector<float> actual(expected.size());
    for (const auto& prediction : record["predictions"]) {
      actual.at(prediction["index"].get<std::size_t>()) =
          prediction["score"].get<float>();
    }
    CHECK(resnet_cli::testing::compare(actual, expected).relative() < 1e-4);
    ++compared;
  }
  CHECK(compared == 6);

  // A second run with other hyper-parameters reads every feature from the
  // cache; a folder holding a run is refused without --force.
  const auto again = run_cli(
      {"train", (dir / "data").string(), "-o", out.string(), "--epochs", "1",
       "--weights-file", fixture_path(), "--cache", (dir / "cache").string()},
      fixture_env());
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("--resume"));
  const auto forced = run_cli(
      {"train", (dir / "data").string(), "--val", (dir / "val").string(), "-o",
       out.string(), "--epochs", "1", "--force", "--weights-file",
       fixture_path(), "--cache", (dir / "cache").string(), "-v"},
      fixture_env());
  INFO(forced.err);
  CHECK(forced.exit_code == 0);
}

TEST_CASE("train: bad data and output folders, one line and exit code",
          "[oracle][train]") {
  const fs::path dir = make_data("train-bad");
  const fs::path data = dir / "data";
  const auto train = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "train");
    args.push_back("--weights-file");
    args.push_back(fixture_path());
    return run_cli(args, fixture_env());
  };
  const auto one_line = [](const std::string& err) {
    return resnet_cli::testing::lines_of(err).size() == 1;
  };

  SECTION("DATA is not a folder") {
    const auto result = train(
        {(data / "ants" / "000.png").string(), "-o", (dir / "m").string()});
    CHECK(result.exit_code == 2);
    CHECK(one_line(result.err));
    CHECK_THAT(result.err, Catch::Contains("not a folder"));
  }
  SECTION("a single class") {
    fs::create_directories(dir / "one");
    fs::copy(data / "ants", dir / "one" / "ants");
    const auto result =
        train({(dir / "one").string(), "-o", (dir / "m").string()});
    CHECK(result.exit_code == 2);
    CHECK(one_line(result.err));
    CHECK_THAT(result.err, Catch::Contains("at least two"));
  }
  SECTION("a class folder without images") {
    fs::create_directories(data / "empty");
    const auto result = train({data.string(), "-o", (dir / "m").string()});
    CHECK(result.exit_code == 2);
    CHECK(one_line(result.err));
    CHECK_THAT(result.err, Catch::Contains("empty"));
    CHECK_THAT(result.err, Catch::Contains("without images"));
  }
  SECTION("validation classes that differ") {
    fs::rename(dir / "val" / "wasps", dir / "val" / "hornets");
    const auto result = train({data.string(), "--val", (dir / "val").string(),
                               "-o", (dir / "m").string()});
    CHECK(result.exit_code == 2);
    CHECK(one_line(result.err));
    CHECK_THAT(result.err, Catch::Contains("hornets"));
  }
  SECTION("MODEL_DIR that cannot be a folder") {
    resnet_cli::testing::write_text(dir / "file", "x");
    const auto result =
        train({data.string(), "-o", (dir / "file" / "m").string()});
    CHECK(result.exit_code == 4);
    CHECK(one_line(result.err));
  }
  SECTION("--resume without a run") {
    const auto result =
        train({data.string(), "-o", (dir / "m").string(), "--resume"});
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains("no training run"));
  }
}

TEST_CASE(
    "train --train layer4: PyTorch's layer4, BatchNorm statistics and "
    "fc after 1 epoch",
    "[oracle][train]") {
  const fs::path dir = make_data("train-layer4");
  python("fit " + dir.string() + " " + fixture_path() +
         " layer4 1 0.05 1e-4 0.1 4 5");
  const fs::path out = dir / "model";
  const auto trained = run_cli({"train",
                                (dir / "data").string(),
                                "--val",
                                (dir / "val").string(),
                                "-o",
                                out.string(),
                                "--train",
                                "layer4",
                                "--epochs",
                                "1",
                                "--lr",
                                "0.05",
                                "--weight-decay",
                                "1e-4",
                                "--label-smoothing",
                                "0.1",
                                "-b",
                                "4",
                                "--seed",
                                "5",
                                "--no-shuffle",
                                "--weights-file",
                                fixture_path()},
                               fixture_env());
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  const nlohmann::json check = nlohmann::json::parse(python(
      "check " + out.string() + " " + (dir / "expected-layer4.pth").string() +
      " " + fixture_path() + " " + (dir / "val").string()));
  CHECK(check["strict"] == true);
  CHECK(check["fc"].get<double>() < 1e-3);
  CHECK(check["layer4"].get<double>() < 1e-3);
  CHECK(check["layer4_running"].get<double>() < 1e-3);
  CHECK(check["trunk_identical"] == true);
  CHECK(check["layer4_identical"] == false);
}
