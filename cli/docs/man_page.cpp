// resnet-cli(1), rendered in man(7) roff from the command tree.
#include <cctype>
#include <set>
#include <sstream>

#include "exit_codes.h"
#include "formats_help.h"
#include "help_format.h"
#include "image/image_format.h"
#include "renderers.h"

namespace resnet_cli::cli::docs {

namespace {

// Text safe in roff: backslashes escaped, minus signs as \- (options stay
// searchable and copyable), and no line taken for a request.
std::string roff(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '\\') {
      escaped += "\\e";
    } else if (c == '-') {
      escaped += "\\-";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string line(const std::string& text) {
  const std::string escaped = roff(text);
  if (!escaped.empty() && (escaped[0] == '.' || escaped[0] == '\'')) {
    return "\\&" + escaped + "\n";
  }
  return escaped + "\n";
}

// line(), with a place to break after each comma: a list such as --ext's
// default is one word otherwise, wider than the page.
std::string breakable_line(const std::string& text) {
  std::string broken;
  for (const char c : line(text)) {
    broken += c;
    if (c == ',') broken += "\\:";
  }
  return broken;
}

std::string bold(const std::string& text) {
  return "\\fB" + roff(text) + "\\fR";
}
std::string italic(const std::string& text) {
  return "\\fI" + roff(text) + "\\fR";
}

std::string join(const std::vector<std::string>& parts, const char* glue) {
  std::string text;
  for (const std::string& part : parts) {
    text += (text.empty() ? "" : glue) + part;
  }
  return text;
}

// "resnet-cli classify [OPTIONS] [inputs...]", in roff.
std::string usage(const CommandDoc& command) {
  std::string text =
      bold("resnet-cli" + std::string(command.path.empty() ? "" : " ") +
           command.path) +
      " [" + italic("OPTIONS") + "]";
  if (!command.subcommands.empty()) text += " " + italic("COMMAND");
  for (const OptionDoc& positional : command.positionals) {
    std::string word =
        italic(positional.positional) + (positional.repeatable ? "..." : "");
    text += " " + (positional.required ? word : "[" + word + "]");
  }
  return text;
}

void option_entry(std::ostream& out, const OptionDoc& option) {
  std::vector<std::string> names;
  for (const std::string& name : option.names()) names.push_back(bold(name));
  out << ".TP\n" << join(names, ", ");
  if (!option.type_name.empty()) out << " " << italic(option.type_name);
  out << "\n" << line(option.help);
  std::vector<std::string> notes;
  if (!option.default_value.empty()) {
    notes.push_back("Default: " + option.default_value + ".");
  }
  if (!option.env.empty()) {
    notes.push_back("Environment: " + option.env + ".");
  }
  if (!notes.empty()) out << ".br\n" << breakable_line(join(notes, " "));
}

void positional_entry(std::ostream& out, const OptionDoc& positional) {
  out << ".TP\n"
      << italic(positional.positional) << (positional.repeatable ? "..." : "")
      << "\n"
      << line(positional.help);
}

void command_section(std::ostream& out, const CommandDoc& command) {
  if (command.path.empty()) return;  // the top is the page itself
  out << ".SS \"" << roff("resnet-cli " + command.path) << "\"\n"
      << usage(command) << "\n.PP\n"
      << line(command.help);
  for (const OptionDoc& positional : command.positionals) {
    positional_entry(out, positional);
  }
  for (const OptionDoc& option : command.options) option_entry(out, option);
}

void synopsis(std::ostream& out, const CommandDoc& top) {
  out << ".SH SYNOPSIS\n";
  for (const CommandDoc* command : all_commands(top)) {
    if (!command->subcommands.empty()) continue;
    out << usage(*command) << "\n.br\n";
  }
}

// Each variable once, with the option it sets and the commands it serves.
void environment(std::ostream& out, const CommandDoc& top) {
  out << ".SH ENVIRONMENT\n";
  std::set<std::string> seen;
  for (const CommandDoc* command : all_commands(top)) {
    for (const OptionDoc& option : command->options) {
      if (option.env.empty() || !seen.insert(option.env).second) continue;
      out << ".TP\n"
          << bold(option.env) << "\n"
          << line("The default of " + option.long_names.back() +
                  "; the option wins over the variable.");
    }
  }
  out << ".TP\n"
      << bold("TORCH_HOME") << "\n"
      << line(
             "torch.hub's folder, shared with Python: weights files are "
             "cached in $TORCH_HOME/hub/checkpoints (default: "
             "$XDG_CACHE_HOME/torch, then ~/.cache/torch).");
}

// The table of image formats, each with the extensions folder scans take.
void formats(std::ostream& out) {
  out << ".SH FORMATS\n"
      << line(
             "Read by content, never by extension: the first frame or page, "
             "as PIL's Image.open(f).convert(\"RGB\") reads it. Folders are "
             "scanned for these extensions unless --ext chooses.");
  for (const ImageFormat* format : image_formats()) {
    out << ".TP\n"
        << bold(format->name) << "\n"
        << line(format_extensions(*format));
  }
}

// Each command's examples (help_format.h, the ones its --help ends with):
// the comment, then the command as typed.
void examples(std::ostream& out, const CommandDoc& top) {
  out << ".SH EXAMPLES\n";
  for (const CommandDoc* command : all_commands(top)) {
    const std::vector<CommandExample>& list = command_examples(command->path);
    if (list.empty()) continue;
    out << ".SS \""
        << roff("resnet-cli" + std::string(command->path.empty() ? "" : " ") +
                command->path)
        << "\"\n";
    for (const CommandExample& example : list) {
      out << ".PP\n"
          << line(std::string(
                      1, static_cast<char>(std::toupper(
                             static_cast<unsigned char>(example.what[0])))) +
                  (example.what + 1) + ":")
          << ".RS 4\n.EX\n"
          << line(example.command) << ".EE\n.RE\n";
    }
  }
}

// The tools resnet-cli works beside, as their pages name them.
void see_also(std::ostream& out) {
  out << ".SH SEE ALSO\n.nh\n";
  const char* pages[][2] = {
      {"python3", "1"},   {"jq", "1"},
      {"curl", "1"},      {"find", "1"},
      {"parallel", "1"},  {"sbatch", "1"},
      {"systemctl", "1"}, {"systemd.service", "5"},
      {"lintian", "1"},
  };
  std::string text;
  for (const auto& page : pages) {
    text += (text.empty() ? "" : ",\n") + bold(page[0]) + "(" + page[1] + ")";
  }
  out << text << "\n.PP\n"
      << line(
             "torchvision's models and weights, whose answers resnet-cli "
             "gives: https://pytorch.org/vision/stable/models.html. "
             "README.md in /usr/share/doc/resnet-cli (or the doc folder of "
             "the installation prefix): formats, training, serving, "
             "scale-out, performance.");
}

void exit_status(std::ostream& out) {
  out << ".SH EXIT STATUS\n";
  for (const ExitCodeInfo& entry : exit_code_table()) {
    out << ".TP\n"
        << bold(std::to_string(entry.code)) << "\n"
        << line(entry.meaning);
  }
}

}  // namespace

std::string man_page(const CommandDoc& top, const std::string& version,
                     const std::string& summary) {
  std::ostringstream out;
  out << ".\\\" Generated from resnet-cli's command line by resnet-cli-docs; "
         "do not edit.\n"
      << ".TH RESNET\\-CLI 1 \"\" \"resnet\\-cli " << roff(version)
      << "\" \"User Commands\"\n"
      << ".SH NAME\nresnet\\-cli \\- " << roff(summary)
      << "\n"
      // Options and names stay whole: no hyphenation, ragged right.
      << ".nh\n.ad l\n";
  synopsis(out, top);
  out << ".SH DESCRIPTION\n" << line(top.help);
  out << ".SH OPTIONS\n";
  for (const OptionDoc& option : top.options) option_entry(out, option);
  out << ".SH COMMANDS\n";
  for (const CommandDoc* command : all_commands(top)) {
    command_section(out, *command);
  }
  formats(out);
  examples(out, top);
  environment(out, top);
  exit_status(out);
  out << ".SH FILES\n.TP\n"
      << italic("$TORCH_HOME/hub/checkpoints/") << "\n"
      << line("Downloaded weights files, under torchvision's file names.");
  see_also(out);
  return out.str();
}

}  // namespace resnet_cli::cli::docs
