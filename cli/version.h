// --version: what was built (version, commit, build type, library versions),
// and what this machine offers it (CUDA, native bf16, default threads). Read
// from facts fixed when configuring and from the file system and the CPU;
// LibTorch is never loaded to find out.
#pragma once

#include <string>

namespace resnet_cli::cli {

// The report, lines of "key: value" or (json) one JSON object; both end in
// a newline.
std::string version_report(bool json);

}  // namespace resnet_cli::cli
