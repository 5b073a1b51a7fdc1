// report in a real browser: Debian's headless Chromium renders the page of
// a classify run over the test tree and of an evaluate run; the DOM after
// its script ran has a card per record and an error card per failed input,
// a screenshot is not blank, and the evaluate page shows the matrix. The
// report command never loads LibTorch.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_support.h"

using namespace resnet_cli::testing;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

std::string chromium(const std::string& arguments) {
  const CommandResult run = run_command(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu "
      "--hide-scrollbars " +
      arguments + " 2>/dev/null");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  return run.out;
}

// Distinct colours of a PNG, counted by PIL (the oracle's Python).
int distinct_colours(const std::filesystem::path& png) {
  const CommandResult run = run_command(
      std::string(RESNET_CLI_TEST_PYTHON) +
      " -c \"import sys; from PIL import Image; "
      "print(len(set(Image.open(sys.argv[1]).convert('RGB').getdata())))\" '" +
      png.string() + "'");
  REQUIRE(run.exit_code == 0);
  return std::stoi(run.out);
}

}  // namespace

TEST_CASE("report: Chromium shows a card per record of a classify run",
          "[report]") {
  const auto folder = temp_dir("report");
  const auto results = folder / "tree.jsonl";
  const CommandResult classify =
      run_cli({"classify", fixture("tree").string(), "--format", "jsonl", "-o",
               results.string(), "--progress", "never", "-q"},
              fixture_env());
  REQUIRE((classify.exit_code == 0 || classify.exit_code == 1));
  const std::vector<std::string> lines = lines_of(read_file(results));
  std::size_t failed = 0;
  for (const std::string& line : lines) {
    failed += nlohmann::json::parse(line).contains("error") ? 1 : 0;
  }
  REQUIRE(failed > 0);

  // One image moved away since: a placeholder, not a failure.
  const auto html = folder / "report.html";
  const auto moved = folder / "moved.jsonl";
  write_text(
      moved,
      read_file(results) + R"({"path":")" + (folder / "gone.jpg").string() +
          R"(","predictions":[{"rank":1,"index":0,"label":"tench","score":0.9}]})" +
          "\n");
  const CommandResult report = run_cli(
      {"report", moved.string(), "-o", html.string(), "--thumbnail-size", "96"},
      {{"LD_DEBUG", "libs"}});
  INFO(report.err);
  CHECK(report.exit_code == 0);
#ifdef RESNET_CLI_MODEL_MODULE
  // The dynamic loader's own trace: LibTorch was never initialised.
  CHECK_THAT(report.err,
             Catch::Contains("calling init") && !Catch::Contains("libtorch"));
#endif
  const std::string page = read_file(html);
  CHECK_THAT(page, !Catch::Contains("http://") && !Catch::Contains("https://"));

  const std::string dom = chromium("--dump-dom 'file://" + html.string() + "'");
  CHECK(count_of(dom, "class=\"card record\"") == lines.size() + 1 - failed);
  CHECK(count_of(dom, "class=\"card error\"") == failed);
  CHECK(count_of(dom, "<img loading=\"lazy\"") == lines.size() - failed);
  CHECK(count_of(dom, "image not found") == 1);

  const auto png = folder / "report.png";
  chromium("--screenshot='" + png.string() +
           "' --window-size=1000,1400 'file://" + html.string() + "'");
  CHECK(distinct_colours(png) > 1000);
}

