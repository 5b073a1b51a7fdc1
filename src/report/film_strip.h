// The report's videos (internal to report/): a video's frame records and
// its closing record (record_json.h) as one section: the film strip of its
// sampled frames, each with its time and top label, and a timeline of the
// leading class over the video's time, with the summary or the error.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace resnet_cli::detail {

struct VideoEntry {
  std::string path;     // the video, byte for byte
  std::string display;  // the path as JSON spelled it (valid UTF-8)
  std::vector<nlohmann::json> frames;   // its frame records, in order
  nlohmann::json closing;               // its closing record; null if none
  std::vector<std::string> thumbnails;  // per frame: a data: URI or ""
};

// Moves the records of videos (frames, and closing records of "kind"
// "video") out of `records` into videos, in the order each first appears;
// what is left are the photos' records.
std::vector<VideoEntry> take_videos(std::vector<nlohmann::json>& records);

// Reads each video again (OpenCV, src/video/) to make thumbnails of the
// frames its records name, `size` pixels on the longer side; a video that
// cannot be read any more (moved, a stream) keeps placeholders and gets a
// warning. Relative paths not found are looked up in `results_folder`.
// Returns how many videos could not be read.
std::size_t make_frame_thumbnails(std::vector<VideoEntry>& videos,
                                  const std::filesystem::path& results_folder,
                                  int size, int threads);

// The page's styles for the videos' sections.
extern const char* const kFilmStripStyle;

// The "Videos" part of the page: a section per video.
void write_videos(const std::vector<VideoEntry>& videos, std::ostream& out);

}  // namespace resnet_cli::detail
