// Videos without OpenCV: which inputs are videos, the --every, --start and
// --end rule, the records of frames and of a video's end, and its summary.
// The reading itself is tested against Python's OpenCV in tests/video/.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "run/inputs.h"
#include "run/predictions.h"
#include "run/record_json.h"
#include "run/record_writer.h"
#include "run/video_frames.h"
#include "run/video_summary.h"
#include "test_support.h"
#include "video/sampling.h"
#include "video/video_source.h"

using namespace resnet_cli;

namespace {

using Verdict = FrameSampler::Verdict;

// Indices taken from frames at `times_ms` (keyframes: every third).
std::vector<std::int64_t> taken(const SampleSpec& spec,
                                const std::vector<double>& times_ms) {
  FrameSampler sampler(spec);
  std::vector<std::int64_t> indices;
  for (std::size_t i = 0; i < times_ms.size(); ++i) {
    const auto index = static_cast<std::int64_t>(i);
    const Verdict verdict =
        sampler.next(index, microseconds_from_ms(times_ms[i]), index % 3 == 0);
    if (verdict == Verdict::kEnd) break;
    if (verdict == Verdict::kTake) indices.push_back(index);
  }
  return indices;
}

// Frames every 100 ms from 0, as a 10 frames a second clip has them.
std::vector<double> every_100ms(int count) {
  std::vector<double> times;
  for (int i = 0; i < count; ++i) times.push_back(i * 100.0);
  return times;
}

ErrorKind usage_kind(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kIo;  // no error: the check fails
}

}  // namespace

