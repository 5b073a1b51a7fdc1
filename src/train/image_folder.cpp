// ImageFolder scanning and the stable validation split (train.h).
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "base/error.h"
#include "train/train.h"

namespace resnet_cli {

namespace {

bool is_folder(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// The sub-folders of `root`, sorted by name bytes (Python's sorted() of
// UTF-8 names), hidden ones included as os.scandir lists them.
std::vector<std::string> class_folders(const std::string& root) {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(root, ec);
  if (ec) {
    throw Error(ErrorKind::kUsage,
                root + ": cannot read the data folder: " + ec.message());
  }
  for (const auto& entry : it) {
    if (is_folder(entry.path().string())) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// os.walk's order, sorted as ImageFolder sorts it: by folder, then file.
void sort_like_image_folder(std::vector<ImageFolderSample>& samples) {
  const auto key = [](const ImageFolderSample& sample) {
    const std::size_t slash = sample.relative.rfind('/');
    return std::make_tuple(sample.relative.substr(0, slash),
                           sample.relative.substr(slash + 1));
  };
  std::sort(samples.begin(), samples.end(),
            [&](const ImageFolderSample& a, const ImageFolderSample& b) {
              return key(a) < key(b);
            });
}

}  // namespace

ImageFolder scan_image_folder(const std::string& given,
                              const InputOptions& scan) {
  std::string root = given;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!is_folder(root)) {
    throw Error(ErrorKind::kUsage,
                root + ": not a folder (expected one sub-folder per class)");
  }
  ImageFolder folder;
  folder.classes = class_folders(root);
  if (folder.classes.size() < 2) {
    throw Error(ErrorKind::kUsage,
                root + ": " + std::to_string(folder.classes.size()) +
                    " class folder(s); training needs at least two (one "
                    "sub-folder per class)");
  }
  for (std::size_t label = 0; label < folder.classes.size(); ++label) {
    const std::string& name = folder.classes[label];
    InputOptions options = scan;
    options.paths = {root + "/" + name};
    options.files_from.clear();
    options.shard.reset();
    options.skip.reset();
    InputScanner scanner(options);
    std::vector<ImageFolderSample> samples;
    for (Input input; scanner.next(input);) {
      if (input.error) continue;  // unreadable entries: not images
      ImageFolderSample sample;
      sample.path = input.path;
      sample.relative = input.path.substr(root.size() + 1);
      sample.label = static_cast<std::int64_t>(label);
      samples.push_back(std::move(sample));
    }
    if (samples.empty()) {
      throw Error(ErrorKind::kUsage, root + "/" + name +
                                         ": class folder without images "
                                         "(remove it or add images)");
    }
    sort_like_image_folder(samples);
    folder.samples.insert(folder.samples.end(), samples.begin(), samples.end());
  }
  return folder;
}

bool in_validation_split(const std::string& relative, double fraction) {
  // FNV-1a, 64 bits: the same on every machine and run.
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : relative) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  constexpr std::uint64_t kBuckets = 1'000'000;
  return static_cast<double>(hash % kBuckets) <
         fraction * static_cast<double>(kBuckets);
}

}  // namespace resnet_cli
