// Routing: which command the words name (with did-you-mean for the ones
// that name none), one-line messages for CLI11's errors, and the parse that
// ends in one command's settings.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "command_line.h"
#include "command_registry.h"
#include "commands.h"
#include "exit_codes.h"
#include "options.h"
#include "version.h"

namespace resnet_cli::cli {

namespace {

// Edit distance with adjacent transpositions ("optimal string alignment"):
// "clasify" is 1 from "classify", "lsit" 1 from "list".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(
      a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string_view without_dashes(std::string_view word) {
  while (!word.empty() && word.front() == '-') word.remove_prefix(1);
  return word;
}

// The candidate `word` most likely meant: the only one it starts, else the
// nearest within a third of its length (at least 1); "" when none is near.
std::string nearest(const std::string& word,
                    const std::vector<std::string>& candidates) {
  const std::string_view typed = without_dashes(word);
  std::vector<std::string> extended;
  for (const std::string& candidate : candidates) {
    if (typed.size() >= 3 && candidate.size() > word.size() &&
        candidate.compare(0, word.size(), word) == 0) {
      extended.push_back(candidate);
    }
  }
  if (extended.size() == 1) return extended.front();
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, typed.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance =
        edit_distance(typed, without_dashes(candidate));
    if (distance < best_distance && distance < typed.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& suggestion) {
  return suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?";
}

// " (see resnet-cli classify --help)", after `note` when there is one.
std::string see_help(const std::string& command, const std::string& note = "") {
  return " (" + (note.empty() ? "" : note + "; ") + "see resnet-cli " +
         (command.empty() ? "" : command + " ") + "--help)";
}

std::vector<std::string> command_names(const CLI::App& parent) {
  std::vector<std::string> names;
  for (const CLI::App* command :
       parent.get_subcommands(std::function<bool(const CLI::App*)>{})) {
    names.push_back(command->get_name());
  }
  return names;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    text += (text.empty() ? "" : ", ") + word;
  }
  return text;
}

// Every name an option of `command` answers to, the flags it inherits
// (-v, -q) included.
std::vector<std::string> option_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::App* app = &command; app; app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      for (const std::string& name : option->get_snames()) {
        names.push_back("-" + name);
      }
      for (const std::string& name : option->get_lnames()) {
        names.push_back("--" + name);
      }
    }
    if (!app->get_fallthrough()) break;
  }
  return names;
}

// Whether `arg` is one of the top-level flags (-v, -q, --help, -V, ...), or
// a cluster of their short forms (-vv).
bool is_top_level_flag(const CLI::App& top, const std::string& arg) {
  const std::vector<std::string> names = option_names(top);
  if (std::find(names.begin(), names.end(), arg) != names.end()) return true;
  if (arg.size() < 3 || arg[0] != '-' || arg[1] == '-') return false;
  return std::all_of(arg.begin() + 1, arg.end(), [&names](char c) {
    return std::find(names.begin(), names.end(), std::string{'-', c}) !=
           names.end();
  });
}

// What the words before a command's own options say: which command (the
// CLI11 app and its path, "weights list"), whether `help` or `version` was
// asked for (rewritten to --help and --version), and what is wrong when no
// command can be told apart. CLI11 alone answers "A subcommand is required"
// to all of these.
struct Route {
  std::vector<std::string> args;  // argv[1..], help/version words rewritten
  CLI::App* command = nullptr;    // the deepest command named
  std::string path;               // "" at the top
  bool version = false;
  std::string version_format;  // --format before any command: --version's
  std::string error;           // a usage error: the line to print
};

bool asks_for_help(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "--help") return true;
  }
  return false;
}

// Top-level words: flags, --format for --version, `help`, `version`.
// Returns false to stop routing (with route.error set on a mistake).
bool route_top_level_option(Route& route, std::size_t& i, CLI::App& top) {
  const std::string arg = route.args[i];
  if (arg == "-V" || arg == "--version") route.version = true;
  if (arg == "--format" || arg == "-f") {
    if (i + 1 == route.args.size()) {
      route.error = arg + " needs a value";
      return false;
    }
    route.version_format = route.args[++i];
  } else if (arg.rfind("--format=", 0) == 0) {
    route.version_format = arg.substr(9);
  } else if (!is_top_level_flag(top, arg)) {
    route.error = "unknown option '" + arg + "'" +
                  did_you_mean(nearest(arg, option_names(top))) +
                  see_help("", "a command's options go after its name");
    return false;
  }
  ++i;
  return true;
}

