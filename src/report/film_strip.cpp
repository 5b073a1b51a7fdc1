#include "report/film_strip.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <ostream>
#include <set>
#include <thread>

#include "base/cpu.h"
#include "base/error.h"
#include "report/html.h"
#include "run/record_json.h"
#include "video/video_reader.h"
#include "video/video_source.h"

namespace resnet_cli::detail {

namespace {

using nlohmann::json;

// At most this many thumbnails a video (evenly spread); the timeline shows
// every frame.
constexpr std::size_t kMaxThumbnails = 48;

bool is_video_record(const json& record) {
  return record.value("kind", "") == "frame" ||
         record.value("kind", "") == "video";
}

std::string top_label(const json& record) {
  const json predictions = record.value("predictions", json::array());
  return predictions.empty() ? std::string()
                             : predictions.front().value("label", "");
}

double top_score(const json& record) {
  const json predictions = record.value("predictions", json::array());
  return predictions.empty() ? 0.0 : predictions.front().value("score", 0.0);
}

std::filesystem::path locate(const std::string& path,
                             const std::filesystem::path& folder) {
  std::error_code error;
  const std::filesystem::path given(path);
  if (given.is_relative() && !std::filesystem::exists(given, error) &&
      std::filesystem::exists(folder / given, error)) {
    return folder / given;
  }
  return given;
}

// The frames `wanted` (indices, ascending) of `file`, read in order.
void read_thumbnails(VideoEntry& video, const std::filesystem::path& file,
                     const std::vector<std::size_t>& wanted, int size) {
  const std::unique_ptr<VideoReader> reader =
      open_video(file.string(), VideoOpenOptions{});
  std::int64_t index = -1;
  for (const std::size_t i : wanted) {
    const auto frame = video.frames[i].value("frame", std::int64_t{0});
    while (index < frame) {
      if (!reader->grab()) return;
      ++index;
    }
    if (index == frame) {
      video.thumbnails[i] =
          thumbnail_uri(reader->retrieve(), size, file.string());
    }
  }
}

// Colours of the timeline: one per label, in the order labels first lead.
std::map<std::string, std::string> label_colours(const VideoEntry& video) {
  static const char* const kPalette[] = {
      "#3b7dd8", "#e07b39", "#4aa564", "#c9463d", "#8a63b8",
      "#b0813c", "#d36fb0", "#6d7a86", "#b5b833", "#2fb3c4"};
  std::map<std::string, std::string> colours;
  for (const json& frame : video.frames) {
    const std::string label = top_label(frame);
    if (colours.count(label)) continue;
    const std::size_t n = colours.size();
    colours[label] = n < std::size(kPalette)
                         ? kPalette[n]
                         : "hsl(" + std::to_string(n * 47 % 360) + ",45%,55%)";
  }
  return colours;
}

void write_timeline(const VideoEntry& video, std::ostream& out) {
  if (video.frames.empty()) return;
  const double start = video.frames.front().value("time", 0.0);
  double end =
      video.closing.is_object() ? video.closing.value("end", 0.0) : 0.0;
  const double last = video.frames.back().value("time", 0.0);
  if (end <= last)
    end = last +
          (video.frames.size() > 1
               ? (last - start) / static_cast<double>(video.frames.size() - 1)
               : 1.0);
  const auto colours = label_colours(video);
  out << "<div class=\"timeline\">";
  for (std::size_t i = 0; i < video.frames.size();) {
    const std::string label = top_label(video.frames[i]);
    std::size_t j = i + 1;
    while (j < video.frames.size() && top_label(video.frames[j]) == label) ++j;
    const double from = video.frames[i].value("time", 0.0);
    const double to =
        j < video.frames.size() ? video.frames[j].value("time", 0.0) : end;
    out << "<i style=\"left:" << number(100 * (from - start) / (end - start), 3)
        << "%;width:" << number(100 * (to - from) / (end - start), 3)
        << "%;background:" << colours.at(label) << "\" data-label=\""
        << escape(label) << "\" title=\"" << escape(label) << ", "
        << number(from, 1) << "\u2013" << number(to, 1) << " s\"></i>";
    i = j;
  }
  out << "</div><div class=\"legend\">";
  for (const auto& [label, colour] : colours) {
    out << "<span><b style=\"background:" << colour << "\"></b>"
        << escape(label) << "</span>";
  }
  out << "</div>\n";
}

void write_strip(const VideoEntry& video, std::ostream& out) {
  out << "<div class=\"strip\">";
  for (std::size_t i = 0; i < video.frames.size(); ++i) {
    const json& frame = video.frames[i];
    const std::string label = top_label(frame);
    out << "<figure class=\"frame\" data-frame=\""
        << frame.value("frame", std::int64_t{0}) << "\" data-label=\""
        << escape(label) << "\">";
    if (video.thumbnails[i].empty()) {
      out << "<div class=\"thumb none\">frame " << frame.value("frame", 0)
          << "</div>";
    } else {
      out << "<img loading=\"lazy\" alt=\"\" src=\"" << video.thumbnails[i]
          << "\">";
    }
    out << "<figcaption>" << number(frame.value("time", 0.0), 2)
        << " s<br><span class=\"name\">" << escape(label) << "</span> "
        << number(top_score(frame), 3) << "</figcaption></figure>";
  }
  out << "</div>\n";
}

void write_video(const VideoEntry& video, std::ostream& out) {
  const json& closing = video.closing;
  const bool failed = closing.is_object() && closing.contains("error");
  out << "<section class=\"video" << (failed ? " error" : "")
      << "\" data-frames=\"" << video.frames.size() << "\">"
      << "<div class=\"vhead\"><b class=\"vpath\">" << escape(video.display)
      << "</b> <span class=\"meta\">" << video.frames.size() << " frame"
      << (video.frames.size() == 1 ? "" : "s") << " classified";
  if (closing.is_object() && closing.contains("end")) {
    out << ", " << number(closing.value("start", 0.0), 1) << "\u2013"
        << number(closing.value("end", 0.0), 1) << " s";
  }
  out << "</span></div>";
  if (failed) {
    const json& error = closing["error"];
    out << "<div class=\"kindname\">" << escape(error.value("kind", "error"))
        << "</div><div class=\"message\">" << escape(error.value("message", ""))
        << "</div>";
  } else if (closing.is_object() && closing.contains("predictions")) {
    out << "<div class=\"vsum\">mean of the frames:";
    for (const json& p : closing["predictions"]) {
      out << " <span class=\"name\">" << escape(p.value("label", ""))
          << "</span> " << number(p.value("score", 0.0), 3);
    }
    out << "</div>";
  }
  write_timeline(video, out);
  write_strip(video, out);
  out << "</section>\n";
}

}  // namespace

const char* const kFilmStripStyle = R"(
.video{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;margin:0 0 12px}
.video.error{border-color:#d9534f;background:#fff5f4}
.vpath{word-break:break-all}.vsum{font-size:13px;margin:4px 0}
.timeline{position:relative;height:14px;background:#eee;border-radius:3px;margin:6px 0;overflow:hidden}
.timeline i{position:absolute;top:0;bottom:0}
.legend{display:flex;flex-wrap:wrap;gap:.3em .9em;font-size:12px;margin-bottom:6px}
.legend b{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.strip{display:flex;gap:6px;overflow-x:auto;padding-bottom:4px}
.frame{margin:0;flex:0 0 auto;width:128px;font-size:11px;text-align:center}
.frame img{max-width:128px;max-height:96px;display:block;margin:0 auto}
.frame .thumb.none{width:128px;height:72px}
)";

std::vector<VideoEntry> take_videos(std::vector<json>& records) {
  std::vector<VideoEntry> videos;
  std::map<std::string, std::size_t> by_path;
  std::vector<json> photos;
  for (json& record : records) {
    if (!is_video_record(record)) {
      photos.push_back(std::move(record));
      continue;
    }
    const std::string path = record_path_from_json(record.dump());
    auto [found, added] = by_path.emplace(path, videos.size());
    if (added) {
      VideoEntry video;
      video.path = path;
      video.display = record.value("path", "");
      videos.push_back(std::move(video));
    }
    VideoEntry& video = videos[found->second];
    if (record.value("kind", "") == "frame") {
      video.frames.push_back(std::move(record));
    } else {
      video.closing = std::move(record);
    }
  }
  for (VideoEntry& video : videos) {
    video.thumbnails.assign(video.frames.size(), "");
  }
  records = std::move(photos);
  return videos;
}

std::size_t make_frame_thumbnails(std::vector<VideoEntry>& videos,
                                  const std::filesystem::path& results_folder,
                                  int size, int threads) {
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> unreadable{0};
  const auto work = [&] {
    for (std::size_t v; (v = next++) < videos.size();) {
      VideoEntry& video = videos[v];
      if (video.frames.empty()) continue;
      std::vector<std::size_t> wanted;
      const std::size_t count = video.frames.size();
      const std::size_t shown = std::min(count, kMaxThumbnails);
      for (std::size_t i = 0; i < shown; ++i)
        wanted.push_back(i * count / shown);
      try {
        if (is_stream_url(video.path)) {
          throw Error(ErrorKind::kIo,
                      video.path + ": a stream is not read again");
        }
        read_thumbnails(video, locate(video.path, results_folder), wanted,
                        size);
      } catch (const Error& e) {
        spdlog::warn("{} (its frames show as placeholders)", e.what());
        ++unreadable;
      }
    }
  };
  const int count = std::max(1, threads > 0 ? threads : available_cores());
  std::vector<std::thread> pool;
  for (int t = 1; t < count; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
  return unreadable;
}

void write_videos(const std::vector<VideoEntry>& videos, std::ostream& out) {
  if (videos.empty()) return;
  out << "<h2>Videos</h2>\n<div class=\"videos\" id=\"videos\">\n";
  for (const VideoEntry& video : videos) write_video(video, out);
  out << "</div>\n";
}

}  // namespace resnet_cli::detail
