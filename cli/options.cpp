#include "options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string_view>

#include "base/error.h"
#include "exit_codes.h"
#include "option_table.h"
#include "version.h"
#include "weights/download.h"

namespace resnet_cli::cli {

namespace {

// The subcommands, as CLI11 apps, and which Command each one is.
struct CommandApps {
  std::vector<std::pair<CLI::App*, Command>> leaves;
  std::vector<CLI::App*> all;
};

CLI::App* add_command(CLI::App& parent, CommandApps& apps, const char* name,
                      const char* help, Command command, OptionValues& values,
                      unsigned options) {
  CLI::App* app = parent.add_subcommand(name, help);
  // Every command binds its options to the same OptionValues. Without a
  // parse-complete callback CLI11 reads environment variables for every
  // command, typed or not, so RESNET_CLI_TOPK would override `classify
  // --topk 2` through serve's --topk; with one, only the typed command's are.
  app->parse_complete_callback([] {});
  if (options) attach_options(*app, values, options);
  if (command != Command::kNone) apps.leaves.emplace_back(app, command);
  apps.all.push_back(app);
  return app;
}

// The weights subcommands: each takes at most one NAME (or FILE).
struct WeightsCommand {
  const char* name;
  const char* help;
  Command command;
  unsigned options;
  const char* argument_help;  // nullptr: no argument
  const char* argument_type;  // what --help and the completions show
  bool argument_required;
};

constexpr WeightsCommand kWeightsCommands[] = {
    {"list", "Table of known weights and whether each is cached",
     Command::kWeightsList, kOnWeightsList, nullptr, nullptr, false},
    {"info", "torchvision's meta for one entry", Command::kWeightsInfo,
     kOnWeightsInfo, "e.g. ResNet50_Weights.IMAGENET1K_V2", "WEIGHTS", true},
    {"download",
     "Download one entry (or --url) into torch.hub's cache, hash-checked; "
     "prints the cached file's path",
     Command::kWeightsDownload, kOnWeightsDownload,
     "e.g. ResNet18_Weights.DEFAULT", "WEIGHTS", false},
    {"path", "Print where an entry is (or would be) cached",
     Command::kWeightsPath, kOnWeightsPath, "e.g. DEFAULT", "WEIGHTS", true},
    {"verify",
     "Hash cached files (or FILE) and check the SHA-256 against the hash in "
     "the file name; exit 3 on a mismatch",
     Command::kWeightsVerify, kOnWeightsVerify,
     "A registry NAME or a FILE (default: every cached registry file)",
     "WEIGHTS|FILE", false},
};

void add_weights_commands(CLI::App& app, CommandApps& apps,
                          OptionValues& values) {
  CLI::App* weights = add_command(app, apps, "weights", "The weights registry",
                                  Command::kNone, values, 0);
  weights->require_subcommand(1);
  for (const WeightsCommand& spec : kWeightsCommands) {
    CLI::App* command = add_command(*weights, apps, spec.name, spec.help,
                                    spec.command, values, spec.options);
    if (!spec.argument_help) continue;
    CLI::Option* argument =
        command->add_option("name", values.weights_target, spec.argument_help)
            ->type_name(spec.argument_type);
    if (spec.argument_required) argument->required();
  }
}

void add_commands(CLI::App& app, CommandApps& apps, OptionValues& values) {
  add_command(app, apps, "classify",
              "Classify images; prints the top-k ImageNet classes of each",
              Command::kClassify, values, kOnClassify)
      ->add_option("inputs", values.inputs,
                   "Image files and folders (scanned recursively); '-' reads "
                   "one image from stdin")
      ->type_name("PATH");
  add_command(app, apps, "preprocess",
              "Write one image's model input exactly as torchvision computes "
              "it",
              Command::kPreprocess, values, kOnPreprocess)
      ->add_option("input", values.inputs, "Image file, or '-'")
      ->type_name("FILE")
      ->required()
      ->expected(1);
  add_weights_commands(app, apps, values);
  add_command(app, apps, "train",
              "Train a classifier on a folder of class folders "
              "(torchvision's ImageFolder layout), as a PyTorch script would; "
              "writes MODEL_DIR for classify --model",
              Command::kTrain, values, kOnTrain)
      ->add_option("data", values.inputs,
                   "DATA: one sub-folder of images per class")
      ->required()
      ->expected(1);
  add_command(app, apps, "bench",
              "Forward-only throughput and latency; with images or a folder, "
              "the whole pipeline's throughput and time per stage",
              Command::kBench, values, kOnBench)
      ->add_option("inputs", values.inputs,
                   "Images or folders to run through the whole pipeline")
      ->type_name("PATH");
  add_command(app, apps, "merge",
              "Join the JSON Lines parts of a sharded run (classify --shard "
              "I/N --format jsonl -o part-I.jsonl) into one output; with "
              "--inputs or --files-from, check that every input is recorded "
              "exactly once",
              Command::kMerge, values, kOnMerge)
      ->add_option("parts", values.merge_parts,
                   "JSON Lines files written by classify --format jsonl")
      ->type_name("FILE")
      ->required();
  add_command(app, apps, "serve",
              "Keep the model loaded and answer HTTP: TorchServe's "
              "/predictions/{name}, /v1/classify (classify's record), "
              "/metrics",
              Command::kServe, values, kOnServe);
  add_command(app, apps, "evaluate",
              "Accuracy of a model on labelled images laid out as "
              "torchvision's ImageFolder (DATA/<class>/<image>): acc@1, "
              "acc@5, per-class precision and recall, the confusion matrix",
              Command::kEvaluate, values, kOnEvaluate)
      ->add_option("data", values.inputs,
                   "A folder with one sub-folder per class; class i is the "
                   "i-th name in sorted order (ImageNet: folders named by "
                   "WordNet id)")
      ->required()
      ->expected(1);
  add_command(app, apps, "report",
              "One self-contained HTML page of classify's or evaluate's "
              "results: thumbnails, labels, scores, errors, and evaluate's "
              "confusion matrix",
              Command::kReport, values, kOnReport)
      ->add_option("results", values.inputs,
                   "classify --format json or jsonl output, or evaluate "
                   "--format json output")
      ->required()
      ->expected(1);
  // -v and -q work after the command name too.
  for (CLI::App* command : apps.all) command->fallthrough();
}

InputOptions input_options(const OptionValues& values,
                           std::vector<std::string> paths) {
  InputOptions input;
  input.paths = std::move(paths);
  input.files_from = values.files_from;
  input.null_separated = values.null_separated;
  if (values.extensions) input.extensions = *values.extensions;
  input.follow_symlinks = values.follow;
  input.shard = values.shard;
  return input;
}

DecodeOptions decode_options(const OptionValues& values) {
  DecodeOptions decode;
  decode.apply_exif_orientation = values.exif == ExifMode::kApply;
  decode.allow_truncated = values.allow_truncated;
  decode.max_pixels = values.max_pixels;
  return decode;
}

TransformOverrides transform_overrides(const OptionValues& values) {
  TransformOverrides overrides;
  if (values.resize > 0) overrides.resize_size = values.resize;
  if (values.crop > 0) overrides.crop_size = values.crop;
  overrides.interpolation = values.interpolation;
  overrides.mean = values.mean;
  overrides.std = values.std;
  return overrides;
}

FetchOptions fetch_options(const OptionValues& values, int verbosity) {
  if (!values.mirror.empty() &&
      values.mirror.find("://") == std::string::npos) {
    throw Error(ErrorKind::kUsage,
                "--mirror '" + values.mirror +
                    "': expected a base URL such as http://host/models/");
  }
  FetchOptions fetch;
  fetch.mirror = values.mirror;
  fetch.offline = values.offline;
  fetch.verify = values.verify;
  fetch.download.retries = values.retries;
  fetch.download.retry_delay_ms = values.retry_delay_ms;
  fetch.download.stall_timeout_s = values.stall_timeout_s;
  fetch.download.progress = download_progress_renderer(verbosity >= 0);
  return fetch;
}

// --model DIR: the folder's checkpoint, labels, architecture and
// transforms, in place of the options that would name them.
void apply_model_dir(SessionOptions& session, const OptionValues& values) {
  if (!values.weights_file.empty() || !values.weights_url.empty() ||
      !values.labels_file.empty() || values.arch) {
    throw Error(ErrorKind::kUsage,
                "--model names the weights, labels and architecture; drop "
                "--weights-file, --weights-url, --labels and --arch");
  }
  const TrainedModel model = read_trained_model(values.model_dir);
  session.weights = model.weights;
  session.weights_file = model.weights_file.string();
  session.labels_file = model.labels_file.string();
  session.model.arch = model.arch;
  TransformOverrides& t = session.transform;
  if (!t.resize_size) t.resize_size = model.transform.resize_size;
  if (!t.crop_size) t.crop_size = model.transform.crop_size;
  if (!t.interpolation) t.interpolation = model.transform.interpolation;
  if (!t.mean) t.mean = model.transform.mean;
  if (!t.std) t.std = model.transform.std;
}

void fill_session(SessionOptions& session, const OptionValues& values,
                  int verbosity) {
  const std::string arch = values.arch.value_or("");
  find_weights(values.weights, arch);  // an unknown name is a usage error now
  if (!values.weights_file.empty() && !values.weights_url.empty()) {
    throw Error(ErrorKind::kUsage,
                "give --weights-file or --weights-url, not both");
  }
  if (!values.weights_url.empty()) url_file_name(values.weights_url);
  session.weights = values.weights;
  session.weights_file = values.weights_file;
  session.weights_url = values.weights_url;
  session.fetch = fetch_options(values, verbosity);
  session.labels_file = values.labels_file;
  session.transform = transform_overrides(values);
  session.model.threads = values.threads;
  session.model.device = values.device;
  session.model.precision = values.precision;
  session.model.engine = values.engine;
  session.model.arch = arch;
  session.plan.workers = values.workers;
  session.plan.batch_size = values.batch_size;
  session.plan.decode_threads = values.decode_threads;
  session.plan.ordered = !values.unordered;
  if (!values.model_dir.empty()) apply_model_dir(session, values);
}

TrainRecipe train_recipe(const OptionValues& values) {
  if (values.shuffle && values.no_shuffle) {
    throw Error(ErrorKind::kUsage, "give --shuffle or --no-shuffle, not both");
  }
  TrainRecipe recipe;
  recipe.part = values.train_part;
  recipe.epochs = values.epochs;
  recipe.batch_size = values.train_batch_size;
  recipe.optimizer = values.optimizer;
  recipe.learning_rate = values.learning_rate.value_or(
      values.optimizer == OptimizerKind::kSgd ? 0.01 : 0.001);
  recipe.weight_decay = values.weight_decay;
  recipe.schedule = values.schedule;
  recipe.label_smoothing = values.label_smoothing;
  recipe.augment = values.augment;
  recipe.shuffle = !values.no_shuffle;
  recipe.seed = values.seed;
  recipe.freeze_bn = values.freeze_bn;
  return recipe;
}

TrainSettings train_settings(const OptionValues& values, int verbosity) {
  if (values.output_file.empty()) {
    throw Error(ErrorKind::kUsage, "train: give -o MODEL_DIR");
  }
  if (values.resume && values.force) {
    throw Error(ErrorKind::kUsage, "give --resume or --force, not both");
  }
  TrainSettings settings;
  TrainOptions& train = settings.train;
  fill_session(train.base, values, verbosity);
  train.data = values.inputs.front();
  train.val_dir = values.val_dir;
  train.val_split = values.val_split;
  train.scan = input_options(values, {});
  train.decode = decode_options(values);
  train.output_dir = values.output_file;
  train.cache_dir = values.cache_dir;
  train.recipe = train_recipe(values);
  train.strict = values.strict;
  train.resume = values.resume;
  train.force = values.force;
  settings.progress = values.progress;
  return settings;
}

ClassifySettings classify_settings(const OptionValues& values, int verbosity) {
  if (values.inputs.empty() && values.files_from.empty()) {
    throw Error(ErrorKind::kUsage,
                "classify: give images, folders or --files-from FILE");
  }
  ClassifySettings classify;
  fill_session(classify, values, verbosity);
  classify.input = input_options(values, values.inputs);
  classify.resume = values.resume;
  classify.topk = values.topk;
  classify.output_type = values.output_type;
  classify.format = values.format;
  classify.output_file = values.output_file;
  classify.decode = decode_options(values);
  classify.progress = values.progress;
  classify.color = values.color;
  return classify;
}

BenchSettings bench_settings(const OptionValues& values, int verbosity) {
  BenchSettings bench;
  fill_session(bench, values, verbosity);
  bench.input = input_options(values, values.inputs);
  bench.iterations = values.iterations;
  bench.warmup = values.warmup;
  bench.format = values.report_format;
  return bench;
}

ServeSettings serve_settings(const OptionValues& values, int verbosity) {
  ServeSettings serve;
  fill_session(serve, values, verbosity);
  ServerOptions& server = serve.server;
  server.host = values.host;
  server.port = values.port;
  server.api_key = values.api_key;
  server.max_body = static_cast<std::size_t>(values.max_body);
  server.max_batch_delay_ms = values.max_batch_delay_ms;
  server.max_connections = values.max_connections;
  server.max_queue = values.max_queue;
  server.request_timeout_s = values.request_timeout_s;
  server.idle_timeout_s = values.idle_timeout_s;
  server.topk = values.topk;
  if (!values.model_dir.empty()) {
    // A trained folder is served under its own name, as TorchServe serves a
    // model archive under the archive's.
    std::filesystem::path folder =
        std::filesystem::absolute(values.model_dir).lexically_normal();
    if (!folder.has_filename()) folder = folder.parent_path();  // "dir/"
    server.model_name = folder.filename().string();
  }
  server.decode = decode_options(values);
  serve.access_log = verbosity >= 1;
  return serve;
}

EvaluateSettings evaluate_settings(const OptionValues& values, int verbosity) {
  EvaluateSettings evaluate;
  fill_session(evaluate, values, verbosity);
  evaluate.data = values.inputs.front();
  evaluate.input = input_options(values, {});
  evaluate.format = values.evaluate_format;
  evaluate.output_file = values.output_file;
  evaluate.misclassified_file = values.misclassified_file;
  evaluate.decode = decode_options(values);
  evaluate.progress = values.progress;
  return evaluate;
}

ReportSettings report_settings(const OptionValues& values) {
  if (values.output_file.empty()) {
    throw Error(ErrorKind::kUsage, "report: give -o FILE.html");
  }
  ReportSettings report;
  report.results = values.inputs.front();
  report.output_file = values.output_file;
  report.thumbnail_size = values.thumbnail_size;
  return report;
}

PreprocessSettings preprocess_settings(const OptionValues& values) {
  if (values.npy_output.empty() && values.png_output.empty()) {
    throw Error(ErrorKind::kUsage,
                "preprocess: give -o FILE.npy and/or --png FILE.png");
  }
  find_weights(values.weights, values.arch.value_or(""));
  PreprocessSettings preprocess;
  preprocess.input = values.inputs.front();
  preprocess.weights = values.weights;
  preprocess.arch = values.arch.value_or("");
  preprocess.transform = transform_overrides(values);
  preprocess.decode = decode_options(values);
  preprocess.npy_output = values.npy_output;
  preprocess.png_output = values.png_output;
  return preprocess;
}

MergeCommandSettings merge_settings(const OptionValues& values) {
  MergeCommandSettings settings;
  settings.merge.parts = values.merge_parts;
  if (!values.merge_inputs.empty() || !values.files_from.empty()) {
    settings.merge.inputs = input_options(values, values.merge_inputs);
  }
  settings.merge.format = values.merge_format;
  settings.output_file = values.output_file;
  return settings;
}

WeightsSettings weights_settings(Command command, const OptionValues& values,
                                 int verbosity) {
  WeightsSettings weights;
  weights.target = values.weights_target;
  weights.url = values.weights_url;
  weights.force = values.force;
  weights.format = values.report_format;
  weights.fetch = fetch_options(values, verbosity);
  if (command == Command::kWeightsDownload) {
    if (weights.target.empty() == weights.url.empty()) {
      throw Error(ErrorKind::kUsage,
                  "weights download: give a NAME or --url URL (one of them)");
    }
    if (!weights.url.empty()) url_file_name(weights.url);
  }
  const bool names_entry = command == Command::kWeightsDownload ||
                           command == Command::kWeightsPath ||
                           command == Command::kWeightsInfo;
  if (names_entry && !weights.target.empty()) find_weights(weights.target);
  return weights;
}

// Builds the chosen command's settings, and only those. Throws
// Error(kUsage) for what the table's checks cannot see.
void build_settings(Settings& settings, const OptionValues& values) {
  switch (settings.command) {
    case Command::kClassify:
      settings.classify = classify_settings(values, settings.verbosity);
      break;
    case Command::kBench:
      settings.bench = bench_settings(values, settings.verbosity);
      break;
    case Command::kServe:
      settings.serve = serve_settings(values, settings.verbosity);
      break;
    case Command::kPreprocess:
      settings.preprocess = preprocess_settings(values);
      break;
    case Command::kMerge:
      settings.merge = merge_settings(values);
      break;
    case Command::kTrain:
      settings.train = train_settings(values, settings.verbosity);
      break;
    case Command::kEvaluate:
      settings.evaluate = evaluate_settings(values, settings.verbosity);
      break;
    case Command::kReport:
      settings.report = report_settings(values);
      break;
    case Command::kNone:
      break;
    default:
      settings.weights =
          weights_settings(settings.command, values, settings.verbosity);
      break;
  }
}

// The whole command line, declared on `app`; `values` receives what is
// parsed.
struct CommandLine {
  CommandApps apps;
  CLI::Option* verbose = nullptr;
  CLI::Option* quiet = nullptr;
};

CommandLine declare_command_line(CLI::App& app, OptionValues& values) {
  app.name("resnet-cli");
  app.description(
      "resnet-cli: torchvision's ResNet image classifiers (ResNet18 to 152, "
      "ResNeXt, Wide ResNet), same answers, one native binary. `resnet-cli "
      "help COMMAND` (or COMMAND --help) lists a command's options");
  app.set_version_flag("-V,--version", std::string(),
                       "Version, build and what this machine offers; with "
                       "--format json for scripts");
  app.footer(exit_codes_help());
  CommandLine line;
  line.verbose =
      app.add_flag("-v,--verbose", "More log output on stderr (repeatable)");
  line.quiet = app.add_flag("-q,--quiet", "Only errors on stderr");
  add_commands(app, line.apps, values);
  return line;
}

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

void describe_command_line(CLI::App& app, OptionValues& values) {
  declare_command_line(app, values);
}

ParseOutcome parse_command_line(int argc, const char* const* argv,
                                std::ostream& out, std::ostream& err) {
  ParseOutcome outcome;
  Settings& settings = outcome.settings;
  OptionValues values;
  CLI::App app;
  const CommandLine line = declare_command_line(app, values);
  const CommandApps& apps = line.apps;
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
  for (const auto& [command_app, command] : apps.leaves) {
    if (command_app->parsed()) settings.command = command;
  }
  try {
    build_settings(settings, values);
  } catch (const Error& e) {
    err << "resnet-cli: " << e.what() << "\n";
    outcome.exit_code = kExitUsage;
    return outcome;
  }
  outcome.run = true;
  return outcome;
}

}  // namespace resnet_cli::cli
