// The video reader as a module mapped on the first video
// (RESNET_CLI_MODEL_MODULE=ON): OpenCV's videoio maps some 240 shared
// libraries (FFmpeg, GStreamer, GDAL through imgcodecs), half a second and
// 70 MiB that a run of photos never pays.
#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "base/error.h"
#include "base/module_file.h"
#include "video/video_entry.h"
#include "video/video_reader.h"

namespace resnet_cli {

namespace {

constexpr const char* kModuleName = "libresnet_cli_video.so";

struct LoadedModule {
  decltype(&resnet_cli_video_open) open = nullptr;
  decltype(&resnet_cli_video_frame_table) frame_table = nullptr;
  std::string error;  // empty when the functions are set
};

LoadedModule open_module() {
  const std::vector<std::filesystem::path> candidates =
      module_candidates(kModuleName);
  const std::optional<std::filesystem::path> path = find_module(candidates);
  if (!path) {
    return {nullptr, nullptr,
            "the video module " + std::string(kModuleName) +
                " is missing (looked for " + list_candidates(candidates) +
                "); reinstall resnet-cli"};
  }
  // Never closed: readers it made live until their videos are done.
  void* handle = ::dlopen(path->c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    return {nullptr, nullptr,
            path->string() + ": cannot load the video module: " + ::dlerror()};
  }
  const auto abi = reinterpret_cast<decltype(&resnet_cli_video_abi)>(
      ::dlsym(handle, "resnet_cli_video_abi"));
  LoadedModule loaded;
  loaded.open = reinterpret_cast<decltype(&resnet_cli_video_open)>(
      ::dlsym(handle, "resnet_cli_video_open"));
  loaded.frame_table =
      reinterpret_cast<decltype(&resnet_cli_video_frame_table)>(
          ::dlsym(handle, "resnet_cli_video_frame_table"));
  if (!abi || !loaded.open || !loaded.frame_table ||
      abi() != RESNET_CLI_VIDEO_ABI) {
    return {nullptr, nullptr,
            path->string() +
                ": not the video module of this resnet-cli build "
                "(reinstall resnet-cli)"};
  }
  spdlog::debug("video module: {}", path->string());
  return loaded;
}

const LoadedModule& module() {
  static std::once_flag once;
  static LoadedModule loaded;
  std::call_once(once, [] { loaded = open_module(); });
  if (!loaded.open) throw Error(ErrorKind::kModel, loaded.error);
  return loaded;
}

}  // namespace

std::unique_ptr<VideoReader> open_video(const std::string& source,
                                        const VideoOpenOptions& options) {
  std::unique_ptr<VideoReader> reader;
  module().open(&source, &options, &reader);
  return reader;
}

std::optional<FrameTable> read_frame_table(const std::string& path) {
  std::optional<FrameTable> table;
  module().frame_table(&path, &table);
  return table;
}

}  // namespace resnet_cli
