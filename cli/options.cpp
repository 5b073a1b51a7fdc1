#include "options.h"

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>

#include "resnet_cli/download.h"
#include "resnet_cli/error.h"

#ifndef RESNET_CLI_VERSION
#define RESNET_CLI_VERSION "unknown"
#endif

namespace resnet_cli::cli {

namespace {

// Which commands an option belongs to.
enum CommandBit : unsigned {
  kOnClassify = 1u << 0,
  kOnPreprocess = 1u << 1,
  kOnWeightsInfo = 1u << 2,
  kOnWeightsDownload = 1u << 3,
  kOnWeightsPath = 1u << 4,
  kOnWeightsVerify = 1u << 5,
  kOnBench = 1u << 6,
  kOnMerge = 1u << 7,
};

using Binder = std::function<CLI::Option*(
    CLI::App&, Settings&, const std::string& flags, const std::string& help)>;

struct OptionSpec {
  const char* flags;
  const char* env;  // nullptr: no environment variable
  const char* help;
  unsigned commands;
  Binder bind;
};

template <typename T>
Binder value(T Settings::*member) {
  return [member](CLI::App& app, Settings& settings, const std::string& flags,
                  const std::string& help) {
    return app.add_option(flags, settings.*member, help)->capture_default_str();
  };
}

Binder flag(bool Settings::*member) {
  return [member](CLI::App& app, Settings& settings, const std::string& flags,
                  const std::string& help) {
    return app.add_flag(flags, settings.*member, help);
  };
}

// A list given one value per flag (--inputs a --inputs b), so that the
// command's positional arguments are never taken for more values.
Binder one_each(std::vector<std::string> Settings::*member) {
  return [member](CLI::App& app, Settings& settings, const std::string& flags,
                  const std::string& help) {
    return app.add_option(flags, settings.*member, help)
        ->allow_extra_args(false);
  };
}

Binder one_of(std::string Settings::*member, std::vector<std::string> choices) {
  return [member, choices](CLI::App& app, Settings& settings,
                           const std::string& flags, const std::string& help) {
    return app.add_option(flags, settings.*member, help)
        ->capture_default_str()
        ->transform(CLI::IsMember(choices, CLI::ignore_case));
  };
}

Binder number(int Settings::*member, int minimum, int maximum) {
  return [member, minimum, maximum](CLI::App& app, Settings& settings,
                                    const std::string& flags,
                                    const std::string& help) {
    CLI::Option* option = app.add_option(flags, settings.*member, help)
                              ->check(CLI::Range(minimum, maximum));
    // 0 means "decide for me"; the help text says what that is.
    if (settings.*member != 0) option->capture_default_str();
    return option;
  };
}

// The table. Each option is declared here once, with its help text and
// environment variable, and attached to the commands named in `commands`.
const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = {
      {"--weights", "RESNET_CLI_WEIGHTS",
       "Weights: IMAGENET1K_V1, IMAGENET1K_V2 or DEFAULT (= V2); also "
       "ResNet50_Weights.NAME. Chooses the file and the transforms",
       kOnClassify | kOnBench | kOnPreprocess, value(&Settings::weights)},
      {"--weights-file", "RESNET_CLI_WEIGHTS_FILE",
       "Checkpoint written by torch.save(model.state_dict()) (default: "
       "torch.hub's cached file for --weights)",
       kOnClassify | kOnBench, value(&Settings::weights_file)},
      {"--weights-url", "RESNET_CLI_WEIGHTS_URL",
       "Checkpoint URL, e.g. fine-tuned weights you host: downloaded once "
       "into torch.hub's cache and hash-checked as "
       "load_state_dict_from_url(url, check_hash=True) does. --weights "
       "still chooses the transforms",
       kOnClassify, value(&Settings::weights_url)},
      {"--url", nullptr,
       "Download this URL instead of a registry entry, into torch.hub's "
       "cache under its file name",
       kOnWeightsDownload, value(&Settings::weights_url)},
      {"--mirror", "RESNET_CLI_MIRROR",
       "Base URL that replaces torchvision's https://download.pytorch.org/"
       "models/ (http, https or file)",
       kOnClassify | kOnBench | kOnWeightsDownload, value(&Settings::mirror)},
      {"--offline", "RESNET_CLI_OFFLINE",
       "Never download; weights that are not cached are an error",
       kOnClassify | kOnBench, flag(&Settings::offline)},
      {"--verify", "RESNET_CLI_VERIFY",
       "Re-check a cached file's SHA-256 against the hash in its name before "
       "use (torch.hub never does)",
       kOnClassify, flag(&Settings::verify)},
      {"--force", nullptr,
       "Download even when cached; the cached file stays until the new one is "
       "verified",
       kOnWeightsDownload, flag(&Settings::force)},
      {"--retries", "RESNET_CLI_RETRIES",
       "Download retries after connection errors, short bodies and HTTP 5xx "
       "(never after 4xx)",
       kOnClassify | kOnWeightsDownload, number(&Settings::retries, 0, 100)},
      {"--retry-delay", "RESNET_CLI_RETRY_DELAY_MS",
       "Wait before the first download retry, milliseconds; doubles each time",
       kOnClassify | kOnWeightsDownload,
       number(&Settings::retry_delay_ms, 0, 600000)},
      {"--stall-timeout", "RESNET_CLI_STALL_TIMEOUT",
       "Abort a download attempt that receives nothing for this many seconds",
       kOnClassify | kOnWeightsDownload,
       number(&Settings::stall_timeout_s, 1, 86400)},
      {"--labels", "RESNET_CLI_LABELS",
       "Class names, one a line, for a fine-tuned model (default: ImageNet's)",
       kOnClassify, value(&Settings::labels_file)},
      {"-k,--topk", "RESNET_CLI_TOPK", "Number of classes to report per image",
       kOnClassify, number(&Settings::topk, 1, 1 << 20)},
      {"--output-type", "RESNET_CLI_OUTPUT_TYPE",
       "prob: softmax probabilities; logit: raw model outputs; embedding: the "
       "2048 pooled features",
       kOnClassify,
       one_of(&Settings::output_type, {"prob", "logit", "embedding"})},
      {"-f,--format", "RESNET_CLI_FORMAT",
       "Output format: text, json (one array), jsonl (a line per image), csv "
       "(RFC 4180) or tsv",
       kOnClassify,
       one_of(&Settings::format, {"text", "json", "jsonl", "csv", "tsv"})},
      {"-o,--output", nullptr,
       "Write results to FILE instead of stdout (replaced only when complete; "
       "jsonl appends as it goes)",
       kOnClassify, value(&Settings::output_file)},
      {"-o,--output", nullptr,
       "Write the merged records to FILE (replaced only when complete) "
       "instead of stdout",
       kOnMerge, value(&Settings::output_file)},
      {"-f,--format", nullptr,
       "jsonl (a line per input), or json (one array, as classify --format "
       "json writes it)",
       kOnMerge, one_of(&Settings::merge_format, {"jsonl", "json"})},
      {"--inputs", nullptr,
       "A file or folder the run classified, as given to classify (repeat "
       "for each). With --inputs or --files-from, every input must be "
       "recorded exactly once, and records come out in input order",
       kOnMerge, one_each(&Settings::merge_inputs)},
      {"--resume", nullptr,
       "With --output FILE --format jsonl: skip inputs FILE already records",
       kOnClassify, flag(&Settings::resume)},
      {"--files-from", nullptr,
       "Read input paths from FILE, one a line ('-' for stdin)",
       kOnClassify | kOnBench | kOnMerge, value(&Settings::files_from)},
      {"-0,--null", nullptr, "--files-from entries end in NUL (find -print0)",
       kOnClassify | kOnBench | kOnMerge, flag(&Settings::null_separated)},
      {"--ext", "RESNET_CLI_EXT",
       "Extensions picked up in folders, e.g. jpg,png (default: every format "
       "resnet-cli reads)",
       kOnClassify | kOnBench | kOnMerge, value(&Settings::extensions)},
      {"-L,--follow", nullptr,
       "Follow symbolic links to folders while scanning (loops are reported)",
       kOnClassify | kOnBench | kOnMerge, flag(&Settings::follow)},
      {"--shard", "RESNET_CLI_SHARD",
       "I/N: only the inputs of shard I of N (0 <= I < N), chosen by a hash "
       "of the path",
       kOnClassify, value(&Settings::shard)},
      {"-t,--threads", "RESNET_CLI_THREADS",
       "Threads for inference (0: one per available core)",
       kOnClassify | kOnBench, number(&Settings::threads, 0, 1024)},
      {"-b,--batch-size", "RESNET_CLI_BATCH_SIZE",
       "Images per forward pass and worker (0: 2 on CPU, 32 on CUDA)",
       kOnClassify | kOnBench, number(&Settings::batch_size, 0, 4096)},
      {"--workers", "RESNET_CLI_WORKERS",
       "Inference workers sharing --threads (0: one single-threaded worker per "
       "thread for several images, one worker for one image)",
       kOnClassify | kOnBench, number(&Settings::workers, 0, 1024)},
      {"--engine", nullptr,
       "optimized (BatchNorm folded, oneDNN's blocked layout) or reference "
       "(torchvision's layer-by-layer computation, slower)",
       kOnClassify | kOnBench,
       one_of(&Settings::engine, {"optimized", "reference"})},
      {"--decode-threads", "RESNET_CLI_DECODE_THREADS",
       "Threads decoding and preprocessing (0: one per inference thread)",
       kOnClassify | kOnBench, number(&Settings::decode_threads, 0, 1024)},
      {"--unordered", nullptr,
       "Write records as they finish instead of in input order", kOnClassify,
       flag(&Settings::unordered)},
      {"--progress", "RESNET_CLI_PROGRESS",
       "Progress and summary on stderr: auto (when it is a terminal), always, "
       "never",
       kOnClassify, one_of(&Settings::progress, {"auto", "always", "never"})},
      {"--precision", "RESNET_CLI_PRECISION",
       "fp32, or bf16 (about 1.4x faster where the CPU has AVX512-BF16; logits "
       "within about 1% of fp32)",
       kOnClassify | kOnBench, one_of(&Settings::precision, {"fp32", "bf16"})},
      {"--iterations", nullptr, "Timed forward passes per inference worker",
       kOnBench, number(&Settings::iterations, 1, 100000)},
      {"--warmup", nullptr, "Untimed forward passes first", kOnBench,
       number(&Settings::warmup, 0, 1000)},
      {"--format", nullptr, "text or json", kOnBench,
       one_of(&Settings::format, {"text", "json"})},
      {"--device", "RESNET_CLI_DEVICE", "cpu, cuda or cuda:N",
       kOnClassify | kOnBench, value(&Settings::device)},
      {"--resize", nullptr,
       "Short side after resize, pixels (default: the weights' 256 or 232)",
       kOnClassify | kOnBench | kOnPreprocess,
       number(&Settings::resize, 1, 16384)},
      {"--crop", nullptr, "Center crop size, pixels (default: 224)",
       kOnClassify | kOnBench | kOnPreprocess,
       number(&Settings::crop, 1, 4096)},
      {"--interpolation", nullptr,
       "Resize filter, Pillow's: bilinear (default), bicubic or nearest",
       kOnClassify | kOnPreprocess,
       one_of(&Settings::interpolation, {"bilinear", "bicubic", "nearest"})},
      {"--mean", nullptr,
       "Normalization mean R,G,B (default 0.485,0.456,0.406)",
       kOnClassify | kOnPreprocess, value(&Settings::mean)},
      {"--std", nullptr, "Normalization std R,G,B (default 0.229,0.224,0.225)",
       kOnClassify | kOnPreprocess, value(&Settings::std)},
      {"--exif", "RESNET_CLI_EXIF",
       "EXIF orientation: ignore (as PIL and torchvision do) or apply",
       kOnClassify | kOnPreprocess,
       one_of(&Settings::exif, {"ignore", "apply"})},
      {"--max-pixels", "RESNET_CLI_MAX_PIXELS",
       "Refuse images with more pixels, before decoding (Pillow's limit)",
       kOnClassify | kOnPreprocess, value(&Settings::max_pixels)},
      {"--allow-truncated", nullptr,
       "Decode truncated JPEGs (rest grey) with a warning instead of failing",
       kOnClassify | kOnPreprocess, flag(&Settings::allow_truncated)},
      {"-o,--output", nullptr, "Write the model input here (float32 .npy)",
       kOnPreprocess, value(&Settings::npy_output)},
      {"--png", nullptr, "Also write the uint8 RGB crop here (PNG)",
       kOnPreprocess, value(&Settings::png_output)},
      {"--format", nullptr, "text or json", kOnWeightsInfo | kOnWeightsVerify,
       one_of(&Settings::format, {"text", "json"})},
  };
  return table;
}

void attach_options(CLI::App& app, Settings& settings, unsigned command) {
  for (const OptionSpec& spec : option_table()) {
    if (!(spec.commands & command)) continue;
    std::string help = spec.help;
    CLI::Option* option = spec.bind(app, settings, spec.flags, help);
    if (spec.env) option->envname(spec.env);
  }
}

std::array<float, 3> parse_triple(const std::string& text, const char* flag) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t comma; (comma = text.find(',', start)) != std::string::npos;
       start = comma + 1) {
    parts.push_back(text.substr(start, comma - start));
  }
  parts.push_back(text.substr(start));
  std::array<float, 3> values{};
  bool ok = parts.size() == 3;
  for (std::size_t i = 0; ok && i < 3; ++i) {
    try {
      std::size_t used = 0;
      values[i] = std::stof(parts[i], &used);
      ok = used == parts[i].size();
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok) {
    throw Error(ErrorKind::kUsage, std::string(flag) + " '" + text +
                                       "': expected three numbers R,G,B");
  }
  return values;
}

