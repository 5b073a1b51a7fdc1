// Batches: folders, lists, formats, shards, resume, signals and pipes, over
// the oracle's tree of 335 inputs (320 images, broken files, odd names).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "exit_codes.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;
using testing::fixture;
using testing::fixture_env;
using testing::lines_of;
using testing::run_cli;

namespace {

std::string base64_decode(const std::string& text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned chunk = 0;
  int bits = 0;
  for (char c : text) {
    const auto position = alphabet.find(c);
    if (position == std::string::npos) break;
    chunk = (chunk << 6) | static_cast<unsigned>(position);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((chunk >> bits) & 0xFF));
    }
  }
  return out;
}

struct Expected {
  std::string path;
  std::string outcome;  // "ok" or an error kind
};

std::string tree_root() { return fixture("tree").string(); }

// Every input of the tree, in scan order, with the record it must give.
const std::vector<Expected>& tree_inputs() {
  static const std::vector<Expected> inputs = [] {
    const auto tree =
        nlohmann::json::parse(testing::read_file(fixture("tree.json")));
    std::vector<Expected> out;
    for (const auto& entry : tree.at("inputs")) {
      out.push_back({tree_root() + "/" + base64_decode(entry.at("path_base64")),
                     entry.at("expect")});
    }
    return out;
  }();
  return inputs;
}

// What a record says: its path, and "ok" or its error kind.
struct Seen {
  std::string path;
  std::string outcome;
  bool operator==(const Seen& other) const {
    return path == other.path && outcome == other.outcome;
  }
};

}  // namespace

namespace Catch {
template <>
struct StringMaker<Seen> {
  static std::string convert(const Seen& seen) {
    return "{" + seen.path + " " + seen.outcome + "}";
  }
};
}  // namespace Catch

namespace {

Seen seen_from_json(const nlohmann::json& record) {
  Seen seen;
  seen.path = record.contains("path_base64")
                  ? base64_decode(record.at("path_base64"))
                  : record.at("path").get<std::string>();
  seen.outcome = record.contains("error")
                     ? record.at("error").at("kind").get<std::string>()
                     : "ok";
  return seen;
}

std::vector<Seen> parse_jsonl(const std::string& text) {
  std::vector<Seen> out;
  for (const std::string& line : lines_of(text)) {
    out.push_back(seen_from_json(nlohmann::json::parse(line)));
  }
  return out;
}

std::vector<Seen> parse_json(const std::string& text) {
  std::vector<Seen> out;
  for (const auto& record : nlohmann::json::parse(text)) {
    out.push_back(seen_from_json(record));
  }
  return out;
}

// RFC 4180: CRLF rows, quoted fields may hold commas, quotes ("") and line
// breaks.
std::vector<std::vector<std::string>> parse_csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
      ++i;
    } else {
      field.push_back(c);
    }
  }
  REQUIRE(field.empty());
  REQUIRE(row.empty());
  return rows;
}

std::vector<std::vector<std::string>> parse_tsv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : lines_of(text)) {
    std::vector<std::string> row(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\t') {
        row.emplace_back();
      } else if (line[i] == '\\' && i + 1 < line.size()) {
        const char next = line[++i];
        row.back().push_back(next == 't'   ? '\t'
                             : next == 'n' ? '\n'
                             : next == 'r' ? '\r'
                                           : next);
      } else {
        row.back().push_back(line[i]);
      }
    }
    rows.push_back(row);
  }
  return rows;
}

std::vector<Seen> seen_from_rows(
    const std::vector<std::vector<std::string>>& rows, std::size_t columns) {
  REQUIRE(!rows.empty());
  CHECK(rows[0][0] == "path");
  CHECK(rows[0].size() == columns);
  std::vector<Seen> out;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i].size() == columns);
    out.push_back({rows[i][0], rows[i][1] == "ok" ? "ok" : rows[i][2]});
  }
  return out;
}

// How many inputs of the tree must fail.
std::size_t expected_failures() {
  return static_cast<std::size_t>(std::count_if(
      tree_inputs().begin(), tree_inputs().end(),
      [](const Expected& input) { return input.outcome != "ok"; }));
}

std::vector<Seen> expected_records() {
  std::vector<Seen> out;
  for (const Expected& input : tree_inputs())
    out.push_back({input.path, input.outcome});
  return out;
}

