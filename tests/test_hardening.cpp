// Broken, hostile and unusual inputs: each gives its record, its kind and
// exit code; none crashes, prints library noise or runs code.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "exit_codes.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;
using testing::checkpoint_fixture;
using testing::fixture;
using testing::fixture_env;
using testing::lines_of;
using testing::run_cli;

namespace {

// path -> "ok" or the error kind, from JSON Lines output.
std::map<std::string, std::string> outcomes(const std::string& jsonl) {
  std::map<std::string, std::string> out;
  for (const std::string& line : lines_of(jsonl)) {
    const auto record = nlohmann::json::parse(line);
    out[record.at("path")] =
        record.contains("error")
            ? record.at("error").at("kind").get<std::string>()
            : "ok";
  }
  return out;
}

const nlohmann::json& corpus() {
  static const nlohmann::json cases =
      nlohmann::json::parse(testing::read_file(fixture("corpus.json")));
  return cases;
}

}  // namespace

TEST_CASE("every corpus file gives the record it should, and nothing else",
          "[hardening][oracle]") {
  const auto result =
      run_cli({"classify", fixture("corpus").string(), "--format", "jsonl",
               "--resize", "64", "--crop", "56"},
              fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  const auto seen = outcomes(result.out);
  REQUIRE(seen.size() == corpus().size());
  std::size_t failures = 0;
  for (const auto& item : corpus()) {
    const std::string path = fixture(item.at("file")).string();
    INFO(path);
    REQUIRE(seen.count(path) == 1);
    CHECK(seen.at(path) == item.at("expect").get<std::string>());
    if (item.at("expect") != "ok") ++failures;
  }
  // One warning line per failure, each naming its file: no raw libjpeg,
  // libpng or OpenCV message.
  const auto warnings = lines_of(result.err);
  CHECK(warnings.size() == failures);
  for (const std::string& line : warnings) {
    CHECK_THAT(line, Catch::StartsWith("resnet-cli: warning: " +
                                       fixture("corpus").string() + "/"));
  }
}

TEST_CASE("PIL agrees with every corpus verdict", "[hardening][oracle]") {
  for (const auto& item : corpus()) {
    INFO(item.at("file"));
    CHECK((item.at("expect") == "ok") == (item.at("pil") == "ok"));
  }
}

TEST_CASE(
    "the pixel limit as PIL: a warning above it, too_large above twice it",
    "[hardening][oracle]") {
  const auto bmp = fixture("corpus/image.bmp").string();  // 300 x 200
  const auto refused =
      run_cli({"classify", bmp, "--format", "jsonl", "--max-pixels", "29999"},
              fixture_env());
  CHECK(refused.exit_code == kExitInputFailed);
  CHECK(outcomes(refused.out).at(bmp) == "too_large");
  CHECK_THAT(refused.err,
             Catch::Contains("300x200 pixels is more than twice the limit of "
                             "29999 (--max-pixels)"));
  const auto warned =
      run_cli({"classify", bmp, "--format", "jsonl", "--max-pixels", "59999"},
              fixture_env());
  CHECK(warned.exit_code == 0);
  CHECK(outcomes(warned.out).at(bmp) == "ok");
  CHECK(lines_of(warned.err) ==
        std::vector<std::string>{
            "resnet-cli: warning: " + bmp +
            ": 300x200 pixels is more than the limit of 59999 (--max-pixels); "
            "decoded anyway, as PIL does below twice the limit"});
  const auto allowed =
      run_cli({"classify", bmp, "--format", "jsonl", "--max-pixels", "60000"},
              fixture_env());
  CHECK(allowed.exit_code == 0);
  CHECK(allowed.err.empty());
}

TEST_CASE(
    "truncated JPEGs fail, or decode with one warning under --allow-truncated",
    "[hardening][oracle]") {
  const auto jpeg = fixture("corpus/truncated.jpg").string();
  const auto strict =
      run_cli({"classify", jpeg, "--format", "jsonl"}, fixture_env());
  CHECK(strict.exit_code == kExitInputFailed);
  CHECK(outcomes(strict.out).at(jpeg) == "decode");
  const auto lenient =
      run_cli({"classify", jpeg, "--format", "jsonl", "--allow-truncated"},
              fixture_env());
  CHECK(lenient.exit_code == 0);
  CHECK(outcomes(lenient.out).at(jpeg) == "ok");
  CHECK(lines_of(lenient.err) ==
        std::vector<std::string>{"resnet-cli: warning: " + jpeg +
                                 ": truncated JPEG, the missing part is grey"});
}

TEST_CASE("unreadable files and symlink loops are records",
          "[hardening][oracle]") {
  const auto folder = testing::temp_dir("unreadable");
  const auto locked = folder / "locked.png";
  std::filesystem::copy_file(fixture("corpus/one_pixel.png"), locked);
  ::chmod(locked.c_str(), 0);
  std::filesystem::create_symlink("loop_b.jpg", folder / "loop_a.jpg");
  std::filesystem::create_symlink("loop_a.jpg", folder / "loop_b.jpg");
  // Run as a user without root's permission override, so the mode applies.
  testing::RunOptions options;
  options.without_permission_override = true;
  const auto result = testing::CliProcess({"classify", locked.string(),
                                           (folder / "loop_a.jpg").string(),
                                           "--format", "jsonl"},
                                          fixture_env(), options)
                          .wait();
  CHECK(result.exit_code == kExitInputFailed);
  const auto seen = outcomes(result.out);
  CHECK(seen.at(locked.string()) == "permission_denied");
  CHECK(seen.at((folder / "loop_a.jpg").string()) == "symlink_loop");
}

TEST_CASE("hostile checkpoints exit 3 with one line and run nothing",
          "[hardening][oracle]") {
  const auto image = fixture("corpus/one_pixel.png").string();
  const auto marker =
      fixture(testing::manifest().at("checkpoints").at("evil_marker"));
  std::filesystem::remove(marker);
  const std::map<std::string, std::string> expected = {
      {"truncated", "not a readable torch.save zip archive"},
      {"not_a_zip", "not a PyTorch checkpoint"},
      {"empty", "file is empty"},
      {"resnet18", "it looks like ResNet18"},
      {"evil_os_system", "refusing global 'os.system'"},
      {"evil_torch_save", "refusing global 'posix.system'"},
      {"huge_length", "length field runs past the end"},
  };
  for (const auto& [key, message] : expected) {
    INFO(key);
    const auto result =
        run_cli({"classify", image, "--arch", "resnet50", "--weights-file",
                 checkpoint_fixture(key).string()},
                fixture_env());
    CHECK(result.exit_code == kExitModel);
    CHECK(result.out.empty());
    CHECK_THAT(result.err,
               Catch::Contains(message) &&
                   Catch::Contains(checkpoint_fixture(key).string()));
    CHECK(lines_of(result.err).size() == 1);
  }
  CHECK_FALSE(std::filesystem::exists(marker));
}
