#include "base/module_file.h"

#include <unistd.h>

#include <climits>

namespace resnet_cli {

namespace {

std::filesystem::path executable_folder() {
  char buffer[PATH_MAX];
  const ssize_t size = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (size <= 0) return {};
  return std::filesystem::path(std::string(buffer, static_cast<size_t>(size)))
      .parent_path();
}

}  // namespace

std::vector<std::filesystem::path> module_candidates(const std::string& name) {
  const std::filesystem::path folder = executable_folder();
  return {folder / name, folder.parent_path() / "lib" / "resnet-cli" / name};
}

std::optional<std::filesystem::path> find_module(
    const std::vector<std::filesystem::path>& candidates) {
  for (const auto& path : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return path;
  }
  return std::nullopt;
}

std::string list_candidates(
    const std::vector<std::filesystem::path>& candidates) {
  std::string text;
  for (const auto& candidate : candidates) {
    text += (text.empty() ? "" : ", ") + candidate.string();
  }
  return text;
}

}  // namespace resnet_cli
