// The option table itself, as llama.cpp's test-arg-parser checks its own: no
// flag or variable declared twice, every option in its commands' --help and
// in README, every variable bound, and the exit codes in step everywhere.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "command_registry.h"
#include "exit_codes.h"
#include "options.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;

namespace {

std::vector<std::string> split_flags(const std::string& flags) {
  std::vector<std::string> names;
  std::stringstream stream(flags);
  for (std::string name; std::getline(stream, name, ',');) {
    names.push_back(name);
  }
  return names;
}

std::string long_flag(const OptionInfo& option) {
  return split_flags(option.flags).back();
}

std::string help_of(const std::string& command) {
  std::vector<std::string> args = {"resnet-cli"};
  std::stringstream words(command);
  for (std::string word; words >> word;) args.push_back(word);
  args.push_back("--help");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  const ParseOutcome outcome =
      parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  CHECK(outcome.exit_code == 0);
  return out.str();
}

std::string readme() {
  return testing::read_file(std::filesystem::path(RESNET_CLI_SOURCE_DIR) /
                            "README.md");
}

}  // namespace

TEST_CASE("option table: no flag declared twice for a command", "[options]") {
  std::map<std::string, std::set<std::string>> flags_by_command;
  for (const OptionInfo& option : option_table_info()) {
    INFO(option.flags);
    CHECK_FALSE(option.commands.empty());
    CHECK_FALSE(option.help.empty());
    for (const std::string& command : option.commands) {
      for (const std::string& flag : split_flags(option.flags)) {
        INFO(command << " " << flag);
        CHECK(flags_by_command[command].insert(flag).second);
      }
    }
  }
}

TEST_CASE("option table: every variable belongs to one option and is bound",
          "[options]") {
  std::map<std::string, std::string> option_of_variable;
  for (const OptionInfo& option : option_table_info()) {
    if (option.env.empty()) continue;
    INFO(option.env);
    CHECK(option.env.rfind("RESNET_CLI_", 0) == 0);
    const auto [previous, inserted] =
        option_of_variable.emplace(option.env, long_flag(option));
    // The same variable may serve one flag on several commands, never two.
    if (!inserted) CHECK(previous->second == long_flag(option));
    // CLI11 lists a bound variable in the command's help.
    for (const std::string& command : option.commands) {
      CHECK_THAT(help_of(command), Catch::Contains(option.env));
    }
  }
  // Every RESNET_CLI_ variable README names is one of the table's, or one
  // of CMakeLists.txt's (or tests/CMakeLists.txt's) options.
  const std::string text = readme();
  const std::filesystem::path source(RESNET_CLI_SOURCE_DIR);
  const std::string cmake =
      testing::read_file(source / "CMakeLists.txt") +
      testing::read_file(source / "tests" / "CMakeLists.txt");
  std::set<std::string> cmake_options;
  const std::regex option_call("(?:option|set)\\((RESNET_CLI_[A-Z0-9_]+)");
  for (auto it = std::sregex_iterator(cmake.begin(), cmake.end(), option_call);
       it != std::sregex_iterator(); ++it) {
    cmake_options.insert((*it)[1]);
  }
  const std::regex variable("RESNET_CLI_[A-Z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), variable);
       it != std::sregex_iterator(); ++it) {
    const std::string name = it->str();
    INFO(name);
    const bool build_option = cmake_options.count(name) == 1;
    CHECK((build_option || option_of_variable.count(name) == 1));
  }
}

TEST_CASE("option table: every option in its commands' --help and in README",
          "[options]") {
  const std::string text = readme();
  for (const OptionInfo& option : option_table_info()) {
    INFO(option.flags);
    for (const std::string& command : option.commands) {
      INFO(command);
      CHECK_THAT(help_of(command), Catch::Contains(long_flag(option)));
    }
    CHECK_THAT(text, Catch::Contains("`" + long_flag(option)));
    if (!option.env.empty()) CHECK_THAT(text, Catch::Contains(option.env));
  }
}

