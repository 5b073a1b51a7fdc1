// Records as JSON: the object classify's json and jsonl formats write, and
// the way back from a written line to the input it records.
//
// Paths are JSON strings, which must be UTF-8: a path that is not valid UTF-8
// is written with its bytes replaced and, beside it, "path_base64" with the
// exact bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "run/record.h"

namespace resnet_cli {

// One record as a single line of JSON (no newline): {"path", ["path_base64"],
// "predictions" ["explain"] | "embedding" | "error"}. "explain" (README:
// Explain) is {"width", "height", "exif_applied", "crop": box, "maps":
// [{"rank", "index", "label", "grid": rows of floats, "box": box or null,
// ["overlay"]}]}, a box being {"left", "top", "right", "bottom"} in the
// input's pixels. A video's frame adds "kind": "frame", "frame" and "time";
// a video's closing record has "kind": "video" and "frames", "start", "end"
// (or "error"), and with the summary "predictions" whose entries carry
// "leads": [[start, end], ...].
std::string record_json(const Record& record);

// The path a record line names: "path_base64" decoded when present, else
// "path"; empty when the line is not a JSON object with a path.
std::string record_path_from_json(std::string_view json_line);

// What --resume and merge need of a written record line.
struct RecordLine {
  std::string path;           // as record_path_from_json
  bool failed = false;        // an error record
  bool closes_input = false;  // not a video's frame (see record.h)
};
// nullopt when the line is not a JSON object with a path.
std::optional<RecordLine> read_record_line(std::string_view json_line);

// Base64 (RFC 4648, padded), as "path_base64" holds bytes.
std::string base64_encode(std::string_view bytes);

}  // namespace resnet_cli
