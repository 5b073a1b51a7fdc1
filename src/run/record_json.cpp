#include "run/record_json.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "run/predictions.h"

namespace resnet_cli {

namespace {

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t j = 1; j < length; ++j) {
      const auto next = static_cast<unsigned char>(text[i + j]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < minimum[length] || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kBase64[(chunk >> 18) & 63]);
    out.push_back(kBase64[(chunk >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64[(chunk >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kBase64[chunk & 63] : '=');
  }
  return out;
}

namespace {

std::string base64_decode(std::string_view text) {
  std::string out;
  std::uint32_t chunk = 0;
  int bits = 0;
  for (char c : text) {
    const char* found = std::strchr(kBase64, c);
    if (c == '=' || !found || c == '\0') break;
    chunk = (chunk << 6) | static_cast<std::uint32_t>(found - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((chunk >> bits) & 0xFF));
    }
  }
  return out;
}

nlohmann::json box_json(const PixelBox& box) {
  return {{"left", box.left},
          {"top", box.top},
          {"right", box.right},
          {"bottom", box.bottom}};
}

nlohmann::json explanation_json(const Explanation& explanation) {
  nlohmann::json maps = nlohmann::json::array();
  for (const ClassMap& map : explanation.maps) {
    nlohmann::json grid = nlohmann::json::array();
    for (int r = 0; r < map.rows; ++r) {
      nlohmann::json row = nlohmann::json::array();
      for (int c = 0; c < map.columns; ++c) {
        row.push_back(float_for_json(
            map.grid[static_cast<std::size_t>(r) * map.columns + c]));
      }
      grid.push_back(std::move(row));
    }
    nlohmann::json item = {{"rank", map.rank},
                           {"index", map.index},
                           {"label", map.label},
                           {"grid", std::move(grid)},
                           {"box", map.box ? box_json(*map.box) : nullptr}};
    if (!map.overlay.empty()) item["overlay"] = map.overlay;
    maps.push_back(std::move(item));
  }
  return {{"width", explanation.image_width},
          {"height", explanation.image_height},
          {"exif_applied", explanation.exif_applied},
          {"crop", box_json(explanation.crop)},
          {"maps", std::move(maps)}};
}

nlohmann::json prediction_objects(const Record& record) {
  nlohmann::json predictions = nlohmann::json::array();
  for (std::size_t i = 0; i < record.predictions.size(); ++i) {
    const Prediction& prediction = record.predictions[i];
    nlohmann::json object = {{"rank", prediction.rank},
                             {"index", prediction.index},
                             {"label", prediction.label},
                             {"score", prediction.score}};
    if (record.video && i < record.video->leads.size()) {
      nlohmann::json ranges = nlohmann::json::array();
      for (const TimeRange& range : record.video->leads[i]) {
        ranges.push_back({range.start, range.end});
      }
      object["leads"] = std::move(ranges);
    }
    predictions.push_back(std::move(object));
  }
  return predictions;
}

nlohmann::json record_object(const Record& record) {
  nlohmann::json json;
  json["path"] = record.path;
  if (!is_valid_utf8(record.path)) {
    json["path_base64"] = base64_encode(record.path);
  }
  if (record.frame) {
    json["kind"] = "frame";
    json["frame"] = record.frame->index;
    json["time"] = record.frame->time;
  }
  if (record.video || record.video_error) json["kind"] = "video";
  if (record.video) {
    json["frames"] = record.video->frames;
    json["start"] = record.video->start;
    json["end"] = record.video->end;
    if (!record.video->summary) return json;
  }
  if (record.error) {
    json["error"] = {{"kind", std::string(error_kind_name(record.error->kind))},
                     {"message", record.error->message}};
    return json;
  }
  if (!record.embedding.empty()) {
    nlohmann::json values = nlohmann::json::array();
    for (float value : record.embedding)
      values.push_back(float_for_json(value));
    json["embedding"] = std::move(values);
    return json;
  }
  json["predictions"] = prediction_objects(record);
  if (record.explanation)
    json["explain"] = explanation_json(*record.explanation);
  return json;
}

std::string dump(const nlohmann::json& json) {
  // Messages may quote non-UTF-8 paths; replace what is not UTF-8 there
  // rather than fail (the path itself is also in path_base64).
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string record_json(const Record& record) {
  return dump(record_object(record));
}

namespace {

std::string path_of(const nlohmann::json& json) {
  if (!json.is_object()) return {};
  if (auto encoded = json.find("path_base64");
      encoded != json.end() && encoded->is_string()) {
    return base64_decode(encoded->get<std::string>());
  }
  if (auto path = json.find("path"); path != json.end() && path->is_string()) {
    return path->get<std::string>();
  }
  return {};
}

}  // namespace

std::string record_path_from_json(std::string_view json_line) {
  return path_of(
      nlohmann::json::parse(json_line, nullptr, /*allow_exceptions=*/false));
}

std::optional<RecordLine> read_record_line(std::string_view json_line) {
  const nlohmann::json json =
      nlohmann::json::parse(json_line, nullptr, /*allow_exceptions=*/false);
  RecordLine line;
  line.path = path_of(json);
  if (line.path.empty()) return std::nullopt;
  line.failed = json.contains("error");
  line.closes_input = !json.contains("frame");
  return line;
}

}  // namespace resnet_cli
