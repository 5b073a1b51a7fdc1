// merge: the parts of a sharded run joined into one output, in input order,
// with every input recorded exactly once. The inputs are empty files: the
// scanner lists paths and never reads them.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "commands.h"
#include "exit_codes.h"
#include "run/merge.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;

namespace {

std::string base64_encode(const std::string& bytes) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    unsigned chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(alphabet[(chunk >> 18) & 63]);
    out.push_back(alphabet[(chunk >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? alphabet[(chunk >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? alphabet[chunk & 63] : '=');
  }
  return out;
}

bool is_ascii(const std::string& text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// A record line as classify --format jsonl writes one.
std::string record_line(const std::string& path, bool failed = false) {
  nlohmann::json json;
  json["path"] = path;
  if (!is_ascii(path)) json["path_base64"] = base64_encode(path);
  if (failed) {
    json["error"] = {{"kind", "decode"}, {"message", path + ": broken"}};
  } else {
    json["predictions"] = {{{"rank", 1},
                            {"index", path.size()},
                            {"label", "tabby"},
                            {"score", 0.5}}};
  }
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string lines(const std::vector<std::string>& records) {
  std::string text;
  for (const std::string& record : records) text += record + "\n";
  return text;
}

// A folder of inputs; paths() lists them in scan order (entries in byte
// order, folders scanned where they sort).
struct InputTree {
  std::filesystem::path root = resnet_cli::testing::temp_dir("merge-inputs");
  std::vector<std::string> relative = {"a.jpg", "b/c.png", "b/d.jpg",
                                       "e \xff.jpg", "f.jpg"};

  InputTree() {
    for (const std::string& name : relative) {
      std::filesystem::create_directories((root / name).parent_path());
      std::ofstream(root / name).put('x');
    }
  }
  std::string path(std::size_t i) const {
    return root.string() + "/" + relative.at(i);
  }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < relative.size(); ++i) out.push_back(path(i));
    return out;
  }
  InputOptions inputs() const {
    InputOptions options;
    options.paths = {root.string()};
    return options;
  }
};

// Writes the parts (each a list of record lines, or raw text) and returns
// their file names.
std::vector<std::string> write_parts(const std::filesystem::path& folder,
                                     const std::vector<std::string>& texts) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto name = folder / ("part-" + std::to_string(i) + ".jsonl");
    resnet_cli::testing::write_text(name, texts[i]);
    names.push_back(name.string());
  }
  return names;
}

// The error merge throws, or FAIL; with an output file, through the merge
// command, which writes the file.
Error merge_error(const MergeSettings& settings,
                  const std::string& output_file = "") {
  std::ostringstream out;
  try {
    MergeCommandSettings command;
    command.merge = settings;
    command.output_file = output_file;
    run_merge(command, out);
  } catch (const Error& e) {
    CHECK(out.str().empty());  // nothing is written when a check fails
    return e;
  }
  FAIL("merge accepted the parts");
  return Error(ErrorKind::kMerge, "");
}

}  // namespace

TEST_CASE("merge: records come out in input order, byte for byte", "[merge]") {
  const InputTree tree;
  const auto p = tree.paths();
  const auto folder = resnet_cli::testing::temp_dir("merge-order");
  // Shards hash paths, so a part holds any inputs, in input order.
  MergeSettings settings;
  settings.parts = write_parts(
      folder, {lines({record_line(p[1]), record_line(p[4])}),
               lines({record_line(p[0]), record_line(p[2], /*failed=*/true),
                      record_line(p[3])})});
  settings.inputs = tree.inputs();
  std::ostringstream out;
  const MergeSummary summary = merge_parts(settings, out);
  CHECK(out.str() ==
        lines({record_line(p[0]), record_line(p[1]), record_line(p[2], true),
               record_line(p[3]), record_line(p[4])}));
  CHECK(summary.records == 5);
  CHECK(summary.failed == 1);
  CHECK(summary.incomplete_lines == 0);

  SECTION("without inputs: part by part, nothing checked but repeats") {
    settings.inputs.reset();
    std::ostringstream unchecked;
    merge_parts(settings, unchecked);
    CHECK(unchecked.str() ==
          lines({record_line(p[1]), record_line(p[4]), record_line(p[0]),
                 record_line(p[2], true), record_line(p[3])}));
  }
  SECTION("json: one array laid out as classify --format json") {
    settings.format = OutputFormat::kJson;
    std::ostringstream json;
    merge_parts(settings, json);
    CHECK(json.str() == "[\n" + record_line(p[0]) + ",\n" + record_line(p[1]) +
                            ",\n" + record_line(p[2], true) + ",\n" +
                            record_line(p[3]) + ",\n" + record_line(p[4]) +
                            "\n]\n");
  }
  SECTION("to a file, replaced when complete") {
    const auto output = folder / "merged.jsonl";
    resnet_cli::testing::write_text(output, "previous\n");
    MergeCommandSettings command;
    command.merge = settings;
    command.output_file = output.string();
    std::ostringstream unused;
    CHECK(run_merge(command, unused) == kExitInputFailed);
    CHECK(unused.str().empty());
    CHECK(resnet_cli::testing::read_file(output) == out.str());
  }
}