TEST_CASE("report: an evaluate run shows the confusion matrix", "[report]") {
  const auto folder = temp_dir("report-evaluate");
  const auto fixture_dir =
      std::filesystem::path(RESNET_CLI_EVALUATE_FIXTURE_DIR);
  const auto results = folder / "evaluation.json";
  const CommandResult evaluate =
      run_cli({"evaluate", (fixture_dir / "data").string(), "--weights-file",
               (fixture_dir / "model.pth").string(), "--arch", "resnet18", "-f",
               "json", "-o", results.string(), "-q"},
              fixture_env());
  REQUIRE(evaluate.exit_code == 1);  // the broken JPEG
  const auto json = nlohmann::json::parse(read_file(results));
  const auto html = folder / "report.html";
  REQUIRE(
      run_cli({"report", results.string(), "-o", html.string()}).exit_code ==
      0);
  const std::string dom = chromium("--dump-dom 'file://" + html.string() + "'");
  const auto table_at = dom.find("id=\"confusion\"");
  REQUIRE(table_at != std::string::npos);
  const std::string table =
      dom.substr(table_at, dom.find("</table>", table_at) - table_at);
  // 3 rows of 3 cells, the matrix's counts in order.
  std::vector<std::string> cells;
  const std::regex cell("<td style=\"background:[^\"]*\">([0-9]+)</td>");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), cell);
       it != std::sregex_iterator(); ++it) {
    cells.push_back((*it)[1]);
  }
  std::vector<std::string> expected;
  for (const auto& row : json["confusion"]["matrix"]) {
    for (const auto& count : row) expected.push_back(count.dump());
  }
  CHECK(cells == expected);
  // The misclassified gallery, and the broken input's card.
  CHECK(count_of(dom, "class=\"card record\"") == json["misclassified"].size());
  CHECK(count_of(dom, "class=\"card error\"") == 1);

  CHECK_THAT(run_cli({"report", results.string()}).err,
             Catch::Contains("give -o FILE.html"));
  write_text(folder / "embedding.jsonl", R"({"path":"a.jpg","embedding":[1,2]})"
                                         "\n");
  const CommandResult refused = run_cli(
      {"report", (folder / "embedding.jsonl").string(), "-o", html.string()});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("holds embeddings"));
}

TEST_CASE("report: a run with explain's maps shows them over the thumbnails",
          "[report]") {
  const auto folder = temp_dir("report-explain");
  const auto results = folder / "explained.jsonl";
  std::vector<std::string> args = {"classify"};
  for (const char* name : {"photo_500x375.jpg", "photo_375x500.jpg",
                           "exif_rot6_400x300.jpg", "palette_333x222.png"}) {
    args.push_back(fixture(std::string("images/") + name).string());
  }
  args.insert(args.end(), {"--explain", "--exif", "apply", "--format", "jsonl",
                           "-o", results.string(), "-q"});
  REQUIRE(run_cli(args, fixture_env()).exit_code == 0);
  // One record without maps: a card without a heat map.
  const std::string plain = R"({"path":")" +
                            fixture("images/photo_640x480.png").string() +
                            R"(","predictions":[{"rank":1,"index":0,)"
                            R"("label":"tench","score":0.9}]})";
  write_text(folder / "all.jsonl", read_file(results) + plain + "\n");
  const auto html = folder / "report.html";
  REQUIRE(
      run_cli({"report", (folder / "all.jsonl").string(), "-o", html.string()})
          .exit_code == 0);
  const std::string dom = chromium("--dump-dom 'file://" + html.string() + "'");
  CHECK(count_of(dom, "class=\"card record\"") == 5);
  CHECK(count_of(dom, "<img class=\"heat\"") == 4);
  CHECK(count_of(dom, "src=\"data:image/jpeg;base64,") == 9);
  CHECK(count_of(dom, "id=\"heatmaps\"") == 1);
  // With #heatmaps every map shows: the page looks different.
  const auto without = folder / "without.png";
  const auto with = folder / "with.png";
  chromium("--screenshot='" + without.string() +
           "' --window-size=1000,700 'file://" + html.string() + "'");
  chromium("--screenshot='" + with.string() +
           "' --window-size=1000,700 'file://" + html.string() + "#heatmaps'");
  CHECK(sha256sum(without) != sha256sum(with));
  CHECK(distinct_colours(with) > 1000);
}
