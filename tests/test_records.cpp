// Records and their formats, unit by unit: softmax and top-k, each writer,
// JSON array framing and reading JSON Lines back.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/json_array.h"
#include "base/jsonl_reader.h"
#include "run/predictions.h"
#include "run/record_json.h"
#include "run/record_writer.h"
#include "test_support.h"

using namespace resnet_cli;

namespace {

Record ok_record(const std::string& path) {
  Record record;
  record.path = path;
  record.predictions = {{1, 7, "cat", 0.75}, {2, 2, "dog, \"big\"", 0.25}};
  return record;
}

Record failed_record(const std::string& path) {
  Record record;
  record.path = path;
  record.error = RecordError{ErrorKind::kDecode, path + ": not an image"};
  return record;
}

std::string write_all(const WriterOptions& options,
                      const std::vector<Record>& records) {
  std::ostringstream out;
  const auto writer = make_record_writer(options, out);
  for (const Record& record : records) writer->write(record);
  writer->finish();
  return out.str();
}

WriterOptions with_format(OutputFormat format, int topk = 2) {
  WriterOptions options;
  options.format = format;
  options.topk = topk;
  return options;
}

}  // namespace

TEST_CASE("softmax is torch.softmax in double", "[records]") {
  const float logits[] = {1.0f, 2.0f, 3.0f};
  const std::vector<double> p = softmax(logits, 3);
  const double sum = std::exp(-2.0) + std::exp(-1.0) + 1.0;
  REQUIRE(p.size() == 3);
  CHECK(p[0] == Approx(std::exp(-2.0) / sum).epsilon(1e-15));
  CHECK(p[2] == Approx(1.0 / sum).epsilon(1e-15));
  // Shifted by the maximum: huge logits do not overflow.
  const float huge[] = {1000.0f, 1000.0f};
  CHECK(softmax(huge, 2) == std::vector<double>{0.5, 0.5});
  CHECK(softmax(logits, 0).empty());
}

