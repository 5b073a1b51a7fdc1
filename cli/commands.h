#pragma once

#include <iosfwd>

#include "options.h"

namespace resnet_cli::cli {

// Runs the parsed command, writing results to `out`. Returns the exit code;
// fatal failures throw resnet_cli::Error.
int run_command(const Settings& settings, std::ostream& out);

}  // namespace resnet_cli::cli
