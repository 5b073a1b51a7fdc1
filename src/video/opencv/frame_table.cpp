// The frame table (video_reader.h): FFmpeg's demuxer over the whole file,
// the first video stream as OpenCV's backend picks it.
extern "C" {
#include <libavformat/avformat.h>
}

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "video/opencv/backend_log.h"
#include "video/video_entry.h"

namespace resnet_cli {

namespace {

struct FormatContext {
  AVFormatContext* context = nullptr;
  ~FormatContext() {
    if (context) avformat_close_input(&context);
  }
};

struct Packet {
  AVPacket* packet = av_packet_alloc();
  ~Packet() { av_packet_free(&packet); }
};

std::string backend_reason(int code) {
  std::string message = detail::last_backend_message();
  if (!message.empty()) return message;
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

}  // namespace

namespace detail {

std::optional<FrameTable> frame_table(const std::string& path) {
  capture_backend_messages();
  clear_backend_message();
  FormatContext input;
  int code =
      avformat_open_input(&input.context, path.c_str(), nullptr, nullptr);
  if (code < 0 || avformat_find_stream_info(input.context, nullptr) < 0) {
    throw Error(
        ErrorKind::kUnsupportedFormat,
        path + ": not a video FFmpeg reads (" + backend_reason(code) + ")");
  }
  int video = -1;
  for (unsigned i = 0; i < input.context->nb_streams; ++i) {
    AVStream* stream = input.context->streams[i];
    if (video < 0 && stream->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      video = static_cast<int>(i);
    } else {
      stream->discard = AVDISCARD_ALL;  // only the video's packets are read
    }
  }
  if (video < 0) {
    throw Error(ErrorKind::kUnsupportedFormat,
                path + ": holds no video stream");
  }
  const AVStream* stream = input.context->streams[video];
  if (stream->start_time == AV_NOPTS_VALUE) return std::nullopt;
  std::vector<std::int64_t> pts;
  std::vector<std::uint8_t> keys;
  FrameTable table;
  Packet packet;
  while ((code = av_read_frame(input.context, packet.packet)) >= 0) {
    if (packet.packet->stream_index == video) {
      if (packet.packet->pts == AV_NOPTS_VALUE) return std::nullopt;
      pts.push_back(packet.packet->pts);
      keys.push_back((packet.packet->flags & AV_PKT_FLAG_KEY) ? 1 : 0);
    }
    av_packet_unref(packet.packet);
  }
  if (code != AVERROR_EOF) {
    table.complete = false;
    table.stop_reason = backend_reason(code);
  } else if (!detail::last_backend_message().empty()) {
    // The demuxer met the end of the data where the container said there
    // was more ("File ended prematurely", "partial file"), and said so.
    table.complete = false;
    table.stop_reason = detail::last_backend_message();
  } else if (stream->nb_frames > 0 &&
             static_cast<std::int64_t>(pts.size()) < stream->nb_frames) {
    // The container's index lists frames whose data is not there.
    table.complete = false;
    table.stop_reason = "the data ends after " + std::to_string(pts.size()) +
                        " of the " + std::to_string(stream->nb_frames) +
                        " frames the container lists";
  }
  // Presentation order; a timestamp twice means packets are not frames.
  std::vector<std::size_t> order(pts.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return pts[a] < pts[b]; });
  // As OpenCV's dts_to_sec(pts) * 1000, operation for operation, so that
  // the times are the same doubles CAP_PROP_POS_MSEC gives.
  const AVRational base = stream->time_base;
  const double seconds_per_tick =
      base.num == 0 || base.den == 0
          ? 0.
          : static_cast<double>(base.num) / static_cast<double>(base.den);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t value = pts[order[i]];
    if (i > 0 && value == pts[order[i - 1]]) return std::nullopt;
    table.times_ms.push_back(static_cast<double>(value - stream->start_time) *
                             seconds_per_tick * 1000);
    table.keyframes.push_back(keys[order[i]]);
  }
  return table;
}

}  // namespace detail

}  // namespace resnet_cli

extern "C" void resnet_cli_video_frame_table(
    const std::string* path, std::optional<resnet_cli::FrameTable>* table) {
  *table = resnet_cli::detail::frame_table(*path);
}