// Small crops keep 335 forward passes quick; the tests here are about
// records, and test_cli.cpp checks full-size parity.
std::vector<std::string> tree_command(const std::string& format) {
  return {"classify", tree_root(), "--resize", "64",
          "--crop",   "56",        "--format", format};
}

std::size_t count_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return static_cast<std::size_t>(std::count(std::istreambuf_iterator<char>(in),
                                             std::istreambuf_iterator<char>(),
                                             '\n'));
}

void wait_for_lines(const std::filesystem::path& path, std::size_t lines) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (count_lines(path) < lines) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<float> logits_of(const nlohmann::json& record) {
  std::vector<float> logits(1000);
  for (const auto& prediction : record.at("predictions")) {
    logits.at(prediction.at("index").get<std::size_t>()) =
        prediction.at("score").get<float>();
  }
  return logits;
}

}  // namespace

TEST_CASE("the tree has what the acceptance asks for", "[batch][oracle]") {
  const auto& inputs = tree_inputs();
  CHECK(inputs.size() >= 300);
  std::set<std::string> kinds;
  for (const Expected& input : inputs) kinds.insert(input.outcome);
  CHECK(kinds == std::set<std::string>{"ok", "decode", "empty_file",
                                       "not_found", "unsupported_format"});
}

TEST_CASE("jsonl: one record per input, in scan order", "[batch][oracle]") {
  const auto result = run_cli(tree_command("jsonl"), fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  CHECK(parse_jsonl(result.out) == expected_records());
  // Each failure is also one warning line on stderr.
  CHECK(static_cast<std::size_t>(
            std::count(result.err.begin(), result.err.end(), '\n')) ==
        expected_failures());
}

TEST_CASE("json: one array, one record per input", "[batch][oracle]") {
  const auto result = run_cli(tree_command("json"), fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  CHECK(parse_json(result.out) == expected_records());
}

TEST_CASE("csv: RFC 4180, odd names round-trip byte for byte",
          "[batch][oracle]") {
  auto command = tree_command("csv");
  command.insert(command.end(), {"-k", "3"});
  const auto result = run_cli(command, fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  // path, status, error kind and message; 3 ranks; kind, frame, time
  CHECK(seen_from_rows(parse_csv_rows(result.out), 4 + 3 * 3 + 3) ==
        expected_records());
}

TEST_CASE("tsv: escaped fields, one row per input", "[batch][oracle]") {
  const auto result = run_cli(tree_command("tsv"), fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  CHECK(seen_from_rows(parse_tsv_rows(result.out), 4 + 5 * 3 + 3) ==
        expected_records());
}

TEST_CASE("text: one block per input", "[batch][oracle]") {
  const auto result = run_cli(tree_command("text"), fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  std::size_t tables = 0;
  std::size_t errors = 0;
  for (const std::string& line : lines_of(result.out)) {
    if (line.rfind("  rank  index", 0) == 0) ++tables;
    if (line.rfind("  error (", 0) == 0) ++errors;
  }
  CHECK(tables == tree_inputs().size() - expected_failures());
  CHECK(errors == expected_failures());
}

TEST_CASE("batched scores equal single-image classify", "[batch][oracle]") {
  auto command = tree_command("jsonl");
  command.insert(command.end(),
                 {"--output-type", "logit", "-k", "1000", "-b", "3"});
  const auto result = run_cli(command, fixture_env());
  REQUIRE(result.exit_code == kExitInputFailed);
  std::map<std::string, nlohmann::json> by_path;
  for (const std::string& line : lines_of(result.out)) {
    const auto record = nlohmann::json::parse(line);
    by_path[seen_from_json(record).path] = record;
  }
  const auto& inputs = tree_inputs();
  std::size_t compared = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const bool odd_name = inputs[i].path.find("/names/") != std::string::npos;
    if (inputs[i].outcome != "ok" || (i % 41 != 0 && !odd_name)) continue;
    INFO(inputs[i].path);
    const auto single =
        run_cli({"classify", inputs[i].path, "--resize", "64", "--crop", "56",
                 "--format", "json", "--output-type", "logit", "-k", "1000"},
                fixture_env());
    REQUIRE(single.exit_code == 0);
    const auto alone = logits_of(nlohmann::json::parse(single.out).at(0));
    const auto batched = logits_of(by_path.at(inputs[i].path));
    CHECK(testing::compare(batched, alone).relative() <= 1e-4);
    ++compared;
  }
  CHECK(compared >= 15);
}

TEST_CASE("unordered output gives the same records", "[batch][oracle]") {
  auto command = tree_command("jsonl");
  command.push_back("--unordered");
  const auto result = run_cli(command, fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  auto seen = parse_jsonl(result.out);
  auto expected = expected_records();
  auto by_path = [](const Seen& a, const Seen& b) { return a.path < b.path; };
  std::sort(seen.begin(), seen.end(), by_path);
  std::sort(expected.begin(), expected.end(), by_path);
  CHECK(seen == expected);
}

TEST_CASE("files-from - -0 reads a NUL-separated list from stdin",
          "[batch][oracle]") {
  std::string list;
  std::vector<Seen> expected;
  for (auto it = tree_inputs().rbegin(); it != tree_inputs().rend(); ++it) {
    list += it->path + '\0';
    expected.push_back({it->path, it->outcome});
  }
  auto command = tree_command("jsonl");
  command.erase(command.begin() + 1);  // no folder: the list is the input
  command.insert(command.end(), {"--files-from", "-", "-0"});
  const auto result = run_cli(command, fixture_env(), list);
  CHECK(result.exit_code == kExitInputFailed);
  CHECK(parse_jsonl(result.out) == expected);
}

TEST_CASE("ext picks extensions, case-insensitively", "[batch][oracle]") {
  auto command = tree_command("jsonl");
  command.insert(command.end(), {"--ext", "png,.BMP"});
  const auto result = run_cli(command, fixture_env());
  CHECK(result.exit_code == kExitInputFailed);  // broken/page.png
  std::vector<Seen> expected;
  for (const Expected& input : tree_inputs()) {
    std::string lower = input.path;
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.size() > 4 && (lower.compare(lower.size() - 4, 4, ".png") == 0 ||
                             lower.compare(lower.size() - 4, 4, ".bmp") == 0)) {
      expected.push_back({input.path, input.outcome});
    }
  }
  CHECK(expected.size() > 80);
  CHECK(parse_jsonl(result.out) == expected);
}

TEST_CASE("three shards add up to the whole run, no duplicates",
          "[batch][oracle]") {
  const auto whole = run_cli(tree_command("jsonl"), fixture_env());
  REQUIRE(whole.exit_code == kExitInputFailed);
  std::multiset<std::string> shard_lines;
  for (int shard = 0; shard < 3; ++shard) {
    auto command = tree_command("jsonl");
    command.insert(command.end(), {"--shard", std::to_string(shard) + "/3"});
    const auto part = run_cli(command, fixture_env());
    CHECK((part.exit_code == 0 || part.exit_code == kExitInputFailed));
    const auto lines = lines_of(part.out);
    CHECK(lines.size() > 60);  // a fair split of 335
    shard_lines.insert(lines.begin(), lines.end());
  }
  const auto whole_lines = lines_of(whole.out);
  CHECK(shard_lines ==
        std::multiset<std::string>(whole_lines.begin(), whole_lines.end()));
}

TEST_CASE("a run killed halfway resumes and records every input once",
          "[batch][oracle]") {
  const auto folder = testing::temp_dir("resume");
  const auto output = folder / "run.jsonl";
  std::vector<std::string> command = {"classify", tree_root(), "--resize",
                                      "128",      "--crop",    "112",
                                      "-t",       "1",         "--format",
                                      "jsonl",    "--output",  output.string()};
  testing::CliProcess killed(command, fixture_env(), {});
  wait_for_lines(output, 100);
  killed.send_signal(SIGKILL);
  CHECK(killed.wait().exit_code == 128 + SIGKILL);
  const std::size_t before = count_lines(output);
  CHECK(before < tree_inputs().size());

  // Without --resume an existing output is refused rather than appended to.
  const auto refused = run_cli(command, fixture_env());
  CHECK(refused.exit_code == kExitUsage);
  CHECK_THAT(refused.err, Catch::Contains("--resume"));

  command.push_back("--resume");
  const auto resumed = run_cli(command, fixture_env());
  CHECK(resumed.exit_code == kExitInputFailed);
  const auto seen = parse_jsonl(testing::read_file(output));
  CHECK(seen.size() == tree_inputs().size());
  std::multiset<std::string> paths;
  for (const Seen& record : seen) paths.insert(record.path);
  for (const Expected& input : tree_inputs()) {
    INFO(input.path);
    CHECK(paths.count(input.path) == 1);
  }
  // Resuming a complete run does nothing.
  const auto again = run_cli(command, fixture_env());
  CHECK(again.exit_code == 0);
  CHECK(parse_jsonl(testing::read_file(output)).size() == tree_inputs().size());
}

TEST_CASE("SIGINT writes what is done, closes the JSON and exits 130",
          "[batch][oracle]") {
  testing::CliProcess process({"classify", tree_root(), "--resize", "128",
                               "--crop", "112", "-t", "1", "--format", "json"},
                              fixture_env(), {});
  wait_for_lines(process.stdout_path(), 30);
  process.send_signal(SIGINT);
  const auto result = process.wait();
  CHECK(result.exit_code == 130);
  const auto seen = parse_json(result.out);
  const auto expected = expected_records();
  CHECK(seen.size() >= 30);
  CHECK(seen.size() < expected.size());
  CHECK(seen ==
        std::vector<Seen>(expected.begin(),
                          expected.begin() + static_cast<long>(seen.size())));
  // Off a terminal too: what was written, and how to make a run resumable.
  CHECK_THAT(result.err,
             Catch::Contains("interrupted after " +
                             std::to_string(seen.size()) + " inputs: ") &&
                 Catch::Contains("their records are on stdout (the JSON "
                                 "array closed); to continue an interrupted "
                                 "run, write it with --format jsonl --output "
                                 "FILE and run it again with --resume"));
}

TEST_CASE(
    "SIGINT on a JSON Lines file says the --resume command, which finishes "
    "the run",
    "[batch][oracle]") {
  const auto folder = testing::temp_dir("interrupt-resume");
  const auto output = folder / "run with space.jsonl";
  testing::CliProcess process(
      {"classify", tree_root(), "--resize", "128", "--crop", "112", "-t", "1",
       "-f", "jsonl", "-o", output.string()},
      fixture_env(), {});
  wait_for_lines(output, 30);
  process.send_signal(SIGINT);
  const auto result = process.wait();
  CHECK(result.exit_code == 130);
  const std::string marker = "; continue with: ";
  const std::size_t at = result.err.find(marker);
  REQUIRE(at != std::string::npos);
  CHECK_THAT(result.err, Catch::Contains("their records are in " +
                                         output.string() + marker));
  const std::string resume = result.err.substr(
      at + marker.size(), result.err.find('\n', at) - at - marker.size());
  CHECK_THAT(resume, Catch::StartsWith("resnet-cli classify ") &&
                         Catch::EndsWith(" --resume"));
  // The command as printed, run by a shell with resnet-cli on PATH.
  const auto resumed = testing::run_command(
      "cd '" + std::filesystem::current_path().string() + "' && TORCH_HOME='" +
      fixture("torch_home").string() + "' PATH='" +
      std::filesystem::path(RESNET_CLI_BINARY).parent_path().string() +
      "':\"$PATH\" " + resume + " 2>/dev/null");
  CHECK(resumed.exit_code == kExitInputFailed);
  CHECK(parse_jsonl(testing::read_file(output)).size() == tree_inputs().size());
}

TEST_CASE("a closed pipe ends the run without a word", "[batch][oracle]") {
  const auto folder = testing::temp_dir("pipe");
  const std::string command = "TORCH_HOME='" + fixture("torch_home").string() +
                              "' '" + RESNET_CLI_BINARY + "' classify '" +
                              tree_root() + "/a' --format jsonl 2>'" +
                              (folder / "err").string() + "' | head -1 >'" +
                              (folder / "out").string() + "'";
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK(testing::read_file(folder / "err").empty());
  const auto lines = lines_of(testing::read_file(folder / "out"));
  REQUIRE(lines.size() == 1);
  CHECK(seen_from_json(nlohmann::json::parse(lines[0])).outcome == "ok");
}

TEST_CASE("output files are replaced only when the run completes",
          "[batch][oracle]") {
  const auto folder = testing::temp_dir("atomic");
  const auto output = folder / "out.json";
  testing::write_text(output, "previous results\n");
  const auto image = fixture("images/photo_500x375.jpg").string();
  auto env = fixture_env();
  env["TORCH_HOME"] = (folder / "no-weights-here").string();
  const auto failed = run_cli(
      {"classify", image, "--format", "json", "-o", output.string()}, env);
  CHECK(failed.exit_code == kExitModel);
  CHECK(testing::read_file(output) == "previous results\n");
  const auto done =
      run_cli({"classify", image, "--format", "json", "-o", output.string()},
              fixture_env());
  CHECK(done.exit_code == 0);
  CHECK(done.out.empty());
  CHECK(parse_json(testing::read_file(output)).size() == 1);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{"out.json"});
  const auto not_jsonl = run_cli(
      {"classify", image, "--resume", "-o", output.string()}, fixture_env());
  CHECK(not_jsonl.exit_code == kExitUsage);
}

TEST_CASE("symbolic links: folders followed only with --follow, loops reported",
          "[batch][oracle]") {
  const auto folder = testing::temp_dir("links");
  std::filesystem::create_directories(folder / "real");
  std::filesystem::copy_file(fixture("images/photo_500x375.jpg"),
                             folder / "real/a.jpg");
  std::filesystem::copy_file(fixture("images/gray_300x300.png"),
                             folder / "real/b.png");
  std::filesystem::create_directory_symlink("real", folder / "link");
  std::filesystem::create_directory_symlink("..", folder / "real/loop");
  const std::string root = folder.string();

  const auto plain = run_cli(
      {"classify", root, "--format", "jsonl", "--crop", "56", "--resize", "64"},
      fixture_env());
  CHECK(plain.exit_code == 0);
  CHECK(parse_jsonl(plain.out) ==
        std::vector<Seen>{{root + "/real/a.jpg", "ok"},
                          {root + "/real/b.png", "ok"}});

  const auto followed = run_cli({"classify", root, "--format", "jsonl",
                                 "--crop", "56", "--resize", "64", "--follow"},
                                fixture_env());
  CHECK(followed.exit_code == kExitInputFailed);
  CHECK(parse_jsonl(followed.out) ==
        std::vector<Seen>{{root + "/link/a.jpg", "ok"},
                          {root + "/link/b.png", "ok"},
                          {root + "/link/loop", "symlink_loop"},
                          {root + "/real/a.jpg", "ok"},
                          {root + "/real/b.png", "ok"},
                          {root + "/real/loop", "symlink_loop"}});
}

TEST_CASE("embeddings are the pooled features torchvision computes",
          "[batch][oracle]") {
  const auto image = fixture("images/photo_500x375.jpg").string();
  const auto result = run_cli(
      {"classify", image, "--output-type", "embedding", "--format", "json"},
      fixture_env());
  REQUIRE(result.exit_code == 0);
  const auto record = nlohmann::json::parse(result.out).at(0);
  const auto embedding = record.at("embedding").get<std::vector<float>>();
  const auto expected =
      testing::load_npy(fixture("ref/photo_500x375.jpg.v2.features.npy"))
          .floats();
  CHECK(testing::compare(embedding, expected).relative() <= 1e-4);
  const auto csv = run_cli(
      {"classify", image, "--output-type", "embedding", "--format", "csv"},
      fixture_env());
  const auto rows = parse_csv_rows(csv.out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].size() == 4 + 2048 + 3);  // then kind, frame, time
  CHECK(std::stof(rows[1][4]) == embedding[0]);
}

TEST_CASE("progress and a summary on a terminal's stderr, none otherwise",
          "[batch][oracle]") {
  const std::vector<std::string> command = {
      "classify", tree_root() + "/a", "--format", "jsonl", "--resize",
      "64",       "--crop",           "56"};
  testing::RunOptions on_terminal;
  on_terminal.stderr_on_terminal = true;
  const auto shown =
      testing::CliProcess(command, fixture_env(), on_terminal).wait();
  CHECK(shown.exit_code == 0);
  // In colour, a terminal being the place for it.
  CHECK_THAT(shown.err, Catch::Contains("img/s") &&
                            Catch::Contains("resnet-cli: 138 inputs: "
                                            "\x1b[32m138 ok\x1b[0m, 0 failed"));
  CHECK(lines_of(shown.out).size() == 138);
  // NO_COLOR (no-color.org): the same, without escapes (--color never is
  // test_terminal.cpp's).
  auto no_color_env = fixture_env();
  no_color_env["NO_COLOR"] = "1";
  const auto plain =
      testing::CliProcess(command, no_color_env, on_terminal).wait();
  CHECK(plain.exit_code == 0);
  CHECK_THAT(plain.err,
             Catch::Contains("resnet-cli: 138 inputs: 138 ok, 0 failed") &&
                 !Catch::Contains("\x1b["));

  const auto quiet = run_cli(command, fixture_env());
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
  auto never = command;
  never.insert(never.end(), {"--progress", "never"});
  CHECK(testing::CliProcess(never, fixture_env(), on_terminal)
            .wait()
            .err.empty());
}

TEST_CASE("colour: --color always in a pipe, none by default",
          "[batch][oracle][teach]") {
  const std::string image = fixture("images/photo_500x375.jpg").string();
  const auto plain = run_cli({"classify", image, "--progress", "always",
                              "--resize", "64", "--crop", "56"},
                             fixture_env());
  CHECK(plain.exit_code == 0);
  CHECK_THAT(plain.out + plain.err, !Catch::Contains("\x1b["));
  const auto colored =
      run_cli({"classify", image, "--progress", "always", "--color", "always",
               "--resize", "64", "--crop", "56"},
              fixture_env());
  CHECK(colored.exit_code == 0);
  CHECK_THAT(colored.out, Catch::StartsWith("\x1b[1m" + image + "\x1b[0m\n"));
  // Not a terminal, so no live line: the summary is logged only with -v.
  auto env = fixture_env();
  env["RESNET_CLI_COLOR"] = "always";
  const auto summary =
      run_cli({"-v", "classify", image, "--resize", "64", "--crop", "56"}, env);
  CHECK_THAT(summary.err, Catch::Contains("1 input: \x1b[32m1 ok\x1b[0m"));
}

TEST_CASE("merge: four shards' parts give the single run's output",
          "[batch][merge][oracle]") {
  const auto folder = testing::temp_dir("merge");
  const auto whole = run_cli(tree_command("jsonl"), fixture_env());
  REQUIRE(whole.exit_code == kExitInputFailed);
  std::vector<std::string> parts;
  for (int shard = 0; shard < 4; ++shard) {
    parts.push_back(
        (folder / ("part-" + std::to_string(shard) + ".jsonl")).string());
    auto command = tree_command("jsonl");
    command.insert(command.end(), {"--shard", std::to_string(shard) + "/4",
                                   "--output", parts.back(), "--resume"});
    const auto part = run_cli(command, fixture_env());
    CHECK((part.exit_code == 0 || part.exit_code == kExitInputFailed));
  }

  // --inputs takes one path, so parts may follow it.
  const auto merged = run_cli({"merge", parts[0], "--inputs", tree_root(),
                               parts[1], parts[2], parts[3]},
                              fixture_env());
  CHECK(merged.exit_code == kExitInputFailed);  // as the run: some failed
  CHECK(merged.out == whole.out);

  const auto output = folder / "merged.json";
  const auto as_json =
      run_cli({"merge", parts[0], parts[1], parts[2], parts[3], "--inputs",
               tree_root(), "--format", "json", "-o", output.string()},
              fixture_env());
  CHECK(as_json.exit_code == kExitInputFailed);
  CHECK(as_json.out.empty());
  CHECK(testing::read_file(output) ==
        run_cli(tree_command("json"), fixture_env()).out);

  const auto missing =
      run_cli({"merge", parts[0], parts[1], parts[2], "--inputs", tree_root()},
              fixture_env());
  CHECK(missing.exit_code == kExitMerge);
  CHECK(missing.out.empty());
  CHECK_THAT(missing.err,
             Catch::Contains(": not recorded in any part (one of "));
  CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);

  const auto copy = folder / "copy-of-part-2.jsonl";
  std::filesystem::copy_file(parts[2], copy);
  const auto twice = run_cli({"merge", parts[0], parts[1], parts[2], parts[3],
                              copy.string(), "-o", output.string()},
                             fixture_env());
  CHECK(twice.exit_code == kExitMerge);
  CHECK_THAT(twice.err,
             Catch::Contains(": recorded twice, in " + parts[2] +
                             " line 1 and in " + copy.string() + " line 1"));
  CHECK(std::count(twice.err.begin(), twice.err.end(), '\n') == 1);
}