TEST_CASE("merge: a video's frame records travel with its closing record",
          "[merge]") {
  const auto folder = resnet_cli::testing::temp_dir("merge-video");
  const std::string clip = (folder / "clip.mp4").string();
  const std::string stopped = (folder / "stopped.mp4").string();
  const std::string photo = (folder / "photo.jpg").string();
  for (const std::string& file : {clip, stopped, photo}) {
    std::ofstream(file).put('x');
  }
  const auto frame = [](const std::string& path, int index) {
    return R"({"frame":)" + std::to_string(index) +
           R"(,"kind":"frame","path":")" + path +
           R"(","predictions":[],"time":)" + std::to_string(index) + "}";
  };
  const std::string closing =
      R"({"end":2.0,"frames":2,"kind":"video","path":")" + clip +
      R"(","start":0.0})";
  MergeSettings settings;
  // The clip's frames and its end in part 0; in part 1 a video whose task
  // was stopped inside it (frames, no end), then a photo.
  settings.parts =
      write_parts(folder, {lines({frame(clip, 0), frame(clip, 10), closing}),
                           lines({frame(stopped, 0), record_line(photo)})});
  std::ostringstream out;
  const MergeSummary summary = merge_parts(settings, out);
  CHECK(out.str() ==
        lines({frame(clip, 0), frame(clip, 10), closing, record_line(photo)}));
  CHECK(summary.records == 4);
  SECTION("with --inputs, the stopped video is not recorded") {
    settings.inputs = InputOptions{};
    settings.inputs->paths = {clip, stopped, photo};
    settings.inputs->videos = true;
    const Error error = merge_error(settings);
    CHECK_THAT(error.what(), Catch::Contains(stopped + ": not recorded"));
  }
}

TEST_CASE("merge: an input recorded twice is refused, naming both places",
          "[merge]") {
  const InputTree tree;
  const auto p = tree.paths();
  const auto folder = resnet_cli::testing::temp_dir("merge-twice");
  MergeSettings settings;
  settings.parts =
      write_parts(folder, {lines({record_line(p[0]), record_line(p[1])}),
                           lines({record_line(p[2]), record_line(p[3]),
                                  record_line(p[1]), record_line(p[4])})});
  settings.inputs = tree.inputs();
  const auto output = folder / "merged.jsonl";
  resnet_cli::testing::write_text(output, "previous\n");
  const Error error = merge_error(settings, output.string());
  CHECK(error.kind() == ErrorKind::kMerge);
  CHECK(exit_code_for(error.kind()) == kExitMerge);
  CHECK(std::string(error.what()) ==
        p[1] + ": recorded twice, in " + settings.parts[0] + " line 2 and in " +
            settings.parts[1] +
            " line 3 (each input belongs to one part: were all parts made "
            "with the same inputs and --shard count?)");
  // A failed merge leaves the previous output as it was, and no temporary.
  CHECK(resnet_cli::testing::read_file(output) == "previous\n");
  CHECK(
      resnet_cli::testing::list_dir(folder) ==
      std::vector<std::string>{"merged.jsonl", "part-0.jsonl", "part-1.jsonl"});

  SECTION("also without inputs to check against") {
    settings.inputs.reset();
    CHECK(merge_error(settings).kind() == ErrorKind::kMerge);
  }
  SECTION("a part given twice is named as such") {
    settings.parts = {settings.parts[0], settings.parts[0]};
    const Error twice = merge_error(settings);
    CHECK(twice.kind() == ErrorKind::kUsage);
    CHECK(std::string(twice.what()) ==
          settings.parts[0] + ": given twice as a part");
  }
}

