#include "options.h"

#include <CLI/CLI.hpp>
#include <ostream>

#include "exit_codes.h"
#include "option_table.h"
#include "resnet_cli/download.h"
#include "resnet_cli/error.h"
#include "resnet_cli/model_loader.h"

#ifndef RESNET_CLI_VERSION
#define RESNET_CLI_VERSION "unknown"
#endif
#ifndef RESNET_CLI_LIBTORCH_VERSION
#define RESNET_CLI_LIBTORCH_VERSION "unknown"
#endif
#ifndef RESNET_CLI_ONEDNN_VERSION
#define RESNET_CLI_ONEDNN_VERSION "unknown"
#endif

namespace resnet_cli::cli {

namespace {

// --version: what was built, with what, and where the model side is. Read
// from the build and the file system; nothing is loaded to find out.
std::string version_text() {
  const ModelModuleStatus module = model_module_status();
  std::string text = std::string("resnet-cli ") + RESNET_CLI_VERSION +
                     "\nLibTorch " + RESNET_CLI_LIBTORCH_VERSION + ", oneDNN " +
                     RESNET_CLI_ONEDNN_VERSION + "\nmodel: ";
  if (!module.is_module) return text + "linked in";
  return text + "module " + module.path +
         (module.found ? "" : " (missing: classify and bench cannot run)");
}

// The subcommands, as CLI11 apps, and which Command each one is.
struct CommandApps {
  std::vector<std::pair<CLI::App*, Command>> leaves;
  std::vector<CLI::App*> all;
};

CLI::App* add_command(CLI::App& parent, CommandApps& apps, const char* name,
                      const char* help, Command command, OptionValues& values,
                      unsigned options) {
  CLI::App* app = parent.add_subcommand(name, help);
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
  bool argument_required;
};

constexpr WeightsCommand kWeightsCommands[] = {
    {"list", "Table of known weights and whether each is cached",
     Command::kWeightsList, kOnWeightsList, nullptr, false},
    {"info", "torchvision's meta for one entry", Command::kWeightsInfo,
     kOnWeightsInfo, "e.g. ResNet50_Weights.IMAGENET1K_V2", true},
    {"download",
     "Download one entry (or --url) into torch.hub's cache, hash-checked; "
     "prints the cached file's path",
     Command::kWeightsDownload, kOnWeightsDownload,
     "e.g. ResNet18_Weights.DEFAULT", false},
    {"path", "Print where an entry is (or would be) cached",
     Command::kWeightsPath, kOnWeightsPath, "e.g. DEFAULT", true},
    {"verify",
     "Hash cached files (or FILE) and check the SHA-256 against the hash in "
     "the file name; exit 3 on a mismatch",
     Command::kWeightsVerify, kOnWeightsVerify,
     "A registry NAME or a FILE (default: every cached registry file)", false},
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
        command->add_option("name", values.weights_target, spec.argument_help);
    if (spec.argument_required) argument->required();
  }
}

void add_commands(CLI::App& app, CommandApps& apps, OptionValues& values) {
  add_command(app, apps, "classify",
              "Classify images; prints the top-k ImageNet classes of each",
              Command::kClassify, values, kOnClassify)
      ->add_option("inputs", values.inputs,
                   "Image files and folders (scanned recursively); '-' reads "
                   "one image from stdin");
  add_command(app, apps, "preprocess",
              "Write one image's model input exactly as torchvision computes "
              "it",
              Command::kPreprocess, values, kOnPreprocess)
      ->add_option("input", values.inputs, "Image file, or '-'")
      ->required()
      ->expected(1);
  add_weights_commands(app, apps, values);
  add_command(app, apps, "bench",
              "Forward-only throughput and latency; with images or a folder, "
              "the whole pipeline's throughput and time per stage",
              Command::kBench, values, kOnBench)
      ->add_option("inputs", values.inputs,
                   "Images or folders to run through the whole pipeline");
  add_command(app, apps, "merge",
              "Join the JSON Lines parts of a sharded run (classify --shard "
              "I/N --format jsonl -o part-I.jsonl) into one output; with "
              "--inputs or --files-from, check that every input is recorded "
              "exactly once",
              Command::kMerge, values, kOnMerge)
      ->add_option("parts", values.merge_parts,
                   "JSON Lines files written by classify --format jsonl")
      ->required();
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
    case Command::kPreprocess:
      settings.preprocess = preprocess_settings(values);
      break;
    case Command::kMerge:
      settings.merge = merge_settings(values);
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

}  // namespace

ParseOutcome parse_command_line(int argc, const char* const* argv,
                                std::ostream& out, std::ostream& err) {
  ParseOutcome outcome;
  Settings& settings = outcome.settings;
  OptionValues values;

  CLI::App app{
      "resnet-cli: torchvision's ResNet50 image classifier, same "
      "answers, one native binary",
      "resnet-cli"};
  app.set_version_flag("--version", version_text);
  app.require_subcommand(1);
  app.footer(exit_codes_help());
  auto* verbose =
      app.add_flag("-v,--verbose", "More log output on stderr (repeatable)");
  auto* quiet = app.add_flag("-q,--quiet", "Only errors on stderr");
  CommandApps apps;
  add_commands(app, apps, values);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      outcome.exit_code = app.exit(e, out, err);
      return outcome;
    }
    err << "resnet-cli: " << e.what() << " (see resnet-cli --help)\n";
    outcome.exit_code = kExitUsage;
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
