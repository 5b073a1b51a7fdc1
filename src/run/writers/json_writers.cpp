// The json format (one array, streamed) and the jsonl format (a line per
// record), both of record_json objects.
#include <ostream>

#include "base/json_array.h"
#include "run/record_json.h"
#include "run/record_writer.h"

namespace resnet_cli {

namespace {

class JsonWriter final : public RecordWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out), array_(out) {}
  void write(const Record& record) override {
    array_.element(record_json(record));
    out_.flush();
  }
  void finish() override {
    array_.close();
    out_.flush();
  }

 private:
  std::ostream& out_;
  JsonArrayStream array_;
};

class JsonlWriter final : public RecordWriter {
 public:
  explicit JsonlWriter(std::ostream& out) : out_(out) {}
  void write(const Record& record) override {
    out_ << record_json(record) << '\n';
    out_.flush();
  }
  void finish() override { out_.flush(); }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<RecordWriter> make_json_writer(std::ostream& out) {
  return std::make_unique<JsonWriter>(out);
}

std::unique_ptr<RecordWriter> make_jsonl_writer(std::ostream& out) {
  return std::make_unique<JsonlWriter>(out);
}

}  // namespace resnet_cli