TEST_CASE(
    "--help reads like a manual: grouped, each option's type once, no "
    "description joined to its name, examples last",
    "[options]") {
  // Every command of the registry, its groups and the top.
  std::vector<std::string> commands = {""};
  for (const CommandGroup& group : command_groups()) {
    commands.push_back(group.name);
  }
  for (const CommandSpec& spec : command_registry()) {
    commands.push_back(spec.path);
  }
  // "  -k, --topk INT   description", "  --resume   description", a
  // positional, or a name alone with its description on the next line.
  const std::regex option_line(
      R"(  (-[A-Za-z0-9](, --[a-z0-9-]+)?|--[a-z0-9-]+)( (\S+))?( {2,}\S.*)?)");
  const std::vector<std::string> group_order = {
      "Input:",  "Model:",  "Preprocessing:", "Training:",
      "Output:", "Server:", "Performance:",   "Logging and help:"};
  for (const std::string& command : commands) {
    INFO("resnet-cli " << command << " --help");
    const std::string help = help_of(command);
    const std::vector<std::string> lines = testing::lines_of(help);
    std::set<std::string> names;
    std::size_t last_group = 0;
    for (const std::string& line : lines) {
      INFO(line);
      CHECK(line.size() <= 80);
      const auto group =
          std::find(group_order.begin(), group_order.end(), line);
      if (group != group_order.end()) {
        const auto position =
            static_cast<std::size_t>(group - group_order.begin());
        CHECK(position >= last_group);
        last_group = position;
      }
      if (line.rfind("  -", 0) != 0) continue;
      std::smatch match;
      REQUIRE(std::regex_match(line, match, option_line));
      // Each option once, under one group.
      CHECK(names.insert(match[1].str()).second);
      const std::string type = match[4].str();
      if (type.empty()) continue;
      // One type, not CLI11's "INT:INT in 1 to 100"; choices said once;
      // a name for what the value is, not CLI11's placeholders.
      CHECK(type.find(':') == std::string::npos);
      CHECK(type != "TEXT");
      CHECK(type != "UINT");
      if (type.front() == '{') {
        CHECK(line.find(type, line.find(type) + type.size()) ==
              std::string::npos);
      }
    }
    const bool group =
        std::any_of(command_groups().begin(), command_groups().end(),
                    [&](const CommandGroup& g) { return command == g.name; });
    if (group) continue;  // a group of commands
    // The examples close the help: comment lines, then a command, to the
    // end.
    const auto examples = std::find(lines.begin(), lines.end(), "Examples:");
    REQUIRE(examples != lines.end());
    REQUIRE(examples + 1 != lines.end());
    bool after_comment = false;
    for (auto it = examples + 1; it != lines.end(); ++it) {
      INFO(*it);
      const bool comment = it->rfind("  # ", 0) == 0;
      CHECK(it->rfind("  ", 0) == 0);
      if (!comment) CHECK(after_comment);  // each command says what it does
      after_comment = comment;
    }
    CHECK_FALSE(after_comment);  // the last line is a command
  }
  const std::string classify = help_of("classify");
  for (const char* group :
       {"\nInput:\n", "\nModel:\n", "\nPreprocessing:\n", "\nOutput:\n",
        "\nPerformance:\n", "\nLogging and help:\n"}) {
    CHECK_THAT(classify, Catch::Contains(group));
  }
  // The issue's lines, now: type, default and range once.
  const std::string flat =
      std::regex_replace(classify, std::regex("\\s+"), " ");
  CHECK_THAT(
      flat,
      Catch::Contains(" --output-type {prob,logit,embedding} ") &&
          Catch::Contains("[default: prob; env: RESNET_CLI_OUTPUT_TYPE]") &&
          Catch::Contains(" --crop INT Center crop size") &&
          Catch::Contains("[1 to 4096]") && !Catch::Contains("INT:"));
}