Route route_command_line(int argc, const char* const* argv, CLI::App& top) {
  Route route;
  route.args.assign(argv + 1, argv + argc);
  route.command = &top;
  std::size_t i = 0;
  while (i < route.args.size() && route.error.empty()) {
    const std::string arg = route.args[i];
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-') {
      if (!route_top_level_option(route, i, top)) break;
      continue;
    }
    if (route.command == &top && (arg == "help" || arg == "version")) {
      route.args.erase(route.args.begin() + static_cast<std::ptrdiff_t>(i));
      if (arg == "version") route.version = true;
      if (arg == "help") route.args.push_back("--help");
      continue;
    }
    const std::vector<std::string> names = command_names(*route.command);
    const std::string prefix = route.path.empty() ? "" : route.path + " ";
    if (std::find(names.begin(), names.end(), arg) == names.end()) {
      const std::string suggestion = nearest(arg, names);
      route.error =
          "unknown command '" + prefix + arg + "'" +
          did_you_mean(suggestion.empty() ? "" : prefix + suggestion) +
          see_help(route.path);
      break;
    }
    route.command = route.command->get_subcommand(arg);
    route.path = prefix + arg;
    ++i;
    if (command_names(*route.command).empty()) break;  // its own options follow
  }
  for (std::size_t j = 0; j < route.args.size() && route.args[j] != "--"; ++j) {
    if (route.args[j] == "-V" || route.args[j] == "--version") {
      route.version = true;
    }
  }
  if (route.error.empty() && !route.version && !route.version_format.empty()) {
    route.error =
        "--format before a command: a command's options go after "
        "its name" +
        see_help("");
  }
  const bool needs_command = !command_names(*route.command).empty();
  if (route.error.empty() && needs_command && !route.version &&
      !asks_for_help(route.args)) {
    route.error = (route.path.empty() ? "give a command: "
                                      : route.path + ": give a subcommand: ") +
                  joined(command_names(*route.command)) + see_help(route.path);
  }
  return route;
}

// The option of `command` (or of the commands above it) that `message`
// is about, when the command line gave it no value, so that its value came
// from its environment variable; nullptr otherwise.
const CLI::Option* option_from_environment(const CLI::App& command,
                                           const std::string& message) {
  for (const CLI::App* app = &command; app; app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      const std::string& name = option->get_envname();
      const std::vector<CLI::Option*>& given = app->parse_order();
      if (name.empty() || !std::getenv(name.c_str()) ||
          std::find(given.begin(), given.end(), option) != given.end()) {
        continue;
      }
      if (message.rfind(option->get_name() + ":", 0) == 0) return option;
    }
  }
  return nullptr;
}

// The command-line word CLI11 could not place: an option `command` does
// not have (with the nearest one it has, and the commands that have it), or
// a stray argument.
std::string extras_message(const CLI::App& top, const Route& route) {
  const std::vector<std::string> extras = top.remaining(true);
  const auto option = std::find_if(
      extras.begin(), extras.end(),
      [](const std::string& arg) { return arg.size() > 1 && arg[0] == '-'; });
  const std::string where = route.path.empty() ? "" : route.path + ": ";
  if (option == extras.end()) {
    return where + "unexpected argument '" +
           (extras.empty() ? std::string() : extras.front()) + "'" +
           see_help(route.path);
  }
  const std::string name = option->substr(0, option->find('='));
  std::string message =
      where + "unknown option '" + name + "'" +
      did_you_mean(nearest(name, option_names(*route.command)));
  std::vector<std::string> owners;
  for (const OptionInfo& info : option_table_info()) {
    std::stringstream flags(info.flags);
    for (std::string flag; std::getline(flags, flag, ',');) {
      if (flag != name) continue;
      for (const std::string& owner : info.commands) {
        if (std::find(owners.begin(), owners.end(), owner) == owners.end()) {
          owners.push_back(owner);
        }
      }
    }
  }
  return message + see_help(route.path,
                            owners.empty()
                                ? ""
                                : name + " is an option of " + joined(owners));
}

