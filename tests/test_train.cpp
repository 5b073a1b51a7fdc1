// resnet-cli train against PyTorch training the same network the same way
// (tests/oracle/train_parity.py, run by the oracle's Python at test time),
// and its refusals of bad input.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.h"

namespace fs = std::filesystem;
using resnet_cli::testing::checkpoint_fixture;
using resnet_cli::testing::CliProcess;
using resnet_cli::testing::CommandResult;
using resnet_cli::testing::fixture_env;
using resnet_cli::testing::lines_of;
using resnet_cli::testing::read_file;
using resnet_cli::testing::run_cli;
using resnet_cli::testing::run_command;
using resnet_cli::testing::RunOptions;
using resnet_cli::testing::sha256sum;
using resnet_cli::testing::temp_dir;
using resnet_cli::testing::to_lower;

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

// `train` on resnet18 with 32x32 crops, small enough to train many times:
// `args`, then the base and the feature cache of `dir`.
std::vector<std::string> small_run(const fs::path& dir,
                                   std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  for (const std::string& arg :
       {std::string("--weights-file"), checkpoint_fixture("resnet18").string(),
        std::string("--arch"), std::string("resnet18"), std::string("--resize"),
        std::string("32"), std::string("--crop"), std::string("32"),
        std::string("--cache"), (dir / "cache").string()}) {
    args.push_back(arg);
  }
  return args;
}

// Lines of `text` that contain `part`.
std::size_t count_lines(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (const std::string& line : lines_of(text)) {
    count += line.find(part) != std::string::npos;
  }
  return count;
}

nlohmann::json model_record(const fs::path& model_dir) {
  return nlohmann::json::parse(read_file(model_dir / "model.json"));
}

