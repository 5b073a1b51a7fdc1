// The video reader of a build without one (RESNET_CLI_VIDEO=OFF): every
// video is an error record naming the build option, and the run goes on.
#include "base/error.h"
#include "video/video_reader.h"

namespace resnet_cli {

namespace {

[[noreturn]] void refuse(const std::string& source) {
  throw Error(ErrorKind::kUnsupportedFormat,
              source +
                  ": this resnet-cli was built without video support "
                  "(RESNET_CLI_VIDEO=OFF: no OpenCV)");
}

}  // namespace

std::unique_ptr<VideoReader> open_video(const std::string& source,
                                        const VideoOpenOptions& /*options*/) {
  refuse(source);
}

std::optional<FrameTable> read_frame_table(const std::string& path) {
  refuse(path);
}

}  // namespace resnet_cli
