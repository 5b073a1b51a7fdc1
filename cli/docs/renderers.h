// The documents generated from the command tree (command_tree.h): the man
// page and the bash, zsh and fish completions. Each returns the file's whole
// text; nothing here touches the file system.
#pragma once

#include <string>

#include "command_tree.h"

namespace resnet_cli::cli::docs {

// resnet-cli(1) in man(7) roff: every command with its options, the
// environment variables, the exit codes. `summary` is the NAME line's text.
std::string man_page(const CommandDoc& top, const std::string& version,
                     const std::string& summary);

// For bash-completion's completions folder (completes "resnet-cli").
std::string bash_completion(const CommandDoc& top);

// For a folder on zsh's fpath (_resnet-cli, #compdef resnet-cli).
std::string zsh_completion(const CommandDoc& top);

// For fish's vendor_completions.d (resnet-cli.fish).
std::string fish_completion(const CommandDoc& top);

}  // namespace resnet_cli::cli::docs