// One line for a CLI11 error: what was wrong and which help to read. A
// value that came from the environment is reported under the variable.
std::string parse_error_message(const CLI::ParseError& error,
                                const CLI::App& top, const Route& route) {
  if (dynamic_cast<const CLI::ExtrasError*>(&error)) {
    return extras_message(top, route);
  }
  const std::string what = error.what();
  const std::string where = route.path.empty() ? "" : route.path + ": ";
  if (const CLI::Option* option =
          option_from_environment(*route.command, what)) {
    const std::string reason = what.substr(option->get_name().size() + 1);
    return option->get_envname() + " (the environment's " + option->get_name() +
           "):" + reason;
  }
  return where + what + see_help(route.path);
}

}  // namespace

ParseOutcome parse_command_line(int argc, const char* const* argv,
                                std::ostream& out, std::ostream& err) {
  ParseOutcome outcome;
  Settings& settings = outcome.settings;
  OptionValues values;
  CLI::App app;
  const CommandLine line = declare_command_line(app, values);
  CLI::Option* const verbose = line.verbose;
  CLI::Option* const quiet = line.quiet;

  Route route = route_command_line(argc, argv, app);
  if (!route.error.empty()) {
    err << "resnet-cli: " << route.error << "\n";
    outcome.exit_code = kExitUsage;
    return outcome;
  }
  if (route.version) {
    const std::optional<ReportFormat> format = find_enum<ReportFormat>(
        route.version_format.empty() ? "text" : route.version_format);
    if (!format) {
      err << "resnet-cli: --version --format: '" << route.version_format
          << "' is not one of text,json\n";
      outcome.exit_code = kExitUsage;
      return outcome;
    }
    out << version_report(*format == ReportFormat::kJson);
    return outcome;
  }
  try {
    std::vector<std::string> reversed(route.args.rbegin(), route.args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = exit_code_for(e);
    if (outcome.exit_code == kExitOk) {  // --help
      app.exit(e, out, err);
      return outcome;
    }
    err << "resnet-cli: " << parse_error_message(e, app, route) << "\n";
    return outcome;
  }
  settings.verbosity =
      static_cast<int>(verbose->count()) - (quiet->count() ? 1 : 0);
  for (const auto& [command_app, command] : line.leaves) {
    if (command_app->parsed()) settings.command = command;
  }
  try {
    if (settings.command != Command::kNone) {
      command_spec(settings.command).settle(settings, values);
    }
  } catch (const Error& e) {
    err << "resnet-cli: " << e.what() << "\n";
    outcome.exit_code = kExitUsage;
    return outcome;
  }
  outcome.run = true;
  return outcome;
}

// The command line as typed, for messages that give a command to run next
// (commands.h).
namespace {

// The arguments main recorded (record_command_line).
std::vector<std::string>& command_line() {
  static std::vector<std::string> arguments;
  return arguments;
}

// `text` as one word of a POSIX shell: as is when it is made of characters
// no shell treats specially, else in single quotes.
std::string shell_word(const std::string& text) {
  const bool plain =
      !text.empty() && text.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                           "XYZ0123456789_-+=/.,:@%") == std::string::npos;
  if (plain) return text;
  std::string quoted = "'";
  for (const char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

}  // namespace

void record_command_line(int argc, char** argv) {
  command_line().assign(argv + std::min(argc, 1), argv + argc);
}

std::string command_line_with(const std::string& extra) {
  std::string text = "resnet-cli";
  bool has_extra = false;
  for (const std::string& argument : command_line()) {
    text += " " + shell_word(argument);
    has_extra = has_extra || argument == extra;
  }
  if (!has_extra && !extra.empty()) text += " " + shell_word(extra);
  return text;
}

}  // namespace resnet_cli::cli
