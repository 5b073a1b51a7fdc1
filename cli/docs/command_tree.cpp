#include "command_tree.h"

#include <CLI/CLI.hpp>

#include "options.h"
#include "weights/model_spec.h"
#include "weights/registry.h"

namespace resnet_cli::cli::docs {

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t end;
       (end = text.find(separator, start)) != std::string::npos;
       start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// What `resnet-cli --weights` takes: every entry by its qualified name and
// alias, and the names that mean an entry of --arch's enum.
std::vector<std::string> weights_names() {
  std::vector<std::string> names;
  for (const WeightsInfo& entry : all_weights()) {
    names.push_back(entry.qualified_name());
    for (const std::string& alias : entry.aliases) {
      names.push_back(entry.enum_name + "." + alias);
    }
  }
  for (const char* short_name : {"IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT"}) {
    names.push_back(short_name);
  }
  return names;
}

std::vector<std::string> architecture_names() {
  std::vector<std::string> names;
  for (const ArchSpec& spec : all_architectures()) {
    names.emplace_back(spec.name);
  }
  return names;
}

// The kind and choices a type name stands for (the names option_table.cpp
// and settings.cpp give values).
void classify_value(OptionDoc& option) {
  const std::string& type = option.type_name;
  if (type.empty()) {
    option.kind = ValueKind::kNone;
  } else if (type.front() == '{' && type.back() == '}') {
    option.kind = ValueKind::kChoice;
    option.choices = split(type.substr(1, type.size() - 2), ',');
  } else if (type == "WEIGHTS" || type == "ARCH") {
    option.kind = ValueKind::kChoice;
    option.choices = type == "WEIGHTS" ? weights_names() : architecture_names();
  } else if (type == "WEIGHTS|FILE") {
    option.kind = ValueKind::kChoiceOrFile;
    option.choices = weights_names();
  } else if (type == "FILE") {
    option.kind = ValueKind::kFile;
  } else if (type == "PATH") {
    option.kind = ValueKind::kPath;
  } else if (type == "DIR") {
    option.kind = ValueKind::kDirectory;
  } else {
    option.kind = ValueKind::kOther;
  }
}

OptionDoc option_doc(const CLI::Option& option) {
  OptionDoc doc;
  for (const std::string& name : option.get_snames()) {
    doc.short_names.push_back("-" + name);
  }
  for (const std::string& name : option.get_lnames()) {
    doc.long_names.push_back("--" + name);
  }
  if (option.get_positional()) doc.positional = option.get_name(true, false);
  if (option.get_type_size_max() > 0) {
    // CLI11 appends the validators' descriptions: "INT:INT in [0 - 100]".
    const std::string type = option.get_type_name();
    doc.type_name = type.substr(0, type.find(':'));
  }
  classify_value(doc);
  doc.repeatable = option.get_items_expected_max() > 1;
  doc.required = option.get_required();
  doc.help = option.get_description();
  doc.default_value = option.get_default_str();
  doc.env = option.get_envname();
  return doc;
}

CommandDoc command_doc(const CLI::App& app, const std::string& path,
                       const std::vector<OptionDoc>& above) {
  CommandDoc doc;
  doc.name = app.get_name();
  doc.path = path;
  doc.help = app.get_description();
  doc.requires_subcommand = app.get_require_subcommand_min() > 0;
  for (const CLI::Option* option : app.get_options()) {
    OptionDoc entry = option_doc(*option);
    (entry.positional.empty() ? doc.options : doc.positionals)
        .push_back(std::move(entry));
  }
  if (app.get_fallthrough()) doc.inherited = above;
  // What the subcommands inherit: what this one takes, but its --help.
  std::vector<OptionDoc> below = doc.inherited;
  for (const OptionDoc& option : doc.options) {
    if (option.long_names != std::vector<std::string>{"--help"}) {
      below.push_back(option);
    }
  }
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue;  // hidden
    doc.subcommands.push_back(command_doc(
        *sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(),
        below));
  }
  return doc;
}

void collect(const CommandDoc& command, std::vector<const CommandDoc*>& all) {
  all.push_back(&command);
  for (const CommandDoc& sub : command.subcommands) collect(sub, all);
}

}  // namespace

std::vector<std::string> OptionDoc::names() const {
  std::vector<std::string> all = short_names;
  all.insert(all.end(), long_names.begin(), long_names.end());
  return all;
}

CommandDoc command_tree() {
  CLI::App app;
  OptionValues values;
  describe_command_line(app, values);
  return command_doc(app, "", {});
}

std::string brief(const std::string& help) {
  std::size_t end = help.size();
  for (const char* stop : {"; ", ". ", ": ", " ("}) {
    const std::size_t at = help.find(stop);
    if (at != std::string::npos && at >= 8 && at < end) end = at;
  }
  std::string text = help.substr(0, end);
  if (text.size() > 72) text = text.substr(0, text.rfind(' ', 69)) + "...";
  return text;
}

std::vector<const CommandDoc*> all_commands(const CommandDoc& top) {
  std::vector<const CommandDoc*> all;
  collect(top, all);
  return all;
}

}  // namespace resnet_cli::cli::docs
