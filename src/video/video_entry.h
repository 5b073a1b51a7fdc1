// The functions the video module exports (internal), looked up with dlsym;
// C linkage for stable symbol names. The module and the linked-in build
// both compile src/video/opencv/. Changing their signatures, VideoReader,
// VideoProperties, VideoOpenOptions or FrameTable bumps the ABI.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "video/video_reader.h"

extern "C" void resnet_cli_video_open(
    const std::string* source, const resnet_cli::VideoOpenOptions* options,
    std::unique_ptr<resnet_cli::VideoReader>* reader);

extern "C" void resnet_cli_video_frame_table(
    const std::string* path, std::optional<resnet_cli::FrameTable>* table);

#define RESNET_CLI_VIDEO_ABI 1
extern "C" int resnet_cli_video_abi();