TEST_CASE("exit codes: ExitCode, --help and README agree", "[options]") {
  const std::set<int> codes = {kExitOk,       kExitInputFailed, kExitUsage,
                               kExitModel,    kExitOutput,      kExitMerge,
                               kExitInternal, kExitInterrupted};
  const std::string footer = exit_codes_help();
  CHECK_THAT(help_of(""), Catch::Contains(footer.substr(0, 40)));
  std::set<int> in_help;
  const std::regex help_code("(?:: |, )([0-9]+) ");
  for (auto it = std::sregex_iterator(footer.begin(), footer.end(), help_code);
       it != std::sregex_iterator(); ++it) {
    in_help.insert(std::stoi((*it)[1]));
  }
  CHECK(in_help == codes);

  const std::string text = readme();
  const auto section = text.find("## Exit codes");
  REQUIRE(section != std::string::npos);
  std::set<int> in_readme;
  std::istringstream lines(text.substr(section));
  const std::regex row("^\\| ([0-9]+) \\|.*");
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line) && line.rfind("## ", 0) != 0) {
    std::smatch match;
    if (std::regex_match(line, match, row)) {
      in_readme.insert(std::stoi(match[1]));
    }
  }
  CHECK(in_readme == codes);
  CHECK(exit_code_for(ErrorKind::kDecode) == kExitInputFailed);
  CHECK(exit_code_for(ErrorKind::kUsage) == kExitUsage);
  CHECK(exit_code_for(ErrorKind::kCheckpoint) == kExitModel);
  CHECK(exit_code_for(ErrorKind::kOutput) == kExitOutput);
  CHECK(exit_code_for(ErrorKind::kMerge) == kExitMerge);
}

TEST_CASE("typed options: each enum's names, any case, and only those",
          "[options]") {
  const auto parse = [](std::vector<std::string> args) {
    args.insert(args.begin(), "resnet-cli");
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    std::ostringstream out, err;
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), out,
                              err);
  };
  const auto classify =
      parse({"classify", "a.jpg", "--engine", "REFERENCE", "--precision",
             "bf16", "--progress", "never", "--exif", "apply", "-f", "tsv"});
  REQUIRE(classify.run);
  CHECK(classify.settings.classify.model.engine == Engine::kReference);
  CHECK(classify.settings.classify.model.precision == Precision::kBFloat16);
  CHECK(classify.settings.classify.progress == ProgressMode::kNever);
  CHECK(classify.settings.classify.decode.apply_exif_orientation);
  CHECK(classify.settings.classify.format == OutputFormat::kTsv);
  // merge takes two of the formats only.
  CHECK(parse({"merge", "p.jsonl", "-f", "json"}).settings.merge.merge.format ==
        OutputFormat::kJson);
  CHECK_FALSE(parse({"merge", "p.jsonl", "-f", "csv"}).run);
  CHECK_FALSE(parse({"classify", "a.jpg", "--engine", "fast"}).run);
  // Only the chosen command's settings are built.
  const BenchSettings bench_defaults;
  CHECK(classify.settings.bench.iterations == bench_defaults.iterations);
  CHECK(classify.settings.merge.merge.parts.empty());
}

namespace {

struct Outcome {
  int exit_code = -1;
  bool run = false;
  std::string out;
  std::string err;
};

Outcome parse_args(std::vector<std::string> args) {
  args.insert(args.begin(), "resnet-cli");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  const ParseOutcome outcome =
      parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  return {outcome.exit_code, outcome.run, out.str(), err.str()};
}

// A usage error: exit 2, nothing on stdout, exactly `line` on stderr.
void check_usage_error(const std::vector<std::string>& args,
                       const std::string& line) {
  const Outcome outcome = parse_args(args);
  CHECK_FALSE(outcome.run);
  CHECK(outcome.exit_code == kExitUsage);
  CHECK(outcome.out.empty());
  CHECK(outcome.err == "resnet-cli: " + line + "\n");
}

}  // namespace

