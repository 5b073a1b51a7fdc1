#include <cstdlib>

#include "video/video_reader.h"

namespace resnet_cli {

void prepare_video_environment() {
  // overwrite = 0: a value the user set stays.
  ::setenv("OPENCV_FFMPEG_THREADS", "1", 0);
}

}  // namespace resnet_cli
