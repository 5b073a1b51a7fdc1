// The fish completion: `complete` lines conditioned on the command path,
// which a generated function reads from the words typed so far.
#include <sstream>

#include "renderers.h"

namespace resnet_cli::cli::docs {

namespace {

std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

std::string words(const std::vector<std::string>& list) {
  std::string text;
  for (const std::string& word : list) text += (text.empty() ? "" : " ") + word;
  return text;
}

// What the walker reads: which options take a value, the subcommands.
void lookups(std::ostream& out, const CommandDoc& top) {
  out << "\nfunction __resnet_cli_takes_value -a path option\n"
      << "    switch \"$path $option\"\n";
  for (const CommandDoc* command : all_commands(top)) {
    std::vector<OptionDoc> options = command->options;
    options.insert(options.end(), command->inherited.begin(),
                   command->inherited.end());
    for (const OptionDoc& option : options) {
      if (option.kind == ValueKind::kNone) continue;
      out << "        case";
      for (const std::string& name : option.names()) {
        out << " " << single_quoted(command->path + " " + name);
      }
      out << "\n            return 0\n";
    }
  }
  out << "    end\n    return 1\nend\n"
      << "\nfunction __resnet_cli_subcommands -a path\n"
      << "    switch \"$path\"\n";
  for (const CommandDoc* command : all_commands(top)) {
    if (command->subcommands.empty()) continue;
    std::vector<std::string> names;
    for (const CommandDoc& sub : command->subcommands)
      names.push_back(sub.name);
    out << "        case " << single_quoted(command->path) << "\n"
        << "            printf '%s\\n' " << words(names) << "\n";
  }
  out << "    end\nend\n";
}

constexpr const char* kWalker = R"FISH(
# The command path ("weights list") the words before the cursor name.
function __resnet_cli_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path ''
    set -l skip 0
    for token in $tokens
        if test $skip -eq 1
            set skip 0
        else if test "$token" = --
            break
        else if string match -q -- '-*' $token
            if not string match -q -- '*=*' $token
                and __resnet_cli_takes_value "$path" $token
                set skip 1
            end
        else if contains -- $token (__resnet_cli_subcommands "$path")
            set path (string trim -- "$path $token")
        end
    end
    echo $path
end

function __resnet_cli_path_is -a expected
    set -l path (__resnet_cli_path)
    test "$path" = "$expected"
end

complete -c resnet-cli -f
)FISH";

// The `complete` arguments for what a value is.
std::string value_arguments(const OptionDoc& option) {
  switch (option.kind) {
    case ValueKind::kNone:
      return "";
    case ValueKind::kChoice:
      return " -x -a " + single_quoted(words(option.choices));
    case ValueKind::kChoiceOrFile:
      return " -r -F -a " + single_quoted(words(option.choices));
    case ValueKind::kFile:
    case ValueKind::kPath:
      return " -r -F";
    case ValueKind::kDirectory:
      return " -x -a '(__fish_complete_directories)'";
    case ValueKind::kOther:
      break;
  }
  return " -x";
}

std::string condition(const CommandDoc& command) {
  return " -n " +
         single_quoted("__resnet_cli_path_is " + single_quoted(command.path));
}

void command_lines(std::ostream& out, const CommandDoc& command) {
  const std::string prefix = "complete -c resnet-cli" + condition(command);
  for (const CommandDoc& sub : command.subcommands) {
    out << prefix << " -a " << sub.name << " -d "
        << single_quoted(brief(sub.help)) << "\n";
  }
  std::vector<OptionDoc> options = command.options;
  options.insert(options.end(), command.inherited.begin(),
                 command.inherited.end());
  for (const OptionDoc& option : options) {
    out << prefix;
    for (const std::string& name : option.short_names) {
      out << " -s " << name.substr(1);
    }
    for (const std::string& name : option.long_names) {
      out << " -l " << name.substr(2);
    }
    out << value_arguments(option) << " -d "
        << single_quoted(brief(option.help)) << "\n";
  }
  if (!command.positionals.empty()) {
    const OptionDoc& positional = command.positionals.front();
    std::string arguments = value_arguments(positional);
    if (arguments.rfind(" -x", 0) == 0) arguments.erase(0, 3);
    if (arguments.rfind(" -r", 0) == 0) arguments.erase(0, 3);
    if (!arguments.empty()) out << prefix << arguments << "\n";
  }
}

}  // namespace

std::string fish_completion(const CommandDoc& top) {
  std::ostringstream out;
  out << "# fish completion for resnet-cli, generated from its command line "
         "(its option\n# table) by resnet-cli-docs at build time: do not "
         "edit.\n";
  lookups(out, top);
  out << kWalker;
  for (const CommandDoc* command : all_commands(top)) {
    command_lines(out, *command);
  }
  return out.str();
}

}  // namespace resnet_cli::cli::docs