TransformOverrides transform_overrides(const Settings& settings) {
  TransformOverrides overrides;
  if (settings.resize > 0) overrides.resize_size = settings.resize;
  if (settings.crop > 0) overrides.crop_size = settings.crop;
  if (!settings.interpolation.empty()) {
    overrides.interpolation = find_enum<Interpolation>(settings.interpolation);
  }
  if (!settings.mean.empty())
    overrides.mean = parse_triple(settings.mean, "--mean");
  if (!settings.std.empty())
    overrides.std = parse_triple(settings.std, "--std");
  return overrides;
}

// Combinations that each option alone cannot check.
void check_weights_options(const Settings& settings) {
  if (!settings.weights_file.empty() && !settings.weights_url.empty()) {
    throw Error(ErrorKind::kUsage,
                "give --weights-file or --weights-url, not both");
  }
  if (!settings.weights_url.empty()) url_file_name(settings.weights_url);
  if (!settings.mirror.empty() &&
      settings.mirror.find("://") == std::string::npos) {
    throw Error(ErrorKind::kUsage,
                "--mirror '" + settings.mirror +
                    "': expected a base URL such as http://host/models/");
  }
  switch (settings.command) {
    case Command::kWeightsDownload:
      if (settings.weights_target.empty() == settings.weights_url.empty()) {
        throw Error(ErrorKind::kUsage,
                    "weights download: give a NAME or --url URL (one of them)");
      }
      if (!settings.weights_target.empty()) {
        find_weights(settings.weights_target);
      }
      break;
    case Command::kWeightsPath:
      find_weights(settings.weights_target);
      break;
    default:
      break;
  }
}

