#include <cstdlib>

#include "video/video_reader.h"

namespace resnet_cli {

void prepare_video_environment() {
  // overwrite = 0: a value the user set stays.
  ::setenv("OPENCV_FFMPEG_THREADS", "1", 0);
  // With either of these set, OpenCV's FFmpeg backend replaces FFmpeg's
  // message callback with its own on every open, which printf()s FFmpeg's
  // messages onto stdout (the results) and takes them from the error
  // records, which name FFmpeg's reason (backend_log.h).
  ::unsetenv("OPENCV_FFMPEG_LOGLEVEL");
  ::unsetenv("OPENCV_FFMPEG_DEBUG");
}

}  // namespace resnet_cli
