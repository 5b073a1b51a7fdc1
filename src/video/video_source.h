// Which inputs are videos: stream URLs, files whose content is a video
// container, and (for folder scans) the extensions of video files. Knows
// nothing of OpenCV: the reader itself is video_reader.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace resnet_cli {

// A URL that OpenCV's FFmpeg backend opens as a stream: http://, https://,
// rtsp://, rtsps://, rtmp://, udp://, tcp:// (the scheme in any case).
bool is_stream_url(std::string_view path);

// Lower-case extensions (no dot) of the video files a folder scan picks up:
// mp4, m4v, mov, avi, mkv, webm, mpg, mpeg, ts, m2ts, mts, wmv, flv, 3gp,
// ogv, mjpeg, h264, hevc.
const std::vector<std::string>& default_video_extensions();

// Whether `path` ends in one of default_video_extensions() (any case).
bool has_video_extension(std::string_view path);

// Whether a file's first bytes are those of a video container: ISO BMFF
// (MP4, MOV, 3GP: an "ftyp" box), RIFF AVI, Matroska/WebM (EBML), MPEG
// program and transport streams, FLV, Ogg, ASF/WMV. Images are told apart
// by image/image_format.h first: an animated WebP or a GIF is an image.
bool looks_like_video_container(const std::uint8_t* data, std::size_t size);

}  // namespace resnet_cli
