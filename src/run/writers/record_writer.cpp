#include "run/record_writer.h"

namespace resnet_cli {

std::unique_ptr<RecordWriter> make_record_writer(const WriterOptions& options,
                                                 std::ostream& out) {
  switch (options.format) {
    case OutputFormat::kJson:
      return make_json_writer(out);
    case OutputFormat::kJsonl:
      return make_jsonl_writer(out);
    case OutputFormat::kCsv:
    case OutputFormat::kTsv:
      return make_delimited_writer(options, out);
    case OutputFormat::kText:
      break;
  }
  return make_text_writer(options.output_type, out, options.color);
}

}  // namespace resnet_cli
