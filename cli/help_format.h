// How --help reads, in the manner of ripgrep and git: options in groups
// (input, model, preprocessing, training, output, server, performance,
// logging), each option on a line of its own with its value's type once
// ("--topk INT", "--format {text,json,...}"), its description wrapped in a
// column beside it, then what it defaults to, its range and its variable once
// each; a few examples of the command close the text. The option table
// (option_table.cpp) gives each row its group; the examples are here, where
// the man page's EXAMPLES section reads them too.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace resnet_cli::cli {

// The groups, in the order --help lists them.
enum class OptionGroup {
  kInput,
  kModel,
  kPreprocessing,
  kTraining,
  kOutput,
  kServer,
  kPerformance,
  kLogging,
};

// "Input", "Model", ...: the heading --help prints.
const char* group_title(OptionGroup group);

struct CommandExample {
  const char* command;  // "resnet-cli classify photos/ -f jsonl -o run.jsonl"
  const char* what;     // what it does, one line
};

// The examples of a command, by its path ("classify", "weights list"; "" is
// the top level): what --help ends with and the man page's EXAMPLES.
const std::vector<CommandExample>& command_examples(std::string_view path);

// A command's path below the top ("weights list"; "" at the top).
std::string command_path(const CLI::App& app);

// CLI11's formatter, laid out as above. Set on the top-level app before the
// commands are added, so that they inherit it.
class HelpFormatter : public CLI::Formatter {
 public:
  // Text width: descriptions wrap so that no line passes it.
  static constexpr std::size_t kWidth = 80;
  // Where descriptions start; a longer name puts its description on the
  // next line.
  static constexpr std::size_t kColumn = 30;

  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
  std::string make_option(const CLI::Option* option,
                          bool is_positional) const override;
  std::string make_subcommand(const CLI::App* sub) const override;
  std::string make_footer(const CLI::App* app) const override;
};

}  // namespace resnet_cli::cli