// Whether a temporary of an atomic write was left in the folder.
bool holds_temporaries(const fs::path& folder) {
  for (const std::string& name : resnet_cli::testing::list_dir(folder)) {
    if (name.find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

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
  // Off a terminal, without -v: the summary line alone.
  CHECK(lines_of(trained.err).size() == 1);
  CHECK_THAT(trained.err,
             Catch::Contains("15 training images, 6 validation, 0 skipped; 3 "
                             "epoch(s) done; best val acc@1 ") &&
                 Catch::Contains("; model in " + out.string()));
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
  // torch.save's container: an OrderedDict, right CRCs, aligned records.
  CHECK(check["ordered_dict"] == true);
  CHECK(check["zip_crc_ok"] == true);
  CHECK(check["zip_aligned"] == true);
  CHECK(check["zip_records"] ==
        nlohmann::json::array({"archive/data.pkl", "archive/version"}));
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

TEST_CASE(
    "train: a broken image is skipped with one warning and counted, "
    "--strict makes it fatal, epoch lines and the summary",
    "[oracle][train]") {
  const fs::path dir = make_data("train-broken");
  const fs::path data = dir / "data";
  resnet_cli::testing::write_text(data / "ants" / "broken.png",
                                  "\x89PNG\r\n\x1a\n not a PNG after all");
  resnet_cli::testing::write_text(data / "bees" / "cut.jpg",
                                  "\xff\xd8\xff\xe0 not a JPEG after all");
  const fs::path out = dir / "m";
  const auto check_skipped = [&](const CommandResult& result) {
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(count_lines(result.err, "broken.png") == 1);
    CHECK(count_lines(result.err, "cut.jpg") == 1);
    CHECK(count_lines(result.err, "warning") == 2);
    CHECK(count_lines(result.err, "epoch 1/2  loss ") == 1);
    CHECK(count_lines(result.err, "epoch 2/2  loss ") == 1);
    CHECK(count_lines(result.err,
                      "15 training images, 6 validation, 2 skipped; 2 "
                      "epoch(s) done; best val acc@1 ") == 1);
    const nlohmann::json record = model_record(out);
    CHECK(record["data"]["skipped"] == 2);
    CHECK(record["data"]["train_images"] == 15);
    CHECK(lines_of(read_file(out / "train.jsonl")).size() == 2);
  };
  const std::vector<std::string> common = {
      data.string(), "--val", (dir / "val").string(), "-o", out.string(),
      "--epochs",    "2"};
  SECTION("cached features, --progress always on a file") {
    auto args = small_run(dir, common);
    args.insert(args.end(), {"--progress", "always"});
    check_skipped(run_cli(args, fixture_env()));
  }
  SECTION("images every epoch (--augment flip), on a terminal") {
    auto args = small_run(dir, common);
    args.insert(args.end(), {"--augment", "flip", "-b", "8"});
    RunOptions options;
    options.stderr_on_terminal = true;
    check_skipped(CliProcess(args, fixture_env(), options).wait());
  }
  SECTION("--strict") {
    auto args = small_run(dir, common);
    args.push_back("--strict");
    const auto result = run_cli(args, fixture_env());
    INFO(result.err);
    CHECK(result.exit_code == 1);
    CHECK(lines_of(result.err).size() == 1);
    CHECK_THAT(result.err, Catch::Contains("broken.png"));
    CHECK(!fs::exists(out / "model.pth"));
  }
}

TEST_CASE(
    "train: an unwritable MODEL_DIR, and a full disk while saving leaves "
    "the previous epoch's checkpoint",
    "[oracle][train]") {
  const fs::path dir = make_data("train-disk");
  const fs::path out = dir / "m";
  const std::vector<std::string> common = {(dir / "data").string(), "--val",
                                           (dir / "val").string(), "-o",
                                           out.string()};
  SECTION("a folder without write permission") {
    const fs::path locked = dir / "locked";
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec |
                                fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read |
                                fs::perms::others_exec);
    RunOptions options;
    options.without_permission_override = true;  // root writes anywhere
    for (const fs::path& target : {locked, locked / "m"}) {
      auto args = small_run(dir, {(dir / "data").string(), "-o",
                                  target.string(), "--epochs", "1"});
      const CommandResult result =
          CliProcess(args, fixture_env(), options).wait();
      INFO(result.err);
      CHECK(result.exit_code == 4);
      CHECK(lines_of(result.err).size() == 1);
      CHECK_THAT(result.err, Catch::Contains(target.string() + ": cannot"));
      CHECK_THAT(to_lower(result.err), Catch::Contains("permission denied"));
    }
    fs::permissions(locked, fs::perms::owner_all);
    CHECK(resnet_cli::testing::list_dir(locked).empty());
  }
  SECTION("writes past RLIMIT_FSIZE fail with EFBIG") {
    auto first = small_run(dir, common);
    first.insert(first.end(), {"--epochs", "1"});
    const auto trained = run_cli(first, fixture_env());
    INFO(trained.err);
    REQUIRE(trained.exit_code == 0);
    const std::string saved = sha256sum(out / "model.pth");

    // Epoch 2's model.pth (45 MB) cannot be written past 1 MiB.
    auto second = small_run(dir, common);
    second.insert(second.end(), {"--epochs", "2", "--resume"});
    RunOptions options;
    options.max_file_bytes = 1 << 20;
    const CommandResult full =
        CliProcess(second, fixture_env(), options).wait();
    INFO(full.err);
    CHECK(full.exit_code == 4);
    CHECK(lines_of(full.err).size() == 1);
    CHECK_THAT(full.err, Catch::Contains((out / "model.pth").string() +
                                         ": write failed: File too large"));
    CHECK(sha256sum(out / "model.pth") == saved);
    CHECK(model_record(out)["progress"]["epochs_done"] == 1);
    CHECK(lines_of(read_file(out / "train.jsonl")).size() == 1);
    CHECK(!holds_temporaries(out));
    const nlohmann::json loaded =
        nlohmann::json::parse(python("load " + out.string()));
    CHECK(loaded["strict"] == true);

    // With room again, --resume continues from epoch 1's checkpoint.
    const auto resumed = run_cli(second, fixture_env());
    INFO(resumed.err);
    CHECK(resumed.exit_code == 0);
    CHECK(lines_of(read_file(out / "train.jsonl")).size() == 2);
  }
}

TEST_CASE(
    "train: Ctrl-C finishes the batch, saves and exits 130, --resume ends "
    "with an uninterrupted run's weights, --force replaces a run",
    "[oracle][train]") {
  const fs::path dir = make_data("train-interrupt");
  const auto args_for = [&](const fs::path& out) {
    return small_run(
        dir, {(dir / "data").string(), "--val", (dir / "val").string(), "-o",
              out.string(), "--train", "layer4", "--augment", "standard",
              "--epochs", "4", "-b", "3", "--seed", "3"});
  };
  const fs::path reference = dir / "reference";
  const auto uninterrupted = run_cli(args_for(reference), fixture_env());
  INFO(uninterrupted.err);
  REQUIRE(uninterrupted.exit_code == 0);

  const fs::path out = dir / "m";
  RunOptions options;
  options.timeout_s = 600;
  CliProcess process(args_for(out), fixture_env(), options);
  // Interrupted once the first epoch is saved, in the middle of the run.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!fs::exists(out / "train.jsonl") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  process.send_signal(SIGINT);
  const CommandResult interrupted = process.wait();
  INFO(interrupted.err);
  REQUIRE(interrupted.exit_code == 130);
  CHECK_THAT(interrupted.err, Catch::Contains("continue with --resume"));
  const nlohmann::json record = model_record(out);
  CHECK(record["progress"]["interrupted"] == true);
  const int epochs_done = record["progress"]["epochs_done"].get<int>();
  CHECK(epochs_done >= 1);
  CHECK(epochs_done < 4);
  CHECK(!holds_temporaries(out));

  auto resume = args_for(out);
  resume.push_back("--resume");
  const auto resumed = run_cli(resume, fixture_env());
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(lines_of(read_file(out / "train.jsonl")).size() == 4);
  CHECK(sha256sum(out / "model.pth") == sha256sum(reference / "model.pth"));
  CHECK(model_record(out)["progress"]["interrupted"] == false);

  // Another run in the same folder: refused, then replaced with --force.
  auto other = small_run(
      dir, {(dir / "data").string(), "-o", out.string(), "--epochs", "1"});
  const auto refused = run_cli(other, fixture_env());
  CHECK(refused.exit_code == 2);
  CHECK(lines_of(refused.err).size() == 1);
  CHECK_THAT(refused.err, Catch::Contains("--force"));
  other.push_back("--force");
  const auto forced = run_cli(other, fixture_env());
  INFO(forced.err);
  CHECK(forced.exit_code == 0);
  CHECK(lines_of(read_file(out / "train.jsonl")).size() == 1);
  CHECK(model_record(out)["recipe"]["train"] == "fc");
}

TEST_CASE(
    "train --augment: the same model.pth for a --seed, another for another",
    "[oracle][train]") {
  const fs::path dir = make_data("train-augment");
  std::vector<std::string> firsts;
  for (const std::string augment : {"flip", "standard"}) {
    const auto model = [&](const std::string& seed, const std::string& name) {
      const fs::path out = dir / (augment + "-" + name);
      const auto result = run_cli(
          small_run(dir, {(dir / "data").string(), "--val-split", "0", "-o",
                          out.string(), "--augment", augment, "--no-shuffle",
                          "--epochs", "1", "-b", "8", "--seed", seed}),
          fixture_env());
      INFO(result.err);
      REQUIRE(result.exit_code == 0);
      return sha256sum(out / "model.pth");
    };
    INFO(augment);
    const std::string first = model("3", "a");
    CHECK(model("3", "b") == first);
    CHECK(model("4", "c") != first);
    firsts.push_back(first);
  }
  CHECK(firsts[0] != firsts[1]);
}

TEST_CASE(
    "train --precision bf16 --threads 1: float32 weights that load strict, "
    "trained otherwise than fp32's",
    "[oracle][train]") {
  const fs::path dir = make_data("train-bf16");
  const auto model = [&](const std::string& precision) {
    const fs::path out = dir / precision;
    const auto result =
        run_cli(small_run(dir, {(dir / "data").string(), "--val-split", "0",
                                "-o", out.string(), "--train", "layer4",
                                "--augment", "flip", "--epochs", "1", "-b", "5",
                                "--precision", precision, "--threads", "1"}),
                fixture_env());
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    const nlohmann::json loaded =
        nlohmann::json::parse(python("load " + out.string()));
    CHECK(loaded["strict"] == true);
    CHECK(loaded["float32"] == true);
    return sha256sum(out / "model.pth");
  };
  CHECK(model("bf16") != model("fp32"));
}

TEST_CASE(
    "train: optimizer.pt is torch.save(optimizer.state_dict()), PyTorch's "
    "SGD and AdamW continue from it as --resume does",
    "[oracle][train]") {
  const fs::path dir = make_data("train-optimizer");
  for (const std::string kind : {"sgd", "adamw"}) {
    INFO(kind);
    const fs::path out = dir / kind;
    const auto train = [&](const std::string& epochs, bool resume) {
      std::vector<std::string> args = {"train",
                                       (dir / "data").string(),
                                       "-o",
                                       out.string(),
                                       "--train",
                                       "fc",
                                       "--optimizer",
                                       kind,
                                       "--lr",
                                       kind == "sgd" ? "0.05" : "0.01",
                                       "--weight-decay",
                                       "1e-4",
                                       "--label-smoothing",
                                       "0",
                                       "--schedule",
                                       "constant",
                                       "-b",
                                       "4",
                                       "--seed",
                                       "5",
                                       "--no-shuffle",
                                       "--epochs",
                                       epochs,
                                       "--val-split",
                                       "0",
                                       "--weights-file",
                                       fixture_path(),
                                       "--cache",
                                       (dir / "cache").string()};
      if (resume) args.push_back("--resume");
      const auto result = run_cli(args, fixture_env());
      INFO(result.err);
      REQUIRE(result.exit_code == 0);
    };
    train("2", false);
    // PyTorch continues for 2 epochs from model.pth and optimizer.pt (and,
    // for SGD, again with a fresh optimizer) before resnet-cli --resume does.
    const nlohmann::json loaded =
        nlohmann::json::parse(python("resume " + dir.string() + " " +
                                     out.string() + " fc " + kind + " 2 4"));
    if (kind == "sgd") {
      python("resume " + dir.string() + " " + out.string() + " fc " + kind +
             " 2 4 fresh");
    }
    CHECK(loaded["type"] == "dict");
    CHECK(loaded["keys"] == nlohmann::json::array({"param_groups", "state"}));
    CHECK(loaded["state_keys"] ==
          (kind == "sgd"
               ? nlohmann::json::array({"momentum_buffer"})
               : nlohmann::json::array({"exp_avg", "exp_avg_sq", "step"})));
    CHECK(loaded["lr"].get<double>() == (kind == "sgd" ? 0.05 : 0.01));
    train("4", true);
    const auto compare = [&](const std::string& expected) {
      return nlohmann::json::parse(
          python("check " + out.string() + " " + (dir / expected).string() +
                 " " + fixture_path() + " " + (dir / "val").string()));
    };
    // Within the fc parity test's bound of PyTorch's continuation; a
    // continuation without the state is far off it.
    const nlohmann::json resumed = compare("resumed-" + kind + ".pth");
    CHECK(resumed["strict"] == true);
    CHECK(resumed["fc"].get<double>() < 1e-4);
    CHECK(resumed["trunk_identical"] == true);
    // (Once: the momentum buffers are what a resume can lose.)
    if (kind == "sgd") {
      CHECK(compare("resumed-fresh-" + kind + ".pth")["fc"].get<double>() >
            1e-3);
    }
  }
}
