// The video reader linked into the binary (RESNET_CLI_MODEL_MODULE=OFF).
#include "video/video_entry.h"
#include "video/video_reader.h"

namespace resnet_cli {

std::unique_ptr<VideoReader> open_video(const std::string& source,
                                        const VideoOpenOptions& options) {
  std::unique_ptr<VideoReader> reader;
  resnet_cli_video_open(&source, &options, &reader);
  return reader;
}

std::optional<FrameTable> read_frame_table(const std::string& path) {
  std::optional<FrameTable> table;
  resnet_cli_video_frame_table(&path, &table);
  return table;
}

}  // namespace resnet_cli
