// The zsh completion: one _arguments function per command, subcommands
// through _describe.
#include <sstream>

#include "renderers.h"

namespace resnet_cli::cli::docs {

namespace {

// Inside single quotes.
std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

// Text for _arguments' [description] and _describe's "name:description".
std::string description(const std::string& help) {
  std::string text;
  for (char c : brief(help)) {
    if (c == '[' || c == ']' || c == '\\') text += '\\';
    text += c;
  }
  return text;
}

std::string function_name(const CommandDoc& command) {
  std::string name = "_resnet-cli";
  for (char c : command.path) name += c == ' ' ? '_' : c;
  if (!command.path.empty()) name.insert(11, "_");
  return name;
}

std::string choices_action(const std::vector<std::string>& choices) {
  std::string text = "(";
  for (const std::string& choice : choices) {
    text += (text.size() > 1 ? " " : "") + choice;
  }
  return text + ")";
}

// The ":message:action" after an option or positional.
std::string value_spec(const OptionDoc& option, const std::string& message) {
  switch (option.kind) {
    case ValueKind::kNone:
      return "";
    case ValueKind::kChoice:
      return ":" + message + ":" + choices_action(option.choices);
    case ValueKind::kChoiceOrFile:
      return ":" + message + ":_alternative " +
             single_quoted("names:name:" + choices_action(option.choices)) +
             " 'files:file:_files'";
    case ValueKind::kFile:
    case ValueKind::kPath:
      return ":" + message + ":_files";
    case ValueKind::kDirectory:
      return ":" + message + ":_files -/";
    case ValueKind::kOther:
      break;
  }
  return ":" + message + ": ";
}

std::string message_of(const OptionDoc& option) {
  std::string message =
      option.positional.empty() ? option.type_name : option.positional;
  for (char& c : message) {
    if (c == ':') c = ' ';
  }
  return message;
}

// One _arguments spec for an option: its names exclude each other, a value
// may follow in the same word (-fjson, --format=json) or the next.
std::string option_spec(const OptionDoc& option) {
  const std::vector<std::string> names = option.names();
  const bool help = option.long_names == std::vector<std::string>{"--help"};
  const bool repeatable =
      option.long_names == std::vector<std::string>{"--verbose"};
  std::string exclusions = help ? "(- *)" : repeatable ? "*" : "";
  if (names.size() > 1 && !help && !repeatable) {
    exclusions = "(";
    for (const std::string& name : names) {
      exclusions += (exclusions.size() > 1 ? " " : "") + name;
    }
    exclusions += ")";
  }
  std::string spelled;
  for (const std::string& name : names) {
    std::string suffix;
    if (option.kind != ValueKind::kNone) suffix = name.size() == 2 ? "+" : "=";
    spelled += (spelled.empty() ? "" : ",") + name + suffix;
  }
  if (names.size() > 1) spelled = "{" + spelled + "}";
  return single_quoted(exclusions) + spelled +
         single_quoted("[" + description(option.help) + "]" +
                       value_spec(option, message_of(option)));
}

std::string positional_spec(const OptionDoc& positional) {
  const std::string value = value_spec(positional, message_of(positional));
  if (positional.repeatable) return single_quoted("*" + value);
  return single_quoted((positional.required ? "" : ":") + value);
}

void command_function(std::ostream& out, const CommandDoc& command) {
  out << "\n" << function_name(command) << "() {\n";
  const bool has_subcommands = !command.subcommands.empty();
  if (has_subcommands) {
    out << "  local curcontext=$curcontext state state_descr line\n"
        << "  typeset -A opt_args\n";
  }
  out << "  _arguments -s -S" << (has_subcommands ? " -C" : "");
  std::vector<OptionDoc> options = command.options;
  options.insert(options.end(), command.inherited.begin(),
                 command.inherited.end());
  for (const OptionDoc& option : options) {
    out << " \\\n    " << option_spec(option);
  }
  for (const OptionDoc& positional : command.positionals) {
    out << " \\\n    " << positional_spec(positional);
  }
  if (!has_subcommands) {
    out << "\n}\n";
    return;
  }
  out << " \\\n    ': :->command' \\\n    '*:: :->argument'\n"
      << "  case $state in\n    command)\n      local -a commands=(\n";
  for (const CommandDoc& sub : command.subcommands) {
    out << "        " << single_quoted(sub.name + ":" + description(sub.help))
        << "\n";
  }
  out << "      )\n      _describe -t commands command commands\n      ;;\n"
      << "    argument)\n      case $line[1] in\n";
  for (const CommandDoc& sub : command.subcommands) {
    out << "        " << sub.name << ") " << function_name(sub) << " ;;\n";
  }
  out << "      esac\n      ;;\n  esac\n}\n";
}

}  // namespace

std::string zsh_completion(const CommandDoc& top) {
  std::ostringstream out;
  out << "#compdef resnet-cli\n"
      << "# zsh completion for resnet-cli, generated from its command line "
         "(its option\n# table) by resnet-cli-docs at build time: do not "
         "edit.\n";
  for (const CommandDoc* command : all_commands(top)) {
    command_function(out, *command);
  }
  out << "\n_resnet-cli \"$@\"\n";
  return out.str();
}

}  // namespace resnet_cli::cli::docs
