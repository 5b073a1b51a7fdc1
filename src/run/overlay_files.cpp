#include "run/overlay_files.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <fstream>
#include <system_error>

#include "base/error.h"
#include "base/file_util.h"
#include "image/heatmap.h"
#include "image/png_encode.h"
#include "run/explain.h"

namespace resnet_cli {

namespace {

// The text chunk that marks an overlay as resnet-cli's.
constexpr const char* kSoftwareKeyword = "Software";
constexpr const char* kSoftware = "resnet-cli explain";

// Whether `path` is a PNG whose first chunks carry resnet-cli's mark
// (libpng writes text chunks given before the pixels right after IHDR).
bool is_our_overlay(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[256] = {};
  in.read(head, sizeof head);
  const std::string bytes(head, static_cast<std::size_t>(in.gcount()));
  std::string mark = std::string("tEXt") + kSoftwareKeyword;
  mark.push_back('\0');
  mark += kSoftware;
  return bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0 &&
         bytes.find(mark) != std::string::npos;
}

}  // namespace

void prepare_overlay_folder(const std::filesystem::path& folder) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (!std::filesystem::is_directory(folder)) {
    throw Error(ErrorKind::kOutput,
                folder.string() + ": cannot make the overlay folder" +
                    (error ? ": " + error.message() : ": not a folder"));
  }
}

std::filesystem::path overlay_path(const std::filesystem::path& folder,
                                   const std::string& input, int rank) {
  std::filesystem::path relative;
  for (const std::filesystem::path& part :
       std::filesystem::path(input).relative_path()) {
    if (part == "." || part == ".." || part.empty()) continue;
    relative /= part;
  }
  if (input == "-" || relative.empty()) relative = "stdin";
  const std::string suffix =
      rank <= 1 ? ".png" : ".top" + std::to_string(rank) + ".png";
  return folder / (relative.string() + suffix);
}

void write_overlays(const RgbImage& image, const TransformSpec& transform,
                    const std::filesystem::path& folder,
                    const std::string& input, Explanation& explanation) {
  const ImageRegion region = crop_region(image.width, image.height, transform);
  detail::PngOptions png;
  png.text.push_back({kSoftwareKeyword, kSoftware});
  // Written once, mostly looked at once: speed over the last few percent.
  png.fast = true;
  for (ClassMap& map : explanation.maps) {
    const std::filesystem::path path = overlay_path(folder, input, map.rank);
    std::error_code error;
    if (std::filesystem::exists(path, error) && !is_our_overlay(path)) {
      spdlog::warn(
          "{}: exists and is not an overlay resnet-cli wrote; left as it is",
          path.string());
      continue;
    }
    std::filesystem::create_directories(path.parent_path(), error);
    const RgbImage overlay = heatmap_overlay(
        image, HeatmapGrid{map.grid.data(), map.rows, map.columns}, region);
    // Not synced: an overlay can be drawn again, and an fsync per file
    // would stall the inference worker that writes it.
    write_file_atomically(path, detail::encode_png(overlay, path.string(), png),
                          Durability::kRenamedOnly);
    map.overlay = path.string();
  }
}

}  // namespace resnet_cli
