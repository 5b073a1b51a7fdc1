#include "train/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "base/error.h"
#include "base/file_util.h"

namespace resnet_cli {

namespace {

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

std::vector<std::string> class_folder_names(const std::string& root) {
  if (!is_folder(root)) {
    throw Error(ErrorKind::kUsage,
                root +
                    ": not a folder (expected DATA/<class>/<image>, one "
                    "sub-folder per class)");
  }
  std::vector<std::string> names;
  std::error_code error;
  std::filesystem::directory_iterator it(root, error);
  for (; !error && it != std::filesystem::directory_iterator();
       it.increment(error)) {
    if (is_folder(it->path().string())) {
      names.push_back(it->path().filename().string());
    }
  }
  if (error) {
    throw Error(ErrorKind::kUsage, root + ": cannot list: " + error.message());
  }
  if (names.empty()) {
    throw Error(ErrorKind::kUsage,
                root +
                    ": no class folders (expected DATA/<class>/<image>, one "
                    "sub-folder per class)");
  }
  std::sort(names.begin(), names.end());
  return names;
}

ImageFolder scan_image_folder(const std::string& given,
                              const InputOptions& scan) {
  std::string root = given;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  ImageFolder folder;
  folder.classes = class_folder_names(root);
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