TEST_CASE("top-k: best first, ties to the lower index, k clamped",
          "[records]") {
  const float logits[] = {0.5f, 2.0f, 2.0f, -1.0f};
  const std::vector<std::string> labels = {"a", "b"};
  const auto top = top_predictions(logits, 4, 3, OutputType::kLogit, labels);
  REQUIRE(top.size() == 3);
  CHECK(top[0].index == 1);
  CHECK(top[0].label == "b");
  CHECK(top[0].rank == 1);
  CHECK(top[1].index == 2);
  CHECK(top[1].label == "2");  // no label: the index
  CHECK(top[2].index == 0);
  CHECK(top[0].score == 2.0);
  CHECK(top_predictions(logits, 4, 99, OutputType::kLogit, labels).size() == 4);
  CHECK(top_predictions(logits, 4, 0, OutputType::kLogit, labels).empty());

  const auto probabilities =
      top_predictions(logits, 4, 4, OutputType::kProbability, labels);
  const std::vector<double> expected = softmax(logits, 4);
  double sum = 0;
  for (const Prediction& p : probabilities) {
    CHECK(p.score == float_for_json(static_cast<float>(
                         expected[static_cast<std::size_t>(p.index)])));
    sum += p.score;
  }
  CHECK(sum == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("scores print as the shortest text of their float", "[records]") {
  CHECK(float_text(0.1f) == "0.1");
  CHECK(float_text(-2.5f) == "-2.5");
  CHECK(float_for_json(0.1f) == 0.1);
  CHECK(static_cast<float>(float_for_json(1.0f / 3.0f)) == 1.0f / 3.0f);
}

TEST_CASE("text writer: a table per input, errors in one line", "[records]") {
  const std::string text =
      write_all(with_format(OutputFormat::kText),
                {ok_record("a.jpg"), failed_record("b.jpg")});
  CHECK(text ==
        "a.jpg\n"
        "  rank  index      prob  label\n"
        "     1      7    0.7500  cat\n"
        "     2      2    0.2500  dog, \"big\"\n"
        "\n"
        "b.jpg\n"
        "  error (decode): b.jpg: not an image\n");
}

TEST_CASE("json writer: one array, streamed", "[records]") {
  const std::string json = write_all(with_format(OutputFormat::kJson),
                                     {ok_record("a.jpg"), failed_record("b")});
  CHECK(json == "[\n" + record_json(ok_record("a.jpg")) + ",\n" +
                    record_json(failed_record("b")) + "\n]\n");
  const auto parsed = nlohmann::json::parse(json);
  CHECK(parsed[0]["predictions"][1]["label"] == "dog, \"big\"");
  CHECK(parsed[1]["error"]["kind"] == "decode");
  CHECK(write_all(with_format(OutputFormat::kJson), {}) == "[]\n");
}

TEST_CASE("jsonl writer: a line per record", "[records]") {
  const std::string jsonl = write_all(with_format(OutputFormat::kJsonl),
                                      {ok_record("a"), failed_record("b")});
  CHECK(jsonl == record_json(ok_record("a")) + "\n" +
                     record_json(failed_record("b")) + "\n");
  CHECK(write_all(with_format(OutputFormat::kJsonl), {}).empty());
}

TEST_CASE("csv and tsv writers: a header and a row per input", "[records]") {
  const std::string csv = write_all(with_format(OutputFormat::kCsv),
                                    {ok_record("x,y.jpg"), failed_record("b")});
  CHECK(csv ==
        "path,status,error_kind,error_message,index_1,label_1,score_1,"
        "index_2,label_2,score_2,kind,frame,time\r\n"
        "\"x,y.jpg\",ok,,,7,cat,0.75,2,\"dog, \"\"big\"\"\",0.25,image,,\r\n"
        "b,error,decode,b: not an image,,,,,,,image,,\r\n");
  const std::string tsv =
      write_all(with_format(OutputFormat::kTsv, 1), {ok_record("tab\there\\")});
  CHECK(tsv ==
        "path\tstatus\terror_kind\terror_message\tindex_1\tlabel_1\tscore_1\t"
        "kind\tframe\ttime\n"
        "tab\\there\\\\\tok\t\t\t7\tcat\t0.75\timage\t\t\n");
  CHECK(write_all(with_format(OutputFormat::kCsv, 1), {}) ==
        "path,status,error_kind,error_message,index_1,label_1,score_1,kind,"
        "frame,time\r\n");
}

TEST_CASE("embeddings in every format", "[records]") {
  Record record;
  record.path = "e.jpg";
  record.embedding = {0.5f, -1.25f};
  WriterOptions options = with_format(OutputFormat::kCsv);
  options.output_type = OutputType::kEmbedding;
  options.embedding_size = 2;
  CHECK(write_all(options, {record}) ==
        "path,status,error_kind,error_message,e0,e1,kind,frame,time\r\n"
        "e.jpg,ok,,,0.5,-1.25,image,,\r\n");
  options.format = OutputFormat::kText;
  CHECK(write_all(options, {record}) == "e.jpg\n  embedding (2): 0.5 -1.25\n");
  CHECK(record_json(record) == R"({"embedding":[0.5,-1.25],"path":"e.jpg"})");
}

TEST_CASE("a path that is not UTF-8 keeps its bytes in path_base64",
          "[records]") {
  const std::string path = std::string("caf\xe9.jpg");
  const std::string line = record_json(failed_record(path));
  const auto json = nlohmann::json::parse(line);
  CHECK(json["path_base64"] == "Y2Fm6S5qcGc=");
  CHECK(record_path_from_json(line) == path);
  CHECK(record_path_from_json(record_json(ok_record("plain.jpg"))) ==
        "plain.jpg");
  CHECK(record_path_from_json("not json").empty());
  CHECK(record_path_from_json("[1,2]").empty());
}

TEST_CASE("JSON array framing", "[records]") {
  std::ostringstream out;
  JsonArrayStream array(out);
  array.element("1");
  array.element("{\"a\":2}");
  array.close();
  CHECK(out.str() == "[\n1,\n{\"a\":2}\n]\n");
  CHECK(array.count() == 2);
  std::ostringstream empty;
  JsonArrayStream none(empty);
  none.close();
  CHECK(empty.str() == "[]\n");
}

TEST_CASE("JSON Lines read back: offsets, and a torn last line left out",
          "[records]") {
  const auto folder = testing::temp_dir("jsonl-reader");
  const auto file = folder / "run.jsonl";
  testing::write_text(file, "{\"path\":\"a\"}\n\n{\"path\":\"b\"}\n{\"pa");
  JsonlReader reader(file);
  REQUIRE(reader.is_open());
  std::vector<JsonlLine> lines;
  for (JsonlLine line; reader.next(line);) lines.push_back(line);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].text == "{\"path\":\"a\"}");
  CHECK(lines[0].number == 1);
  CHECK(lines[0].offset == 0);
  CHECK(lines[1].text.empty());
  CHECK(lines[2].offset == 14);
  CHECK(lines[2].number == 3);
  CHECK(reader.complete_bytes() == 27);
  CHECK(reader.torn_bytes() == 4);
  CHECK_FALSE(reader.failed());

  testing::write_text(file, "{\"path\":\"a\"}\n");
  JsonlReader whole(file);
  JsonlLine line;
  CHECK(whole.next(line));
  CHECK_FALSE(whole.next(line));
  CHECK(whole.torn_bytes() == 0);
  CHECK_FALSE(JsonlReader(folder / "missing.jsonl").is_open());
}
