// The declarations: resnet-cli's whole command line on a CLI11 app, from the
// command registry and the option table.
#include "command_line.h"

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "command_registry.h"
#include "exit_codes.h"
#include "formats_help.h"
#include "help_format.h"
#include "option_table.h"

namespace resnet_cli::cli {

namespace {

CLI::App* add_app(CLI::App& parent, CommandLine& line, const std::string& name,
                  const char* help) {
  CLI::App* app = parent.add_subcommand(name, help);
  app->group("Commands");  // the heading --help lists them under
  // Every command binds its options to the same OptionValues. Without a
  // parse-complete callback CLI11 reads environment variables for every
  // command, typed or not, so RESNET_CLI_TOPK would override `classify
  // --topk 2` through serve's --topk; with one, only the typed command's are.
  app->parse_complete_callback([] {});
  line.all.push_back(app);
  return app;
}

// The group app of `word` ("weights"), made on first use.
CLI::App* group_app(CLI::App& top, CommandLine& line, const std::string& word) {
  for (CLI::App* existing : line.all) {
    if (existing->get_parent() == &top && existing->get_name() == word) {
      return existing;
    }
  }
  const char* help = "";
  for (const CommandGroup& group : command_groups()) {
    if (word == group.name) help = group.help;
  }
  CLI::App* app = add_app(top, line, word, help);
  app->require_subcommand(1);
  return app;
}

}  // namespace

CommandLine declare_command_line(CLI::App& app, OptionValues& values) {
  app.name("resnet-cli");
  app.description(
      "resnet-cli: torchvision's ResNet image classifiers (ResNet18 to 152, "
      "ResNeXt, Wide ResNet), same answers, one native binary. `resnet-cli "
      "help COMMAND` (or COMMAND --help) lists a command's options");
  app.set_version_flag("-V,--version", std::string(),
                       "Version, build and what this machine offers; with "
                       "--format json for scripts");
  app.footer(formats_help() + "\n\n" + exit_codes_help());
  // Before the commands: they inherit it.
  app.formatter(std::make_shared<HelpFormatter>());
  const char* logging = group_title(OptionGroup::kLogging);
  app.get_version_ptr()->group(logging);
  CommandLine line;
  line.verbose =
      app.add_flag("-v,--verbose", "More log output on stderr (repeatable)")
          ->group(logging);
  line.quiet =
      app.add_flag("-q,--quiet", "Only errors on stderr")->group(logging);
  for (const CommandSpec& spec : command_registry()) {
    const std::string path = spec.path;
    const std::size_t space = path.find(' ');
    CLI::App& parent = space == std::string::npos
                           ? app
                           : *group_app(app, line, path.substr(0, space));
    const std::string name =
        space == std::string::npos ? path : path.substr(space + 1);
    CLI::App* command = add_app(parent, line, name, spec.help);
    if (spec.options) attach_options(*command, values, spec.options);
    if (spec.arguments) spec.arguments(*command, values);
    line.leaves.emplace_back(command, spec.command);
  }
  // -v and -q work after the command name too.
  for (CLI::App* command : line.all) command->fallthrough();
  return line;
}

void describe_command_line(CLI::App& app, OptionValues& values) {
  declare_command_line(app, values);
}

}  // namespace resnet_cli::cli
