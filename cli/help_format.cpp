#include "help_format.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

namespace resnet_cli::cli {

namespace {

constexpr OptionGroup kGroups[] = {
    OptionGroup::kInput,         OptionGroup::kModel,
    OptionGroup::kPreprocessing, OptionGroup::kTraining,
    OptionGroup::kOutput,        OptionGroup::kServer,
    OptionGroup::kPerformance,   OptionGroup::kLogging,
};

// `text` wrapped into lines of at most `width` characters (a longer word
// keeps its own line), the first `first_indent` in, the others `indent`.
std::string wrap(const std::string& text, std::size_t first_indent,
                 std::size_t indent, std::size_t width) {
  std::istringstream words(text);
  std::string out, line;
  std::size_t line_indent = first_indent;
  for (std::string word; words >> word;) {
    if (!line.empty() && line_indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
      line_indent = indent;
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line + "\n";
}

// Stands for a space that wrap() must not break at ("env: RESNET_CLI_X").
constexpr char kUnbreakable = '\x01';

// "  NAME        description", the description wrapped in its column, on
// the next line when NAME reaches the column.
std::string entry(const std::string& name, const std::string& description) {
  const std::size_t column = HelpFormatter::kColumn;
  std::string out = "  " + name;
  if (description.empty()) return out + "\n";
  if (out.size() + 2 > column) {
    out += "\n" + std::string(column, ' ');
  } else {
    out += std::string(column - out.size(), ' ');
  }
  out += wrap(description, column, column, HelpFormatter::kWidth);
  std::replace(out.begin(), out.end(), kUnbreakable, ' ');
  return out;
}

// A note kept on one line by wrap().
std::string unbreakable(std::string text) {
  std::replace(text.begin(), text.end(), ' ', kUnbreakable);
  return text;
}

// The value's type as --help shows it: CLI11 appends its validators'
// descriptions after a ':' ("INT:1 to 100"), which are shown apart.
std::vector<std::string> type_parts(const CLI::Option& option) {
  std::vector<std::string> parts;
  std::stringstream text(option.get_type_name());
  for (std::string part; std::getline(text, part, ':');) {
    if (parts.empty() || (part != parts.front() && !part.empty())) {
      parts.push_back(part);
    }
  }
  return parts;
}

bool takes_value(const CLI::Option& option) {
  return option.get_type_size_max() > 0 && !option.get_type_name().empty();
}

// What an option's group name is among kGroups; positionals are input, the
// help flag is with -v and -q.
std::string group_of(const CLI::App& app, const CLI::Option& option) {
  if (option.get_positional()) return group_title(OptionGroup::kInput);
  if (&option == app.get_help_ptr()) return group_title(OptionGroup::kLogging);
  return option.get_group();
}

// The options --help lists for `app`, by group: its own, and those of the
// commands above that it takes too (-v, -q).
std::map<std::string, std::vector<const CLI::Option*>> grouped_options(
    const CLI::App& app) {
  std::map<std::string, std::vector<const CLI::Option*>> groups;
  // The positionals first: what the command works on, then how.
  for (const bool positional : {true, false}) {
    for (const CLI::Option* option : app.get_options()) {
      if (option->get_group().empty() ||
          option->get_positional() != positional) {
        continue;  // hidden, or in the other pass
      }
      groups[group_of(app, *option)].push_back(option);
    }
  }
  for (const CLI::App* above = app.get_fallthrough() ? app.get_parent()
                                                     : nullptr;
       above != nullptr;
       above = above->get_fallthrough() ? above->get_parent() : nullptr) {
    for (const CLI::Option* option : above->get_options()) {
      if (option->get_group().empty() || option->get_positional() ||
          option == above->get_help_ptr() ||
          option == above->get_version_ptr()) {
        continue;
      }
      groups[option->get_group()].push_back(option);
    }
  }
  return groups;
}

// The examples of every command, by its path: what --help ends with and the
// man page's EXAMPLES. Each runs as written (given the files it names).
struct PathExample {
  const char* path;
  CommandExample example;
};
constexpr PathExample kExamples[] = {
    {"",
     {"resnet-cli classify photo.jpg",
      "the top 5 ImageNet classes of a photo (ResNet50, IMAGENET1K_V2)"}},
    {"",
     {"resnet-cli classify photos/ -f jsonl -o run.jsonl",
      "a folder, recursively, a JSON line per image"}},
    {"", {"resnet-cli help classify", "classify's options"}},
    {"classify",
     {"resnet-cli classify photo.jpg", "the top 5 classes, as a table"}},
    {"classify",
     {"resnet-cli classify photos/ -f jsonl -o run.jsonl --resume",
      "a folder; continues run.jsonl where an interrupted run stopped"}},
    {"classify",
     {"resnet-cli classify --arch resnet18 -k 3 -f json a.jpg b.png",
      "another architecture (its DEFAULT weights), the top 3, one JSON "
      "array"}},
    {"classify",
     {"find . -name '*.jpg' -print0 | resnet-cli classify --files-from - "
      "-0 -f csv",
      "a list of files from find"}},
    {"classify",
     {"resnet-cli classify --model birds new-photos/",
      "with a model resnet-cli train made"}},
    {"classify",
     {"resnet-cli classify --explain-dir maps/ photo.jpg",
      "where in the photo the top class is: the box of its region, and an "
      "overlay in maps/photo.jpg.png"}},
    {"preprocess",
     {"resnet-cli preprocess photo.jpg -o x.npy --png crop.png",
      "the model input as .npy, and the crop as PNG, to compare with "
      "weights.transforms() in Python"}},
    {"weights",
     {"resnet-cli weights list", "every entry, and which are cached"}},
    {"weights",
     {"resnet-cli weights download ResNet18_Weights.DEFAULT",
      "into torch.hub's cache, hash-checked"}},
    {"weights list",
     {"resnet-cli weights list", "every entry, and which are cached"}},
    {"weights list",
     {"resnet-cli weights list --format json | jq '.[].enum'",
      "the entries' names, for a script"}},
    {"weights info",
     {"resnet-cli weights info DEFAULT", "ResNet50's default entry"}},
    {"weights info",
     {"resnet-cli weights info resnet18 --format json",
      "resnet18's DEFAULT, as JSON"}},
    {"weights download",
     {"resnet-cli weights download ResNet18_Weights.DEFAULT",
      "into torch.hub's cache; prints the file's path"}},
    {"weights download",
     {"resnet-cli weights download --url "
      "https://example.org/tuned-1a2b3c4d.pth",
      "any URL, cached and hash-checked the same way"}},
    {"weights path",
     {"resnet-cli weights path IMAGENET1K_V1",
      "where ResNet50's V1 weights are (or would be) cached"}},
    {"weights verify",
     {"resnet-cli weights verify", "re-hash every cached entry"}},
    {"weights verify",
     {"resnet-cli weights verify ~/Downloads/resnet50-11ad3fa6.pth",
      "check a file against the hash in its name"}},
    {"bench",
     {"resnet-cli bench", "forward passes alone: images per second, latency"}},
    {"bench",
     {"resnet-cli bench --precision bf16 photos/",
      "bf16, and the whole pipeline over a folder"}},
    {"merge",
     {"resnet-cli merge part-*.jsonl --inputs photos/ -o run.jsonl",
      "join a sharded run's parts, every input recorded exactly once"}},
    {"serve",
     {"resnet-cli serve --port 8080",
      "answer http://127.0.0.1:8080/predictions/resnet50"}},
    {"serve",
     {"curl http://127.0.0.1:8080/predictions/resnet50 -T photo.jpg",
      "ask it, as TorchServe is asked"}},
    {"serve",
     {"RESNET_CLI_API_KEY=secret resnet-cli serve --host 0.0.0.0",
      "every interface, a key required"}},
    {"train",
     {"resnet-cli train photos/ -o birds --epochs 10",
      "fc on the pooled features (cached), a tenth of photos/ held out"}},
    {"train",
     {"resnet-cli train photos/ -o birds --train layer4 --augment standard",
      "layer4 too, torchvision's training augmentation"}},
    {"train",
     {"resnet-cli train photos/ -o birds --epochs 10 --resume",
      "continue an interrupted run"}},
    {"quantize",
     {"resnet-cli quantize --calibrate calib/ -o r50-int8",
      "ResNet50 quantized to int8 as PyTorch's post-training quantization "
      "does, calibrated on calib/"}},
    {"quantize",
     {"resnet-cli classify photos/ --model r50-int8",
      "then classify with the quantized model"}},
    {"evaluate",
     {"resnet-cli evaluate val/ --model birds",
      "acc@1, acc@5, per class, the confusion matrix"}},
    {"evaluate",
     {"resnet-cli evaluate imagenet/val/ -f json -o eval.json",
      "ImageNet's validation set (folders named by WordNet id), as JSON"}},
    {"report",
     {"resnet-cli report run.jsonl -o report.html",
      "a contact sheet of classify's results"}},
    {"report",
     {"resnet-cli report eval.json -o eval.html",
      "evaluate's figures and its misclassified images"}},
};

}  // namespace

const char* group_title(OptionGroup group) {
  switch (group) {
    case OptionGroup::kInput:
      return "Input";
    case OptionGroup::kModel:
      return "Model";
    case OptionGroup::kPreprocessing:
      return "Preprocessing";
    case OptionGroup::kTraining:
      return "Training";
    case OptionGroup::kOutput:
      return "Output";
    case OptionGroup::kServer:
      return "Server";
    case OptionGroup::kPerformance:
      return "Performance";
    case OptionGroup::kLogging:
      return "Logging and help";
  }
  return "Options";
}

const std::vector<CommandExample>& command_examples(std::string_view path) {
  static const auto by_path = [] {
    std::map<std::string_view, std::vector<CommandExample>> table;
    for (const PathExample& entry : kExamples) {
      table[entry.path].push_back(entry.example);
    }
    return table;
  }();
  static const std::vector<CommandExample> none;
  const auto found = by_path.find(path);
  return found == by_path.end() ? none : found->second;
}

std::string command_path(const CLI::App& app) {
  std::string path;
  for (const CLI::App* command = &app; command->get_parent() != nullptr;
       command = command->get_parent()) {
    path = command->get_name() + (path.empty() ? "" : " " + path);
  }
  return path;
}

std::string HelpFormatter::make_help(const CLI::App* app, std::string name,
                                     CLI::AppFormatMode mode) const {
  if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
  std::string out = wrap(app->get_description(), 0, 0, kWidth) + "\n";
  std::string usage = make_usage(app, name);
  for (const char* word : {"SUBCOMMANDS", "SUBCOMMAND"}) {
    const std::size_t at = usage.find(word);
    if (at != std::string::npos)
      usage.replace(at, std::strlen(word), "COMMAND");
  }
  out += usage;
  auto groups = grouped_options(*app);
  const auto print = [&](const std::string& title) {
    const auto found = groups.find(title);
    if (found == groups.end()) return;
    out += "\n" + title + ":\n";
    for (const CLI::Option* option : found->second) {
      out += make_option(option, option->get_positional());
    }
    groups.erase(found);
  };
  for (const OptionGroup group : kGroups) print(group_title(group));
  while (!groups.empty()) print(groups.begin()->first);
  out += make_subcommands(app, mode);
  return out + "\n" + make_footer(app);
}

std::string HelpFormatter::make_option(const CLI::Option* option,
                                       bool is_positional) const {
  std::string name;
  if (is_positional) {
    name = option->get_name(true, false);
    if (option->get_items_expected_max() > 1) name += "...";
  } else {
    for (const std::string& flag : option->get_snames()) {
      name += (name.empty() ? "-" : ", -") + flag;
    }
    for (const std::string& flag : option->get_lnames()) {
      name += (name.empty() ? "--" : ", --") + flag;
    }
  }
  std::vector<std::string> notes;
  const std::vector<std::string> parts = type_parts(*option);
  if (!is_positional && takes_value(*option)) name += " " + parts.front();
  // The default once: a description that says it ("(default: every
  // extension ...)") is clearer than the value CLI11 holds.
  if (!option->get_default_str().empty() &&
      option->get_description().find("default") == std::string::npos) {
    notes.push_back(unbreakable("default: " + option->get_default_str()));
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    notes.push_back(unbreakable(parts[i]));
  }
  if (!option->get_envname().empty()) {
    notes.push_back(unbreakable("env: " + option->get_envname()));
  }
  std::string description = option->get_description();
  if (!notes.empty()) {
    std::string joined;
    for (const std::string& note : notes) {
      joined += (joined.empty() ? "" : "; ") + note;
    }
    description += " [" + joined + "]";
  }
  return entry(name, description);
}

std::string HelpFormatter::make_subcommand(const CLI::App* sub) const {
  return entry(sub->get_name(), sub->get_description());
}

std::string HelpFormatter::make_footer(const CLI::App* app) const {
  std::string out;
  // Its paragraphs (Formats, Exit codes) each wrapped, a blank line apart.
  const std::string& footer = app->get_footer();
  for (std::size_t start = 0; start < footer.size();) {
    std::size_t end = footer.find("\n\n", start);
    if (end == std::string::npos) end = footer.size();
    out += std::string(out.empty() ? "" : "\n") +
           wrap(footer.substr(start, end - start), 0, 0, kWidth);
    start = end + 2;
  }
  const std::vector<CommandExample>& examples =
      command_examples(command_path(*app));
  if (!examples.empty()) {
    // A comment line, then the command, as a shell takes them.
    out += std::string(out.empty() ? "" : "\n") + "Examples:\n";
    for (const CommandExample& example : examples) {
      std::string comment = wrap(example.what, 4, 4, kWidth);
      for (std::size_t at = 0;
           (at = comment.find("\n    ", at)) != std::string::npos; at += 5) {
        comment.replace(at, 5, "\n  # ");
      }
      out += "  # " + comment + "  " + example.command + "\n";
    }
  }
  return out;
}

}  // namespace resnet_cli::cli