TEST_CASE("video: --every, --start and --end are parsed", "[video]") {
  CHECK(parse_every("1s").interval_us == 1'000'000);
  CHECK(parse_every("0.5s").interval_us == 500'000);
  CHECK(parse_every("250ms").interval_us == 250'000);
  CHECK(parse_every("250MS").mode == SampleMode::kTime);
  CHECK(parse_every("10f").mode == SampleMode::kFrames);
  CHECK(parse_every("10f").interval_frames == 10);
  CHECK(parse_every("keyframe").mode == SampleMode::kKeyframes);
  for (const char* bad : {"", "1", "0s", "-1s", "1.5f", "0f", "f", "s", "1m",
                          "key", "1e3s", "10 f"}) {
    INFO(bad);
    CHECK(usage_kind([&] { parse_every(bad); }) == ErrorKind::kUsage);
  }
  CHECK(parse_video_time("90", "--start") == 90'000'000);
  CHECK(parse_video_time("12.5s", "--start") == 12'500'000);
  CHECK(parse_video_time("1:30", "--start") == 90'000'000);
  CHECK(parse_video_time("01:02:03.5", "--end") == 3'723'500'000);
  for (const char* bad : {"", "x", "-1", "1:2:3:4", "1:75", "1.5:00", "1s2"}) {
    INFO(bad);
    CHECK(usage_kind([&] { parse_video_time(bad, "--end"); }) ==
          ErrorKind::kUsage);
  }
}

TEST_CASE(
    "video: a time interval takes the first frame at or after each "
    "multiple",
    "[video]") {
  SampleSpec spec = parse_every("1s");
  CHECK(taken(spec, every_100ms(30)) == std::vector<std::int64_t>{0, 10, 20});
  // A frame exactly on a multiple is taken, also when the milliseconds are
  // a hair below it (1000 * 1/10240 * 10240 in doubles).
  CHECK(taken(spec, {0, 999.9999999999999, 1999.9999}) ==
        std::vector<std::int64_t>{0, 1, 2});
  // A frame spanning several multiples (a gap of 2.5 s) is taken once.
  CHECK(taken(spec, {0, 400, 800, 3300, 3400, 4000}) ==
        std::vector<std::int64_t>{0, 3, 5});
  // Without --start the multiples count from the first frame's time.
  CHECK(taken(spec, {250, 750, 1250, 1300, 2250}) ==
        std::vector<std::int64_t>{0, 2, 4});
  spec.start_us = 350'000;
  spec.end_us = 2'250'000;
  spec.interval_us = 500'000;
  // 0.35 -> 0.4, 0.85 -> 0.9, 1.35 -> 1.4, 1.85 -> 1.9; 2.3 is past --end.
  CHECK(taken(spec, every_100ms(30)) ==
        std::vector<std::int64_t>{4, 9, 14, 19});
  FrameSampler sampler(spec);
  CHECK(sampler.next(0, 2'250'000, false) == Verdict::kEnd);
}

TEST_CASE("video: a frame interval and keyframes", "[video]") {
  SampleSpec spec = parse_every("10f");
  CHECK(taken(spec, every_100ms(25)) == std::vector<std::int64_t>{0, 10, 20});
  spec.start_us = 450'000;  // counts from the first frame at --start
  CHECK(taken(spec, every_100ms(25)) == std::vector<std::int64_t>{5, 15});
  SampleSpec keys = parse_every("keyframe");
  CHECK(taken(keys, every_100ms(10)) == std::vector<std::int64_t>{0, 3, 6, 9});
  keys.start_us = 100'000;
  CHECK(taken(keys, every_100ms(10)) == std::vector<std::int64_t>{3, 6, 9});
}

TEST_CASE("video: which inputs are videos", "[video]") {
  CHECK(is_stream_url("http://127.0.0.1:8000/a.mp4"));
  CHECK(is_stream_url("RTSP://camera/stream"));
  CHECK_FALSE(is_stream_url("file.mp4"));
  CHECK_FALSE(is_stream_url("ftp://host/a.mp4"));
  CHECK(has_video_extension("clips/a.MP4"));
  CHECK(has_video_extension("a.webm"));
  CHECK_FALSE(has_video_extension("a.mp4/b"));
  CHECK_FALSE(has_video_extension("photo.jpg"));
  const auto folder = testing::temp_dir("video-kinds");
  const auto write = [&](const std::string& name, const std::string& bytes) {
    testing::write_text(folder / name, bytes);
    return (folder / name).string();
  };
  const std::string ftyp(
      "\0\0\0\x20"
      "ftypisom",
      12);
  CHECK(is_video_input(write("clip.bin", ftyp + std::string(20, '\0'))));
  CHECK(is_video_input(write("a.avi", "RIFF\x10\0\0\0AVI LIST")));
  CHECK(is_video_input(write("a.mkv", "\x1A\x45\xDF\xA3 matroska")));
  CHECK(is_video_input(write("notes.avi", "not a video at all")));
  CHECK_FALSE(is_video_input(write("notes.txt", "not a video at all")));
  // A JPEG named .mp4 is a photo: the content decides first.
  CHECK_FALSE(is_video_input(write("photo.mp4", "\xFF\xD8\xFF\xE0 JFIF")));
  // GIFs and animated WebPs are images.
  CHECK_FALSE(is_video_input(write("a.gif", "GIF89a......")));
  CHECK(is_video_input("https://example.org/stream"));
  CHECK_FALSE(is_video_input("-"));
  CHECK(usage_kind([&] { is_video_input(write("empty.mp4", "")); }) ==
        ErrorKind::kEmptyFile);
  CHECK(usage_kind([&] { is_video_input((folder / "gone.mp4").string()); }) ==
        ErrorKind::kNotFound);
}

TEST_CASE("video: folder scans pick up videos for classify only", "[video]") {
  const auto root = testing::temp_dir("video-scan");
  for (const char* name : {"a.jpg", "b.mp4", "c.WEBM", "d.txt"}) {
    testing::write_text(root / name, "x");
  }
  const auto scan = [&](bool videos) {
    InputOptions options;
    options.paths = {root.string(), "http://127.0.0.1:1/live"};
    options.videos = videos;
    InputScanner scanner(options);
    std::vector<std::string> paths;
    for (Input input; scanner.next(input);) {
      paths.push_back(input.path.substr(input.path.rfind('/') + 1));
    }
    return paths;
  };
  CHECK(scan(true) ==
        std::vector<std::string>{"a.jpg", "b.mp4", "c.WEBM", "live"});
  // Without videos the URL is an input like any path (reported when read).
  CHECK(scan(false) == std::vector<std::string>{"a.jpg", "live"});
}

TEST_CASE("video: frame and video records in every format", "[video]") {
  Record frame;
  frame.path = "clip.mp4";
  frame.frame = FrameInfo{30, 1.5};
  frame.predictions = {{1, 7, "cat", 0.75}};
  const auto json = nlohmann::json::parse(record_json(frame));
  CHECK(json["kind"] == "frame");
  CHECK(json["frame"] == 30);
  CHECK(json["time"] == 1.5);
  CHECK_FALSE(closes_input(frame));
  CHECK_FALSE(read_record_line(record_json(frame))->closes_input);

  std::vector<std::string> labels(10, "x");
  labels[7] = "cat";
  VideoSummarizer summarizer(OutputSpec{OutputType::kProbability, 2, &labels},
                             true);
  const float cat[10] = {0, 0, 0, 0, 0, 0, 0, 5, 0, 0};
  const float dog[10] = {0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
  // Out of order, as --unordered delivers them.
  summarizer.add(1.0, cat, 10);
  summarizer.add(0.0, cat, 10);
  summarizer.add(2.0, dog, 10);
  summarizer.add(3.0, cat, 10);
  const Record video = summarizer.finish("clip.mp4", 3.5);
  REQUIRE(video.video);
  CHECK(video.video->frames == 4);
  CHECK(video.video->start == 0.0);
  CHECK(video.video->end == 3.5);
  REQUIRE(video.predictions.size() == 2);
  CHECK(video.predictions[0].index == 7);
  CHECK(video.predictions[1].index == 2);
  const auto parsed = nlohmann::json::parse(record_json(video));
  CHECK(parsed["kind"] == "video");
  CHECK(parsed["frames"] == 4);
  CHECK(parsed["predictions"][0]["leads"] ==
        nlohmann::json::parse("[[0.0, 2.0], [3.0, 3.5]]"));
  CHECK(parsed["predictions"][1]["leads"] ==
        nlohmann::json::parse("[[2.0, 3.0]]"));
  // The mean of the softmax probabilities, rounded to float32 as scores are.
  const double p = std::exp(5.0) / (std::exp(5.0) + 9);
  const double q = 1 / (std::exp(5.0) + 9);
  CHECK(video.predictions[0].score == Approx((3 * p + q) / 4).epsilon(1e-6));
  CHECK(read_record_line(record_json(video))->closes_input);

  WriterOptions options;
  options.format = OutputFormat::kCsv;
  options.topk = 1;
  std::ostringstream csv;
  const auto writer = make_record_writer(options, csv);
  writer->write(frame);
  writer->write(video);
  CHECK(csv.str() ==
        "path,status,error_kind,error_message,index_1,label_1,score_1,kind,"
        "frame,time\r\n"
        "clip.mp4,ok,,,7,cat,0.75,frame,30,1.5\r\n"
        "clip.mp4,ok,,,7,cat," +
            float_text(static_cast<float>(video.predictions[0].score)) +
            ",video,,\r\n");
  std::ostringstream text;
  const auto text_writer = make_text_writer(OutputType::kProbability, text);
  text_writer->write(frame);
  text_writer->write(video);
  CHECK_THAT(text.str(), Catch::Contains("clip.mp4 @ 1.500 s (frame 30)\n"));
  CHECK_THAT(text.str(),
             Catch::Contains("video: 4 frames classified, 0.000 s to 3.500 s"));
  CHECK_THAT(text.str(), Catch::Contains("cat  (leads 0.0-2.0 s, 3.0-3.5 s)"));
}
