#include "report/report.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <thread>

#include "base/cpu.h"
#include "base/error.h"
#include "base/jsonl_reader.h"
#include "image/decode.h"
#include "image/heatmap.h"
#include "image/jpeg_encode.h"
#include "image/preprocess.h"
#include "report/film_strip.h"
#include "report/html.h"
#include "run/image_step.h"
#include "run/record_json.h"

namespace resnet_cli {

namespace {

using detail::escape;
using detail::jpeg_data_uri;
using detail::number;
using detail::thumbnail_image;
using nlohmann::json;

// One card: an image (or the input that failed) and what the results say.
struct Card {
  std::string path;     // the file, byte for byte (path_base64 decoded)
  std::string display;  // the path as JSON spelled it (valid UTF-8)
  json predictions = json::array();
  std::string error_kind;  // empty: no error
  std::string error_message;
  std::string caption;    // evaluate: "true → predicted"
  std::string thumbnail;  // a data: URI; empty: placeholder
  json explain;           // the record's "explain" (--explain); null: none
  std::string heat_map;   // its first map over the thumbnail; empty: none
};

Card card_from_record(const json& record) {
  Card card;
  card.path = record_path_from_json(record.dump());
  card.display = record.value("path", "");
  if (const auto error = record.find("error"); error != record.end()) {
    card.error_kind = error->value("kind", "error");
    card.error_message = error->value("message", "");
  } else if (const auto found = record.find("predictions");
             found != record.end()) {
    card.predictions = *found;
  }
  if (const auto found = record.find("explain");
      found != record.end() && found->is_object()) {
    card.explain = *found;
  }
  return card;
}

[[noreturn]] void not_results(const std::string& results,
                              const std::string& why) {
  throw Error(ErrorKind::kUsage,
              results + ": " + why +
                  " (report reads classify --format json or jsonl, or "
                  "evaluate --format json)");
}

std::vector<Card> cards_from_records(const std::string& results,
                                     const std::vector<json>& records) {
  std::vector<Card> cards;
  for (const json& record : records) {
    if (!record.is_object() || !record.contains("path")) {
      not_results(results, "an element is not a record");
    }
    if (record.contains("embedding")) {
      not_results(results,
                  "holds embeddings, which have no labels to show; give "
                  "classify's prob or logit output");
    }
    cards.push_back(card_from_record(record));
  }
  return cards;
}

// The whole file as one JSON value, or, when it is JSON Lines, an array of
// its lines (a torn last line left out, as merge leaves it out).
json read_results(const std::string& results) {
  std::ifstream in(results, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kUsage, results + ": cannot read: " +
                                       std::string(std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  json whole = json::parse(content, nullptr, false);
  if (!whole.is_discarded()) return whole;
  json lines = json::array();
  JsonlReader reader(results);
  for (JsonlLine line; reader.next(line);) {
    json record = json::parse(line.text, nullptr, false);
    if (record.is_discarded()) not_results(results, "not JSON");
    lines.push_back(std::move(record));
  }
  return lines;
}

std::filesystem::path locate(const std::string& path,
                             const std::filesystem::path& results_folder) {
  std::error_code error;
  const std::filesystem::path given(path);
  if (given.is_relative() && !std::filesystem::exists(given, error)) {
    const std::filesystem::path beside = results_folder / given;
    if (std::filesystem::exists(beside, error)) return beside;
  }
  return given;
}

// A grid of rows of numbers, row-major; empty when it is not one.
std::vector<float> grid_values(const json& grid, int& rows, int& columns) {
  std::vector<float> values;
  rows = grid.is_array() ? static_cast<int>(grid.size()) : 0;
  columns =
      rows > 0 && grid[0].is_array() ? static_cast<int>(grid[0].size()) : 0;
  for (const json& row : grid) {
    if (!row.is_array() || static_cast<int>(row.size()) != columns) return {};
    for (const json& value : row) {
      if (!value.is_number()) return {};
      values.push_back(value.get<float>());
    }
  }
  return values;
}

// The explanation's first map over `small`, the thumbnail of `image`, drawn
// as explain's overlays are (image/heatmap.h) from the record's grid and
// crop box; empty when the explanation is not of this image (it changed
// since the run) or has no map.
std::string heat_map_uri(const RgbImage& image, const RgbImage& small,
                         const json& explain, const std::string& name) {
  if (explain.value("width", 0) != image.width ||
      explain.value("height", 0) != image.height) {
    return {};
  }
  const json maps = explain.value("maps", json::array());
  const json crop = explain.value("crop", json::object());
  if (maps.empty() || !maps[0].is_object() || !crop.is_object()) return {};
  int rows = 0, columns = 0;
  const std::vector<float> grid =
      grid_values(maps[0].value("grid", json()), rows, columns);
  if (grid.empty()) return {};
  const double scale_x = static_cast<double>(small.width) / image.width;
  const double scale_y = static_cast<double>(small.height) / image.height;
  const ImageRegion region{
      crop.value("left", 0) * scale_x, crop.value("top", 0) * scale_y,
      crop.value("right", 0) * scale_x, crop.value("bottom", 0) * scale_y};
  const RgbImage overlay =
      heatmap_overlay(small, HeatmapGrid{grid.data(), rows, columns}, region);
  return jpeg_data_uri(overlay, name);
}

// A thumbnail with the longer side `size` (never enlarged), by Pillow's
// antialiased bilinear filter, and with `explain`, the heat map over it;
// empty when the image cannot be read.
void make_thumbnail(const std::filesystem::path& file, int size, Card& card) {
  try {
    // A file, even one named "-" (which decode_input reads as stdin).
    const std::string name = file == "-" ? "./-" : file.string();
    DecodeOptions decode;
    decode.apply_exif_orientation =
        card.explain.is_object() && card.explain.value("exif_applied", false);
    const RgbImage image = decode_input(InputBytes{name}, decode);
    const RgbImage small = thumbnail_image(image, size);
    card.thumbnail = jpeg_data_uri(small, name);
    if (card.explain.is_object()) {
      card.heat_map = heat_map_uri(image, small, card.explain, name);
    }
  } catch (const Error&) {
    card.thumbnail.clear();
    card.heat_map.clear();
  }
}

// Thumbnails for every card with an image, made on all cores.
void make_thumbnails(std::vector<Card>& cards,
                     const std::filesystem::path& results_folder,
                     const ReportOptions& options) {
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i; (i = next++) < cards.size();) {
      if (cards[i].path.empty() || cards[i].path == "-") continue;
      make_thumbnail(locate(cards[i].path, results_folder),
                     options.thumbnail_size, cards[i]);
    }
  };
  const int threads = options.threads > 0 ? options.threads : available_cores();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
}

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .5em}
.meta{color:#666}.counts{display:flex;flex-wrap:wrap;gap:.4em;margin:.4em 0}
.counts span{background:#e8eef7;border-radius:1em;padding:.1em .7em;cursor:pointer}
.counts span.kind{background:#fbe3e1}
.controls{margin:.8em 0;display:flex;gap:1em;align-items:center}
.sheet{display:flex;flex-wrap:wrap;gap:10px}
.card{width:176px;background:#fff;border:1px solid #ddd;border-radius:6px;
padding:6px;content-visibility:auto;contain-intrinsic-size:176px 260px}
.card[hidden]{display:none}.card.error{border-color:#d9534f;background:#fff5f4}
.thumb{width:176px;height:140px;display:flex;align-items:center;
justify-content:center;background:#eee;border-radius:4px;overflow:hidden}
.thumb img{max-width:176px;max-height:140px}
.thumb.none{color:#999;font-size:12px;text-align:center}
.thumb{position:relative}.thumb img.heat{position:absolute;left:50%;top:50%;
transform:translate(-50%,-50%);opacity:0;transition:opacity .15s}
.thumb:hover img.heat,body.heatmaps .thumb img.heat{opacity:1}
.path{font-size:11px;color:#555;word-break:break-all;margin:4px 0}
.pred{display:flex;align-items:center;gap:4px;font-size:12px}
.pred .name{flex:1;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.bar{width:52px;height:8px;background:#eee;border-radius:4px;overflow:hidden}
.bar i{display:block;height:100%;background:#3b7dd8}
.kindname{font-weight:600;color:#b52b27}.message{font-size:12px;word-break:break-word}
.caption{font-size:12px;font-weight:600}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:right}
th{font-weight:600}td.l,th.l{text-align:left}
table.confusion td{min-width:2.5em;border:1px solid #fff}
)";

// Filter by label and sort by score: cards carry data-label, data-score and
// data-order.
constexpr const char* kScript = R"(
const sheet=document.getElementById('sheet');
if(sheet){
const cards=Array.from(sheet.children);
const label=document.getElementById('label'),sort=document.getElementById('sort');
function apply(){
 const want=label.value,by=sort.value;
 const key=c=>by==='order'?+c.dataset.order:(by==='asc'?1:-1)*+c.dataset.score;
 cards.slice().sort((a,b)=>key(a)-key(b)).forEach(c=>{
  c.hidden=want!==''&&c.dataset.label!==want;sheet.appendChild(c);});
}
label.onchange=apply;sort.onchange=apply;
const heat=document.getElementById('heatmaps');
if(heat){heat.checked=location.hash==='#heatmaps';
 const show=()=>document.body.classList.toggle('heatmaps',heat.checked);
 heat.onchange=show;show();}
document.querySelectorAll('.counts span').forEach(s=>s.onclick=()=>{
 label.value=s.dataset.label;apply();});
}
)";

void write_thumbnail(const Card& card, std::ostream& out) {
  if (card.thumbnail.empty()) {
    out << "<div class=\"thumb none\">"
        << (card.error_kind.empty() ? "image not found" : "no image")
        << "</div>";
  } else {
    out << "<div class=\"thumb\"><img loading=\"lazy\" alt=\"\" src=\""
        << card.thumbnail << "\">";
    if (!card.heat_map.empty()) {
      const std::string label = card.explain["maps"][0].value("label", "");
      out << "<img class=\"heat\" loading=\"lazy\" alt=\"where "
          << escape(label) << " comes from\" title=\"" << escape(label)
          << "\" src=\"" << card.heat_map << "\">";
    }
    out << "</div>";
  }
}

// Bar widths: probabilities as they are; logits scaled between the record's
// lowest and highest shown score.
void write_predictions(const json& predictions, std::ostream& out) {
  double low = 0, high = 1;
  for (const json& p : predictions) {
    const double score = p.value("score", 0.0);
    if (score < 0 || score > 1) {
      low = std::min(low, score);
      high = std::max(high, score);
    }
  }
  for (const json& p : predictions) {
    const double score = p.value("score", 0.0);
    const double width = 100.0 * (score - low) / std::max(1e-12, high - low);
    out << "<div class=\"pred\"><span class=\"name\" title=\""
        << escape(p.value("label", "")) << "\">" << escape(p.value("label", ""))
        << "</span><span class=\"bar\"><i "
        << "style=\"width:" << number(width, 1) << "%\"></i></span><span>"
        << number(score, 3) << "</span></div>";
  }
}

void write_card(const Card& card, std::size_t order, std::ostream& out) {
  const bool failed = !card.error_kind.empty();
  const json* best =
      card.predictions.empty() ? nullptr : &card.predictions.front();
  const std::string label =
      failed ? "error: " + card.error_kind
             : (best ? best->value("label", "") : std::string());
  const double score = best ? best->value("score", 0.0) : -1e30;
  out << "<div class=\"card " << (failed ? "error" : "record")
      << "\" data-label=\"" << escape(label) << "\" data-score=\""
      << (best ? number(score, 6) : "-1e30") << "\" data-order=\"" << order
      << "\">";
  write_thumbnail(card, out);
  out << "<div class=\"path\">" << escape(card.display) << "</div>";
  if (!card.caption.empty()) {
    out << "<div class=\"caption\">" << escape(card.caption) << "</div>";
  }
  if (failed) {
    out << "<div class=\"kindname\">" << escape(card.error_kind)
        << "</div><div class=\"message\">" << escape(card.error_message)
        << "</div>";
  } else {
    write_predictions(card.predictions, out);
  }
  out << "</div>\n";
}

void write_counts(const std::vector<Card>& cards, std::ostream& out) {
  std::map<std::string, std::uint64_t> labels, kinds;
  for (const Card& card : cards) {
    if (!card.error_kind.empty()) {
      ++kinds[card.error_kind];
    } else if (!card.predictions.empty()) {
      ++labels[card.predictions.front().value("label", "")];
    }
  }
  // Many labels fold away, so that the cards stay near the top.
  out << "<details" << (labels.size() <= 40 ? " open" : "")
      << "><summary><b>Top-1 label</b>: " << labels.size()
      << (labels.size() == 1 ? " label" : " labels")
      << "</summary><div class=\"counts\">";
  for (const auto& [label, count] : labels) {
    out << "<span data-label=\"" << escape(label) << "\">" << escape(label)
        << " " << count << "</span>";
  }
  out << "</div></details><h2>Errors by kind</h2><div class=\"counts\">";
  for (const auto& [kind, count] : kinds) {
    out << "<span class=\"kind\" data-label=\"error: " << escape(kind) << "\">"
        << escape(kind) << " " << count << "</span>";
  }
  if (kinds.empty()) out << "none";
  out << "</div>\n<div class=\"controls\"><label>label <select id=\"label\">"
      << "<option value=\"\">all</option>";
  for (const auto& [label, count] : labels) {
    out << "<option>" << escape(label) << "</option>";
  }
  for (const auto& [kind, count] : kinds) {
    out << "<option>error: " << escape(kind) << "</option>";
  }
  out << "</select></label><label>sort <select id=\"sort\">"
      << "<option value=\"order\">input order</option><option value=\"desc\">"
      << "score, highest first</option><option value=\"asc\">score, lowest "
      << "first</option></select></label>";
  // Heat maps show on hover, or all at once (also as report.html#heatmaps).
  if (std::any_of(cards.begin(), cards.end(),
                  [](const Card& card) { return !card.heat_map.empty(); })) {
    out << "<label><input type=\"checkbox\" id=\"heatmaps\"> heat maps "
        << "(where the top class comes from; hover a thumbnail for one)"
        << "</label>";
  }
  out << "</div>\n";
}

void write_sheet(const std::vector<Card>& cards, std::ostream& out) {
  out << "<div class=\"sheet\" id=\"sheet\">\n";
  for (std::size_t i = 0; i < cards.size(); ++i) write_card(cards[i], i, out);
  out << "</div>\n";
}

void write_page_start(const std::string& title, std::ostream& out) {
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      << "<meta name=\"viewport\" content=\"width=device-width\">"
      << "<title>" << escape(title) << "</title><style>" << kStyle
      << detail::kFilmStripStyle << "</style></head><body>\n<h1>"
      << escape(title) << "</h1>\n";
}

void write_page_end(std::ostream& out) {
  out << "<script>" << kScript << "</script>\n</body></html>\n";
}

ReportSummary classify_report(const std::string& results,
                              std::vector<Card> cards,
                              std::vector<detail::VideoEntry> videos,
                              const ReportOptions& options, std::ostream& out) {
  const auto folder = std::filesystem::path(results).parent_path();
  make_thumbnails(cards, folder, options);
  ReportSummary summary;
  summary.unreadable = detail::make_frame_thumbnails(
      videos, folder, options.thumbnail_size, options.threads);
  std::size_t frames = 0;
  for (const detail::VideoEntry& video : videos) {
    ++summary.records;
    frames += video.frames.size();
    if (video.closing.is_object() && video.closing.contains("error")) {
      ++summary.failed;
    }
  }
  for (const Card& card : cards) {
    ++summary.records;
    if (!card.error_kind.empty()) ++summary.failed;
    if (card.error_kind.empty() && card.thumbnail.empty()) ++summary.unreadable;
  }
  write_page_start("resnet-cli report: " + results, out);
  out << "<p class=\"meta\">" << summary.records << " inputs, "
      << summary.records - summary.failed << " classified, " << summary.failed
      << " failed";
  if (!videos.empty()) {
    out << "; " << videos.size()
        << (videos.size() == 1 ? " video, " : " videos, ") << frames
        << " frames";
  }
  out << "</p>\n";
  detail::write_videos(videos, out);
  if (!cards.empty() || videos.empty()) {
    if (!videos.empty()) out << "<h2>Images</h2>\n";
    write_counts(cards, out);
    write_sheet(cards, out);
  }
  write_page_end(out);
  return summary;
}

// A cell's background: from white to the bars' blue with its share of the
// row (the recall on the diagonal).
std::string heat(std::uint64_t count, std::uint64_t row_total) {
  const double share =
      row_total ? static_cast<double>(count) / static_cast<double>(row_total)
                : 0.0;
  const auto mix = [share](int to) {
    return std::to_string(static_cast<int>(255 + (to - 255) * share + 0.5));
  };
  return "rgb(" + mix(59) + "," + mix(125) + "," + mix(216) + ")";
}

void write_confusion(const json& confusion, std::ostream& out) {
  out << "<h2>Confusion matrix</h2><p class=\"meta\">rows: true class, "
      << "columns: predicted; shade: share of the row</p>"
      << "<table class=\"confusion\" id=\"confusion\"><tr><th></th>";
  for (const json& column : confusion.at("columns")) {
    out << "<th>" << escape(column.get<std::string>()) << "</th>";
  }
  out << "</tr>\n";
  const json& rows = confusion.at("rows");
  const json& matrix = confusion.at("matrix");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::uint64_t total = 0;
    for (const json& cell : matrix.at(r)) total += cell.get<std::uint64_t>();
    out << "<tr><th class=\"l\">" << escape(rows[r].get<std::string>())
        << "</th>";
    for (const json& cell : matrix.at(r)) {
      const auto count = cell.get<std::uint64_t>();
      out << "<td style=\"background:" << heat(count, total) << "\">" << count
          << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</table>\n";
}

void write_class_table(const json& classes, std::ostream& out) {
  out << "<h2>Per class</h2><table><tr><th class=\"l\">class</th><th>index"
      << "</th><th>count</th><th>precision</th><th>recall</th></tr>\n";
  const auto cell = [](const json& value) {
    return value.is_number() ? number(value.get<double>(), 4)
                             : std::string("-");
  };
  for (const json& c : classes) {
    out << "<tr><td class=\"l\">" << escape(c.value("name", "")) << "</td><td>"
        << c.value("index", 0) << "</td><td>" << c.value("count", 0)
        << "</td><td>" << cell(c["precision"]) << "</td><td>"
        << cell(c["recall"]) << "</td></tr>\n";
  }
  out << "</table>\n";
}

std::vector<Card> misclassified_cards(const json& evaluation) {
  std::vector<Card> cards;
  for (const json& item : evaluation.value("misclassified", json::array())) {
    Card card = card_from_record(item);
    const std::string predicted = item.value("predicted", "");
    card.caption = item.value("true", "") + " \u2192 " + predicted;
    card.predictions = json::array(
        {{{"label", predicted}, {"score", item.value("score", 0.0)}}});
    cards.push_back(std::move(card));
  }
  for (const json& record : evaluation.value("errors", json::array())) {
    cards.push_back(card_from_record(record));
  }
  return cards;
}

ReportSummary evaluation_report(const std::string& results,
                                const json& evaluation,
                                const ReportOptions& options,
                                std::ostream& out) {
  std::vector<Card> cards = misclassified_cards(evaluation);
  make_thumbnails(cards, std::filesystem::path(results).parent_path(), options);
  ReportSummary summary;
  summary.evaluation = true;
  summary.records = cards.size();
  summary.failed = evaluation.value("failed", 0u);
  write_page_start("resnet-cli evaluation: " + evaluation.value("data", ""),
                   out);
  const int topk = evaluation.value("topk", 5);
  out << "<p class=\"meta\">" << evaluation.value("images", 0)
      << " images classified, " << summary.failed << " failed</p>"
      << "<p><b>acc@1 " << number(evaluation.value("acc@1", 0.0), 2)
      << "%</b> &nbsp; acc@5 " << number(evaluation.value("acc@5", 0.0), 2)
      << "%"
      << (topk < 5 ? " (top " + std::to_string(topk) +
                         ": the model has fewer than 5 classes)"
                   : std::string())
      << "</p>\n";
  write_confusion(evaluation.at("confusion"), out);
  write_class_table(evaluation.value("classes", json::array()), out);
  out << "<h2>Misclassified and failed</h2>\n";
  write_counts(cards, out);
  write_sheet(cards, out);
  write_page_end(out);
  return summary;
}

}  // namespace

ReportSummary write_report(const std::filesystem::path& results,
                           std::ostream& html, const ReportOptions& options) {
  const std::string name = results.string();
  const json content = read_results(name);
  if (content.is_object() && content.contains("confusion")) {
    try {
      return evaluation_report(name, content, options, html);
    } catch (const json::exception& e) {
      not_results(name, std::string("not evaluate's output: ") + e.what());
    }
  }
  // A JSON Lines file of one line parses as one object.
  const json all = content.is_object() ? json::array({content}) : content;
  if (!all.is_array()) not_results(name, "not a list of records");
  std::vector<json> records(all.begin(), all.end());
  std::vector<detail::VideoEntry> videos = detail::take_videos(records);
  return classify_report(name, cards_from_records(name, records),
                         std::move(videos), options, html);
}

}  // namespace resnet_cli