TEST_CASE("merge: an input recorded nowhere is named", "[merge]") {
  const InputTree tree;
  const auto p = tree.paths();
  const auto folder = resnet_cli::testing::temp_dir("merge-missing");
  MergeSettings settings;
  settings.parts =
      write_parts(folder, {lines({record_line(p[0]), record_line(p[4])}),
                           lines({record_line(p[3])})});
  settings.inputs = tree.inputs();
  const Error error = merge_error(settings);
  CHECK(error.kind() == ErrorKind::kMerge);
  CHECK(std::string(error.what()) ==
        p[1] +
            ": not recorded in any part (one of 2 inputs missing); rerun the "
            "task of its shard (--resume continues where it stopped), then "
            "merge again");

  SECTION("a part that is not there") {
    settings.parts.push_back((folder / "part-2.jsonl").string());
    const Error absent = merge_error(settings);
    CHECK(absent.kind() == ErrorKind::kMerge);
    CHECK_THAT(absent.what(), Catch::StartsWith(settings.parts[2] +
                                                ": cannot open: No such file"));
  }
}

TEST_CASE("merge: a record that is not an input is refused", "[merge]") {
  const InputTree tree;
  const auto p = tree.paths();
  const auto folder = resnet_cli::testing::temp_dir("merge-extra");
  const std::string stranger = tree.root.string() + "/elsewhere.jpg";
  MergeSettings settings;
  settings.parts = write_parts(
      folder,
      {lines({record_line(p[0]), record_line(p[1]), record_line(p[2])}),
       lines({record_line(p[3]), record_line(stranger), record_line(p[4])})});
  settings.inputs = tree.inputs();
  const Error error = merge_error(settings);
  CHECK(error.kind() == ErrorKind::kMerge);
  CHECK_THAT(error.what(),
             Catch::StartsWith(stranger + ": recorded in " + settings.parts[1] +
                               " line 2 but not an input"));

  SECTION("inputs narrowed by --ext") {
    settings.parts =
        write_parts(folder, {lines({record_line(p[0]), record_line(p[2]),
                                    record_line(p[3]), record_line(p[4])})});
    settings.inputs->extensions = {"jpg"};
    std::ostringstream out;
    CHECK(merge_parts(settings, out).records == 4);
    settings.inputs->extensions = {"png"};
    CHECK_THAT(merge_error(settings).what(),
               Catch::StartsWith(p[1] + ": not recorded in any part"));
  }
}

TEST_CASE("merge: an incomplete last line is left out, as --resume cuts it",
          "[merge]") {
  const InputTree tree;
  const auto p = tree.paths();
  const auto folder = resnet_cli::testing::temp_dir("merge-partial");
  const std::string cut = record_line(p[2]).substr(0, 20);
  MergeSettings settings;
  settings.parts =
      write_parts(folder, {lines({record_line(p[0]), record_line(p[1])}) + cut,
                           lines({record_line(p[3]), record_line(p[4])})});
  std::ostringstream out;
  const MergeSummary summary = merge_parts(settings, out);
  CHECK(summary.incomplete_lines == 1);
  CHECK(out.str() == lines({record_line(p[0]), record_line(p[1]),
                            record_line(p[3]), record_line(p[4])}));
  // Checked against the inputs, the input it was about is missing.
  settings.inputs = tree.inputs();
  CHECK_THAT(merge_error(settings).what(),
             Catch::StartsWith(p[2] + ": not recorded in any part;"));
}

TEST_CASE("merge: a line that is not a record is refused, naming it",
          "[merge]") {
  const InputTree tree;
  const auto p = tree.paths();
  const auto folder = resnet_cli::testing::temp_dir("merge-garbage");
  for (const std::string& bad :
       {std::string("not json"), std::string("{\"predictions\":[]}"),
        std::string("[1,2]"), std::string()}) {
    INFO(bad);
    MergeSettings settings;
    settings.parts = write_parts(
        folder, {lines({record_line(p[0]), bad, record_line(p[1])})});
    const Error error = merge_error(settings);
    CHECK(error.kind() == ErrorKind::kMerge);
    CHECK_THAT(error.what(),
               Catch::StartsWith(settings.parts[0] +
                                 " line 2: not a resnet-cli record"));
  }
}

TEST_CASE("merge: an empty part, and no records at all", "[merge]") {
  const auto folder = resnet_cli::testing::temp_dir("merge-empty");
  MergeSettings settings;
  settings.parts = write_parts(folder, {"", ""});
  std::ostringstream jsonl;
  CHECK(merge_parts(settings, jsonl).records == 0);
  CHECK(jsonl.str().empty());
  settings.format = OutputFormat::kJson;
  std::ostringstream json;
  merge_parts(settings, json);
  CHECK(json.str() == "[]\n");
  settings.format = OutputFormat::kCsv;
  CHECK(merge_error(settings).kind() == ErrorKind::kUsage);
}
