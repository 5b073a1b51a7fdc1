// Where resnet-cli's modules (the model side, the video reader) are found:
// beside the binary (the build tree), then in ../lib/resnet-cli/ (where
// cmake --install and the Debian package put them).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace resnet_cli {

// The places a module file named `name` is looked for, in order.
std::vector<std::filesystem::path> module_candidates(const std::string& name);

// The first candidate that exists; nullopt when none does.
std::optional<std::filesystem::path> find_module(
    const std::vector<std::filesystem::path>& candidates);

// "a, b": the candidates, for a message saying where a module was not.
std::string list_candidates(
    const std::vector<std::filesystem::path>& candidates);

}  // namespace resnet_cli
