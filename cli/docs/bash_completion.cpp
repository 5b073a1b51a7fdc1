// The bash completion: the tree as four lookup functions (subcommands,
// options, what an option's value is, what the positionals are) and one
// fixed function that walks the words typed so far.
#include <functional>
#include <sstream>

#include "renderers.h"

namespace resnet_cli::cli::docs {

namespace {

// What the walker below reads from the lookup functions: the words typed so
// far, the command path they name, and what the word under the cursor is.
constexpr const char* kWalker = R"BASH(
# Offers what a value described by $1 (a kind, then choices) can be.
_resnet_cli_offer() {
  local kind=${1%% *} choices=${1#* }
  case $kind in
    choice) COMPREPLY+=($(compgen -W "$choices" -- "$cur")) ;;
    choice-or-file)
      COMPREPLY+=($(compgen -W "$choices" -- "$cur"))
      _resnet_cli_files
      ;;
    file | path) _resnet_cli_files ;;
    dir) _resnet_cli_folders ;;
  esac
}

_resnet_cli_folders() {
  if declare -F _filedir >/dev/null; then
    _filedir -d
  else
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY+=($(compgen -d -- "$cur"))
  fi
}

_resnet_cli_files() {
  if declare -F _filedir >/dev/null; then
    _filedir # bash-completion's: quoting, ~ and folders done right
  else
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY+=($(compgen -f -- "$cur"))
  fi
}

_resnet_cli() {
  local cur=${COMP_WORDS[COMP_CWORD]} path='' option='' word i REPLY
  local options_done=''
  COMPREPLY=()
  # bash splits "--format=js" at '=' (COMP_WORDBREAKS).
  if [[ $cur == '=' ]]; then
    option=${COMP_WORDS[COMP_CWORD - 1]} cur=''
  elif ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[COMP_CWORD - 1]} == '=' ]]; then
    option=${COMP_WORDS[COMP_CWORD - 2]}
  fi
  # The words before the cursor: command names extend the path, and an
  # option's value is skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ -n $options_done ]]; then continue; fi
    case $word in
      --) options_done=1 ;;
      -*)
        _resnet_cli_value "$path" "$word"
        if [[ -n $REPLY ]]; then
          if [[ ${COMP_WORDS[i + 1]} == '=' ]]; then ((i += 2)); else ((i++)); fi
        fi
        ;;
      *)
        _resnet_cli_subcommands "$path"
        if [[ " $REPLY " == *" $word "* ]]; then path=${path:+$path }$word; fi
        ;;
    esac
  done
  if [[ -z $option && -z $options_done && $COMP_CWORD -ge 2 ]]; then
    option=${COMP_WORDS[COMP_CWORD - 1]}
  fi
  if [[ $option == -* ]]; then
    _resnet_cli_value "$path" "$option"
    if [[ -n $REPLY ]]; then
      _resnet_cli_offer "$REPLY"
      return
    fi
  fi
  if [[ $cur == -* && -z $options_done ]]; then
    _resnet_cli_options "$path"
    COMPREPLY=($(compgen -W "$REPLY" -- "$cur"))
    return
  fi
  _resnet_cli_subcommands "$path"
  if [[ -n $REPLY ]]; then COMPREPLY=($(compgen -W "$REPLY" -- "$cur")); fi
  _resnet_cli_positional "$path"
  if [[ -n $REPLY ]]; then _resnet_cli_offer "$REPLY"; fi
} &&
  complete -F _resnet_cli resnet-cli
)BASH";

std::string quoted(const std::string& text) { return "'" + text + "'"; }

std::string words(const std::vector<std::string>& list) {
  std::string text;
  for (const std::string& word : list) text += (text.empty() ? "" : " ") + word;
  return text;
}

// "choice a b c", "file", ...: what _resnet_cli_offer takes; "" for a flag.
std::string value_description(const OptionDoc& option) {
  switch (option.kind) {
    case ValueKind::kNone:
      return "";
    case ValueKind::kChoice:
      return "choice " + words(option.choices);
    case ValueKind::kChoiceOrFile:
      return "choice-or-file " + words(option.choices);
    case ValueKind::kFile:
      return "file";
    case ValueKind::kPath:
      return "path";
    case ValueKind::kDirectory:
      return "dir";
    case ValueKind::kOther:
      break;
  }
  return "other";
}

// One `case` of a lookup function: `patterns` (already quoted) give `reply`.
void branch(std::ostream& out, const std::vector<std::string>& patterns,
            const std::string& reply) {
  std::string joined;
  for (const std::string& pattern : patterns) {
    joined += (joined.empty() ? "" : " | ") + pattern;
  }
  out << "    " << joined << ") REPLY=" << quoted(reply) << " ;;\n";
}

void lookup_function(std::ostream& out, const char* name, const char* comment,
                     const char* subject,
                     const std::function<void(std::ostream&)>& branches) {
  out << "\n# " << comment << "\n"
      << name << "() {\n  case " << subject << " in\n";
  branches(out);
  out << "    *) REPLY='' ;;\n  esac\n}\n";
}

std::vector<OptionDoc> options_of(const CommandDoc& command) {
  std::vector<OptionDoc> all = command.options;
  all.insert(all.end(), command.inherited.begin(), command.inherited.end());
  return all;
}

void value_branches(std::ostream& out, const CommandDoc& top) {
  for (const CommandDoc* command : all_commands(top)) {
    for (const OptionDoc& option : options_of(*command)) {
      if (option.kind == ValueKind::kNone) continue;
      std::vector<std::string> patterns;
      for (const std::string& name : option.names()) {
        patterns.push_back(quoted(command->path + " " + name));
      }
      branch(out, patterns, value_description(option));
    }
  }
}

}  // namespace

std::string bash_completion(const CommandDoc& top) {
  std::ostringstream out;
  out << "# bash completion for resnet-cli                 -*- shell-script "
         "-*-\n# Generated from resnet-cli's command line (its option table) "
         "by resnet-cli-docs\n# at build time: do not edit.\n";
  const auto commands = all_commands(top);
  lookup_function(out, "_resnet_cli_subcommands",
                  "The subcommands of command path $1 ('' is the top).", "$1",
                  [&](std::ostream& o) {
                    for (const CommandDoc* command : commands) {
                      std::vector<std::string> names;
                      for (const auto& sub : command->subcommands) {
                        names.push_back(sub.name);
                      }
                      if (!names.empty()) {
                        branch(o, {quoted(command->path)}, words(names));
                      }
                    }
                  });
  lookup_function(out, "_resnet_cli_options", "The options of command path $1.",
                  "$1", [&](std::ostream& o) {
                    for (const CommandDoc* command : commands) {
                      std::vector<std::string> names;
                      for (const OptionDoc& option : options_of(*command)) {
                        for (const auto& name : option.names()) {
                          names.push_back(name);
                        }
                      }
                      branch(o, {quoted(command->path)}, words(names));
                    }
                  });
  lookup_function(out, "_resnet_cli_value",
                  "What option $2 of command path $1 takes: '' for a flag, "
                  "else a kind and choices.",
                  "\"$1 $2\"",
                  [&](std::ostream& o) { value_branches(o, top); });
  lookup_function(out, "_resnet_cli_positional",
                  "What the arguments of command path $1 are.", "$1",
                  [&](std::ostream& o) {
                    for (const CommandDoc* command : commands) {
                      if (command->positionals.empty()) continue;
                      branch(o, {quoted(command->path)},
                             value_description(command->positionals.front()));
                    }
                  });
  out << kWalker;
  return out.str();
}

}  // namespace resnet_cli::cli::docs