TEST_CASE("errors that teach: an unknown command is named with the nearest",
          "[options][teach]") {
  check_usage_error({"clasify", "x.jpg"},
                    "unknown command 'clasify'; did you mean 'classify'? "
                    "(see resnet-cli --help)");
  check_usage_error({"-v", "weights", "lst"},
                    "unknown command 'weights lst'; did you mean 'weights "
                    "list'? (see resnet-cli weights --help)");
  check_usage_error({"help", "bnech"},
                    "unknown command 'bnech'; did you mean 'bench'? (see "
                    "resnet-cli --help)");
  // Nothing near: no guess.
  check_usage_error({"frobnicate"},
                    "unknown command 'frobnicate' (see resnet-cli --help)");
  // No command: which ones there are, not "A subcommand is required".
  const Outcome none = parse_args({});
  CHECK(none.exit_code == kExitUsage);
  CHECK_THAT(none.err, Catch::StartsWith("resnet-cli: give a command: "
                                         "classify, preprocess, weights"));
  check_usage_error({"weights"},
                    "weights: give a subcommand: list, info, download, path, "
                    "verify (see resnet-cli weights --help)");
  check_usage_error({"--format", "json", "classify", "a.jpg"},
                    "--format before a command: a command's options go after "
                    "its name (see resnet-cli --help)");
  check_usage_error({"--verbos", "classify", "a.jpg"},
                    "unknown option '--verbos'; did you mean '--verbose'? (a "
                    "command's options go after its name; see resnet-cli "
                    "--help)");
}

TEST_CASE("errors that teach: help COMMAND, version and -V work",
          "[options][teach]") {
  const Outcome top = parse_args({"help"});
  CHECK(top.exit_code == 0);
  CHECK(top.out == help_of(""));
  CHECK(parse_args({"help", "classify"}).out == help_of("classify"));
  CHECK(parse_args({"help", "weights", "list"}).out == help_of("weights list"));
  CHECK(parse_args({"-q", "help", "weights"}).out == help_of("weights"));
  CHECK_THAT(help_of("classify"), Catch::Contains("--topk"));

  const Outcome version = parse_args({"--version"});
  CHECK(version.exit_code == 0);
  CHECK_FALSE(version.run);
  CHECK(version.err.empty());
  CHECK_THAT(
      version.out,
      Catch::StartsWith("resnet-cli ") && Catch::Contains("\ncommit: ") &&
          Catch::Contains("\nbuild type: ") && Catch::Contains("\nLibTorch ") &&
          Catch::Contains(", oneDNN ") && Catch::Contains("\nCUDA: ") &&
          Catch::Contains("\nbf16: ") &&
          Catch::Contains("\ndefault threads: ") &&
          Catch::Contains("\nmodel: "));
  CHECK(parse_args({"-V"}).out == version.out);
  CHECK(parse_args({"version"}).out == version.out);
  check_usage_error({"version", "--format", "xml"},
                    "--version --format: 'xml' is not one of text,json");
}

TEST_CASE("version as JSON: --version --format json for scripts",
          "[options][teach]") {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--version", "--format", "json"},
                                             {"version", "--format=JSON"},
                                             {"-V", "-f", "json"}}) {
    const Outcome version = parse_args(args);
    CHECK(version.exit_code == 0);
    const nlohmann::json facts = nlohmann::json::parse(version.out);
    CHECK(facts.at("version").is_string());
    CHECK(facts.at("commit").is_string());
    CHECK(facts.at("build_type").is_string());
    CHECK_THAT(facts.at("libtorch").get<std::string>(),
               Catch::StartsWith("1."));
    CHECK(facts.at("onednn").is_string());
    CHECK(facts.at("cuda_built").is_boolean());
    CHECK(facts.at("bf16_native").is_boolean());
    CHECK(facts.at("default_threads").get<int>() >= 1);
    CHECK(facts.at("model").at("linkage").is_string());
  }
}

