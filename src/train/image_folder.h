// torchvision.datasets.ImageFolder: a folder of class folders, scanned as
// ImageFolder scans it, and the stable validation split. Used by train (its
// data) and evaluate (its labelled images).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run/inputs.h"

namespace resnet_cli {

// The class folders of `root`: its sub-folders (links to folders included,
// as os.scandir's is_dir() follows them), sorted by name bytes as Python
// sorts str. Throws Error(kUsage) naming `root` when it is not a folder,
// cannot be listed, or holds no sub-folder.
std::vector<std::string> class_folder_names(const std::string& root);

struct ImageFolderSample {
  std::string path;      // as found (DATA joined with the relative path)
  std::string relative;  // below DATA, e.g. "cat/001.jpg"
  std::int64_t label = 0;
};

// torchvision.datasets.ImageFolder: classes are the sub-folder names in
// sorted order, samples sorted by class, then folder, then file name.
struct ImageFolder {
  std::vector<std::string> classes;
  std::vector<ImageFolderSample> samples;
};

// Scans `root`'s class folders with the classify scanner (`scan`'s
// extensions and symlink rule; its paths are ignored). Throws Error(kUsage)
// naming the folder when it is not a folder, holds fewer than two class
// folders, or a class folder holds no image.
ImageFolder scan_image_folder(const std::string& root,
                              const InputOptions& scan);

// Whether a sample belongs to the validation side of --val-split `fraction`:
// a hash of its path relative to DATA, so that a file keeps its side when
// others are added.
bool in_validation_split(const std::string& relative, double fraction);

}  // namespace resnet_cli