// Copies the shared options into the settings of the chosen command.
void finish_settings(Settings& settings) {
  check_weights_options(settings);
  DecodeOptions decode;
  decode.apply_exif_orientation = settings.exif == "apply";
  decode.allow_truncated = settings.allow_truncated;
  decode.max_pixels = settings.max_pixels;
  const TransformOverrides overrides = transform_overrides(settings);
  find_weights(settings.weights);  // an unknown name is a usage error now

  ClassifySettings& classify = settings.classify;
  classify.input.paths = settings.inputs;
  classify.input.files_from = settings.files_from;
  classify.input.null_separated = settings.null_separated;
  if (!settings.extensions.empty()) {
    classify.input.extensions = parse_extensions(settings.extensions);
  }
  classify.input.follow_symlinks = settings.follow;
  if (!settings.shard.empty())
    classify.input.shard = parse_shard(settings.shard);
  classify.resume = settings.resume;
  classify.output_file = settings.output_file;
  classify.batch_size = settings.batch_size;
  classify.workers = settings.workers;
  classify.model.path = settings.engine == "reference" ? ModelPath::kReference
                                                       : ModelPath::kOptimized;
  classify.decode_threads = settings.decode_threads;
  classify.ordered = !settings.unordered;
  classify.progress = parse_progress_mode(settings.progress);
  classify.weights = settings.weights;
  classify.weights_file = settings.weights_file;
  classify.labels_file = settings.labels_file;
  classify.topk = settings.topk;
  classify.output_type = parse_output_type(settings.output_type);
  if (settings.command == Command::kClassify) {
    classify.format = parse_output_format(settings.format);
  }
  classify.transform = overrides;
  classify.decode = decode;
  classify.model.threads = settings.threads;
  classify.model.device = settings.device;
  classify.model.precision = parse_precision(settings.precision);

  FetchOptions& fetch = settings.fetch;
  fetch.mirror = settings.mirror;
  fetch.offline = settings.offline;
  fetch.verify = settings.verify;
  fetch.download.retries = settings.retries;
  fetch.download.retry_delay_ms = settings.retry_delay_ms;
  fetch.download.stall_timeout_s = settings.stall_timeout_s;
  fetch.download.progress = settings.verbosity >= 0;
  classify.weights_url = settings.weights_url;
  classify.fetch = fetch;

  MergeSettings& merge = settings.merge;
  merge.parts = settings.merge_parts;
  if (!settings.merge_inputs.empty() || !settings.files_from.empty()) {
    InputOptions inputs = classify.input;
    inputs.paths = settings.merge_inputs;
    merge.inputs = inputs;
  }
  merge.format = parse_output_format(settings.merge_format);
  merge.output_file = settings.output_file;

  settings.bench.classify = classify;
  settings.bench.iterations = settings.iterations;
  settings.bench.warmup = settings.warmup;
  settings.bench.json = settings.format == "json";

  PreprocessSettings& preprocess = settings.preprocess;
  preprocess.input = settings.inputs.empty() ? "" : settings.inputs.front();
  preprocess.weights = settings.weights;
  preprocess.transform = overrides;
  preprocess.decode = decode;
  preprocess.npy_output = settings.npy_output;
  preprocess.png_output = settings.png_output;
}

}  // namespace