TEST_CASE("errors that teach: an unknown option gets its command's nearest",
          "[options][teach]") {
  check_usage_error({"classify", "a.jpg", "--formt", "json"},
                    "classify: unknown option '--formt'; did you mean "
                    "'--format'? (see resnet-cli classify --help)");
  check_usage_error({"weights", "list", "--formt=json"},
                    "weights list: unknown option '--formt'; did you mean "
                    "'--format'? (see resnet-cli weights list --help)");
  // Only the command's own options are suggested; another command's option
  // is named as such.
  check_usage_error({"classify", "a.jpg", "--iterations", "3"},
                    "classify: unknown option '--iterations' (--iterations "
                    "is an option of bench; see resnet-cli classify --help)");
  check_usage_error({"merge", "p.jsonl", "--topk", "3"},
                    "merge: unknown option '--topk' (--topk is an option of "
                    "classify, serve; see resnet-cli merge --help)");
  check_usage_error({"bench", "--iteration", "3"},
                    "bench: unknown option '--iteration'; did you mean "
                    "'--iterations'? (see resnet-cli bench --help)");
}

TEST_CASE("errors that teach: numbers and ranges say what is wrong",
          "[options][teach]") {
  check_usage_error({"classify", "a.jpg", "--topk", "abc"},
                    "classify: --topk: 'abc' is not a number (see resnet-cli "
                    "classify --help)");
  check_usage_error({"classify", "a.jpg", "-k", "2.5"},
                    "classify: --topk: '2.5' is not a number (a whole one) "
                    "(see resnet-cli classify --help)");
  check_usage_error({"classify", "a.jpg", "--topk", "0"},
                    "classify: --topk: 0 is out of range (1 to 1048576) (see "
                    "resnet-cli classify --help)");
  check_usage_error({"bench", "--warmup", "1001"},
                    "bench: --warmup: 1001 is out of range (0 to 1000) (see "
                    "resnet-cli bench --help)");
  check_usage_error({"classify", "a.jpg", "--max-pixels", "lots"},
                    "classify: --max-pixels: 'lots' is not a number (see "
                    "resnet-cli classify --help)");
  check_usage_error({"serve", "--max-body", "50X"},
                    "serve: --max-body: '50X' is not a size (bytes, or a whole "
                    "number with K, M, G or T) (see resnet-cli serve --help)");
  check_usage_error({"serve", "--max-body", "-1"},
                    "serve: --max-body: '-1' is not a size (bytes, or a whole "
                    "number with K, M, G or T) (see resnet-cli serve --help)");
  check_usage_error({"serve", "--decode-memory", "0"},
                    "serve: --decode-memory: 0 is less than 1 bytes (see "
                    "resnet-cli serve --help)");
  check_usage_error({"serve", "--body-memory", "16777216T"},
                    "serve: --body-memory: 16777216T is more bytes than a "
                    "64-bit count holds (see resnet-cli serve --help)");
}

TEST_CASE(
    "errors that teach: a value from the environment is reported under "
    "its variable",
    "[options][teach]") {
  {
    const testing::ScopedEnv env{{"RESNET_CLI_FORMAT", "bogus"}};
    check_usage_error({"classify", "a.jpg"},
                      "RESNET_CLI_FORMAT (the environment's --format): "
                      "'bogus' is not one of text,json,jsonl,csv,tsv");
    // A flag wins over its variable, so the variable is not read.
    CHECK(parse_args({"classify", "a.jpg", "-f", "json"}).run);
  }
  const testing::ScopedEnv env{{"RESNET_CLI_TOPK", "abc"},
                               {"RESNET_CLI_THREADS", "-2"}};
  const Outcome outcome = parse_args({"classify", "a.jpg", "--threads", "1"});
  CHECK(outcome.err ==
        "resnet-cli: RESNET_CLI_TOPK (the environment's --topk): 'abc' is "
        "not a number\n");
}

TEST_CASE("parse errors map to exit codes", "[options][teach]") {
  CHECK(exit_code_for(CLI::CallForHelp()) == kExitOk);
  CHECK(exit_code_for(CLI::ExtrasError({"--bogus"})) == kExitUsage);
  CHECK(exit_code_for(CLI::ValidationError("--topk", "bad")) == kExitUsage);
  CHECK(exit_code_for(CLI::RequiredError("name")) == kExitUsage);
}
