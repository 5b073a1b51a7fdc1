// resnet-cli's command line as data, read from the CLI11 tree that
// describe_command_line() declares (the one --help prints): what the man page
// and the shell completions are generated from, so that none of them can
// drift from --help.
#pragma once

#include <string>
#include <vector>

namespace resnet_cli::cli::docs {

// What a value is, from its type name in --help: what a shell offers for it.
enum class ValueKind {
  kNone,          // a flag: no value
  kChoice,        // one of `choices`: {text,json}, WEIGHTS, ARCH in --help
  kFile,          // FILE
  kPath,          // PATH: a file or a folder
  kDirectory,     // DIR: a folder (made when missing)
  kChoiceOrFile,  // WEIGHTS|FILE: a registry name or a file
  kOther,         // free text, a number, a URL: nothing to offer
};

struct OptionDoc {
  std::vector<std::string> short_names;  // "-f"
  std::vector<std::string> long_names;   // "--format"
  std::string positional;  // the positional's name ("inputs"); "" otherwise
  std::string type_name;   // "FILE", "{text,json}", "" for a flag
  ValueKind kind = ValueKind::kNone;
  std::vector<std::string> choices;  // kChoice, kChoiceOrFile
  bool repeatable = false;  // takes several values (positional inputs...)
  bool required = false;
  std::string help;
  std::string default_value;  // "" when none is shown
  std::string env;            // "" when none

  // Every name: the short ones, then the long ones.
  std::vector<std::string> names() const;
};

struct CommandDoc {
  std::string name;  // "list"; "resnet-cli" at the top
  std::string path;  // "weights list"; "" at the top
  std::string help;
  std::vector<OptionDoc> options;      // its own, --help included
  std::vector<OptionDoc> positionals;  // in order
  std::vector<CommandDoc> subcommands;
  bool requires_subcommand = false;
  // Options of the commands above that CLI11 also takes here (-v, -q).
  std::vector<OptionDoc> inherited;
};

// The whole tree, top-level command first.
CommandDoc command_tree();

// The first clause of a help text, for the one-line descriptions shells show.
std::string brief(const std::string& help);

// Every command of the tree, depth first, the top included.
std::vector<const CommandDoc*> all_commands(const CommandDoc& top);

}  // namespace resnet_cli::cli::docs