ParseOutcome parse_command_line(int argc, const char* const* argv,
                                std::ostream& out, std::ostream& err) {
  ParseOutcome outcome;
  Settings& settings = outcome.settings;

  CLI::App app{
      "resnet-cli: torchvision's ResNet50 image classifier, same "
      "answers, one native binary",
      "resnet-cli"};
  app.set_version_flag("--version", RESNET_CLI_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 all inputs ok, 1 some input failed, 2 usage error, "
      "3 model, weights, download, checkpoint or device error, 4 output not "
      "written, 5 merge: the parts do not record every input exactly once, "
      "130 interrupted (what was done is written).");
  auto* verbose =
      app.add_flag("-v,--verbose", "More log output on stderr (repeatable)");
  auto* quiet = app.add_flag("-q,--quiet", "Only errors on stderr");

  CLI::App* classify = app.add_subcommand(
      "classify", "Classify images; prints the top-k ImageNet classes of each");
  classify->add_option("inputs", settings.inputs,
                       "Image files and folders (scanned recursively); '-' "
                       "reads one image from stdin");
  attach_options(*classify, settings, kOnClassify);

  CLI::App* preprocess = app.add_subcommand(
      "preprocess",
      "Write one image's model input exactly as torchvision computes it");
  preprocess->add_option("input", settings.inputs, "Image file, or '-'")
      ->required()
      ->expected(1);
  attach_options(*preprocess, settings, kOnPreprocess);

  CLI::App* weights = app.add_subcommand("weights", "The weights registry");
  weights->require_subcommand(1);
  CLI::App* weights_list = weights->add_subcommand(
      "list", "Table of known weights and whether each is cached");
  CLI::App* weights_info =
      weights->add_subcommand("info", "torchvision's meta for one entry");
  weights_info->add_option("name", settings.info_name, "e.g. IMAGENET1K_V2")
      ->required();
  attach_options(*weights_info, settings, kOnWeightsInfo);
  CLI::App* weights_download = weights->add_subcommand(
      "download",
      "Download one entry (or --url) into torch.hub's cache, hash-checked; "
      "prints the cached file's path");
  weights_download->add_option("name", settings.weights_target,
                               "e.g. IMAGENET1K_V2");
  attach_options(*weights_download, settings, kOnWeightsDownload);
  CLI::App* weights_path = weights->add_subcommand(
      "path", "Print where an entry is (or would be) cached");
  weights_path->add_option("name", settings.weights_target, "e.g. DEFAULT")
      ->required();
  attach_options(*weights_path, settings, kOnWeightsPath);
  CLI::App* weights_verify = weights->add_subcommand(
      "verify",
      "Hash cached files (or FILE) and check the SHA-256 against the hash in "
      "the file name; exit 3 on a mismatch");
  weights_verify->add_option(
      "target", settings.weights_target,
      "A registry NAME or a FILE (default: every cached registry file)");
  attach_options(*weights_verify, settings, kOnWeightsVerify);

  CLI::App* bench = app.add_subcommand(
      "bench",
      "Forward-only throughput and latency; with images or a folder, the "
      "whole pipeline's throughput and time per stage");
  bench->add_option("inputs", settings.inputs,
                    "Images or folders to run through the whole pipeline");
  attach_options(*bench, settings, kOnBench);

  CLI::App* merge = app.add_subcommand(
      "merge",
      "Join the JSON Lines parts of a sharded run (classify --shard I/N "
      "--format jsonl -o part-I.jsonl) into one output; with --inputs or "
      "--files-from, check that every input is recorded exactly once");
  merge
      ->add_option("parts", settings.merge_parts,
                   "JSON Lines files written by classify --format jsonl")
      ->required();
  attach_options(*merge, settings, kOnMerge);

  // -v and -q work after the command name too.
  for (CLI::App* command :
       {classify, preprocess, weights, weights_list, weights_info,
        weights_download, weights_path, weights_verify, bench, merge}) {
    command->fallthrough();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      outcome.exit_code = app.exit(e, out, err);
      return outcome;
    }
    std::string what = e.what();
    err << "resnet-cli: " << what << " (see resnet-cli --help)\n";
    outcome.exit_code = kExitUsage;
    return outcome;
  }

  settings.verbosity =
      static_cast<int>(verbose->count()) - (quiet->count() ? 1 : 0);
  if (classify->parsed()) settings.command = Command::kClassify;
  if (preprocess->parsed()) settings.command = Command::kPreprocess;
  if (weights_list->parsed()) settings.command = Command::kWeightsList;
  if (weights_info->parsed()) settings.command = Command::kWeightsInfo;
  if (weights_download->parsed()) settings.command = Command::kWeightsDownload;
  if (weights_path->parsed()) settings.command = Command::kWeightsPath;
  if (weights_verify->parsed()) settings.command = Command::kWeightsVerify;
  if (bench->parsed()) settings.command = Command::kBench;
  if (merge->parsed()) settings.command = Command::kMerge;

  try {
    if (settings.command == Command::kClassify && settings.inputs.empty() &&
        settings.files_from.empty()) {
      throw Error(ErrorKind::kUsage,
                  "classify: give images, folders or --files-from FILE");
    }
    if (settings.command == Command::kPreprocess &&
        settings.npy_output.empty() && settings.png_output.empty()) {
      throw Error(ErrorKind::kUsage,
                  "preprocess: give -o FILE.npy and/or --png FILE.png");
    }
    finish_settings(settings);
  } catch (const Error& e) {
    err << "resnet-cli: " << e.what() << "\n";
    outcome.exit_code = kExitUsage;
    return outcome;
  }
  outcome.run = true;
  return outcome;
}

}  // namespace resnet_cli::cli
