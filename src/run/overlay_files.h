// explain's overlay files (--explain-dir): for each explained class of an
// image, the input with its class activation map laid over the crop
// (image/heatmap.h), as a PNG of the input's size and orientation, named
// after the input. Each file is written under a temporary name and renamed
// into place; a file already there is replaced only when it is an overlay
// resnet-cli wrote (its PNG text chunk says so), so an input, or anything
// else, is never overwritten.
#pragma once

#include <filesystem>
#include <string>

#include "image/rgb_image.h"
#include "image/transform.h"
#include "run/record.h"

namespace resnet_cli {

// Creates `folder` (and its parents) when missing. Throws Error(kOutput)
// naming it when it cannot be created or is not a folder.
void prepare_overlay_folder(const std::filesystem::path& folder);

// Where the overlay of `input` (a path as given) goes: `folder`, then the
// path with its root, "." and ".." parts left out ("-", stdin: "stdin"),
// then ".png" for the best class, ".top<rank>.png" for the others:
// photos/cat.jpg -> DIR/photos/cat.jpg.png, DIR/photos/cat.jpg.top2.png.
std::filesystem::path overlay_path(const std::filesystem::path& folder,
                                   const std::string& input, int rank);

// Draws each map of `explanation` over `image` (the input as decoded for
// the model, `transform` its transforms) and writes it to overlay_path(),
// recording the path in the map's `overlay`. A destination that exists and
// is not resnet-cli's overlay is left as it is, with a warning, and the
// map's `overlay` stays empty. Throws Error(kOutput) when a file cannot be
// written (a full disk, no permission).
void write_overlays(const RgbImage& image, const TransformSpec& transform,
                    const std::filesystem::path& folder,
                    const std::string& input, Explanation& explanation);

}  // namespace resnet_cli
