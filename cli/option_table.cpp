#include "option_table.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <limits>
#include <ostream>
#include <sstream>

#include "base/error.h"
#include "command_registry.h"
#include "help_format.h"
#include "image/image_format.h"
#include "weights/download.h"
#include "weights/model_spec.h"

namespace resnet_cli::cli {

namespace {

using Binder = std::function<CLI::Option*(CLI::App&, OptionValues&,
                                          const std::string& flags,
                                          const std::string& help)>;

struct OptionSpec {
  const char* flags;
  OptionGroup group;  // where --help lists it (help_format.h)
  const char* env;    // nullptr: no environment variable
  const char* help;
  unsigned commands;
  Binder bind;
};

// `type_name` (FILE, PATH, URL, WEIGHTS, ...) is what --help shows for the
// value, and what the generated shell completions offer (cli/docs/).
template <typename T>
Binder value(T OptionValues::*member, const char* type_name = nullptr) {
  return
      [member, type_name](CLI::App& app, OptionValues& values,
                          const std::string& flags, const std::string& help) {
        CLI::Option* option =
            app.add_option(flags, values.*member, help)->capture_default_str();
        if (type_name) option->type_name(type_name);
        return option;
      };
}

Binder flag(bool OptionValues::*member) {
  return [member](CLI::App& app, OptionValues& values, const std::string& flags,
                  const std::string& help) {
    return app.add_flag(flags, values.*member, help);
  };
}

// A list given one value per flag (--inputs a --inputs b), so that the
// command's positional arguments are never taken for more values.
Binder one_each(std::vector<std::string> OptionValues::*member,
                const char* type_name) {
  return
      [member, type_name](CLI::App& app, OptionValues& values,
                          const std::string& flags, const std::string& help) {
        return app.add_option(flags, values.*member, help)
            ->allow_extra_args(false)
            ->type_name(type_name);
      };
}

// A check that says what is wrong with a whole number: not a number at all,
// or outside [minimum, maximum] (CLI11's Range calls both "not in range").
CLI::Validator whole_number(long long minimum, long long maximum) {
  const std::string range =
      std::to_string(minimum) + " to " + std::to_string(maximum);
  return CLI::Validator(
      [minimum, maximum, range](std::string& text) -> std::string {
        long long number = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, number);
        if (text.empty() || stop != end) {
          return "'" + text + "' is not a number" +
                 (error == std::errc{} && *stop == '.' ? " (a whole one)" : "");
        }
        if (error != std::errc{} || number < minimum || number > maximum) {
          return text + " is out of range (" + range + ")";
        }
        return {};
      },
      // --help's note of the range (the type, INT, is the option's own).
      maximum == std::numeric_limits<long long>::max()
          ? "at least " + std::to_string(minimum)
          : range);
}

Binder number(int OptionValues::*member, int minimum, int maximum) {
  return [member, minimum, maximum](CLI::App& app, OptionValues& values,
                                    const std::string& flags,
                                    const std::string& help) {
    CLI::Option* option = app.add_option(flags, values.*member, help)
                              ->check(whole_number(minimum, maximum));
    // 0 means "decide for me"; the help text says what that is.
    if (values.*member != 0) option->capture_default_str();
    return option;
  };
}

// A whole number that records whether it was given, on the command line or
// by its variable: for a default that means "at most" (--topk).
Binder number_given(int OptionValues::*member, bool OptionValues::*given,
                    int minimum, int maximum) {
  return [member, given, minimum, maximum](CLI::App& app, OptionValues& values,
                                           const std::string& flags,
                                           const std::string& help) {
    bool* was_given = &(values.*given);
    return number(member, minimum, maximum)(app, values, flags, help)
        ->each([was_given](const std::string&) { *was_given = true; });
  };
}

Binder real(double OptionValues::*member, double minimum, double maximum) {
  return [member, minimum, maximum](CLI::App& app, OptionValues& values,
                                    const std::string& flags,
                                    const std::string& help) {
    const auto text = [](double value) {
      std::ostringstream out;
      out << value;
      return out.str();
    };
    const std::string range = text(minimum) + " to " + text(maximum);
    return app.add_option(flags, values.*member, help)
        ->check(CLI::Validator(
            [minimum, maximum, range](std::string& value) -> std::string {
              double number = 0;
              try {
                std::size_t used = 0;
                number = std::stod(value, &used);
                if (used != value.size()) throw std::invalid_argument(value);
              } catch (const std::exception&) {
                return "'" + value + "' is not a number";
              }
              if (number < minimum || number > maximum) {
                return value + " is out of range (" + range + ")";
              }
              return {};
            },
            range))
        ->capture_default_str();
  };
}

// A size in bytes: a whole number, or one followed by a unit, K, M, G or T
// (1024-based, as `ls -h` and `ulimit` count; "KiB", "kb", "MB" alike), so
// that --max-body 50M works. The value is rewritten to bytes before CLI11
// converts it; at least `minimum`.
CLI::Validator byte_size(std::uint64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        std::uint64_t number = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, number);
        std::string unit(stop, end);
        std::transform(unit.begin(), unit.end(), unit.begin(), [](char c) {
          return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        });
        if (!unit.empty() && unit.back() == 'b') unit.pop_back();
        if (!unit.empty() && unit.back() == 'i' && unit.size() == 2) {
          unit.pop_back();
        }
        const std::string units = "kmgt";
        const std::size_t power =
            unit.empty() ? 0
            : unit.size() == 1 && units.find(unit[0]) != std::string::npos
                ? units.find(unit[0]) + 1
                : std::string::npos;
        if (stop == text.data() || error != std::errc{} ||
            power == std::string::npos) {
          return "'" + text +
                 "' is not a size (bytes, or a whole number with K, M, G or "
                 "T)";
        }
        std::uint64_t bytes = number;
        for (std::size_t i = 0; i < power; ++i) {
          if (bytes > std::numeric_limits<std::uint64_t>::max() / 1024) {
            return text + " is more bytes than a 64-bit count holds";
          }
          bytes *= 1024;
        }
        if (bytes < minimum) {
          return text + " is less than " + std::to_string(minimum) + " bytes";
        }
        text = std::to_string(bytes);
        return {};
      },
      "K, M, G or T (1024-based)");
}

// A size in bytes (byte_size), BYTES in --help.
Binder byte_count(std::uint64_t OptionValues::*member,
                  std::uint64_t minimum = 0) {
  return [member, minimum](CLI::App& app, OptionValues& values,
                           const std::string& flags, const std::string& help) {
    return app.add_option(flags, values.*member, help)
        ->transform(byte_size(minimum))
        ->type_name("BYTES")
        ->capture_default_str();
  };
}

// A count of pixels, checked as whole_number checks one.
Binder pixel_count(std::uint64_t OptionValues::*member,
                   const char* type_name = "INT") {
  return
      [member, type_name](CLI::App& app, OptionValues& values,
                          const std::string& flags, const std::string& help) {
        return app.add_option(flags, values.*member, help)
            ->check(whole_number(1, std::numeric_limits<long long>::max()))
            ->type_name(type_name)
            ->capture_default_str();
      };
}

// A value converted as it is parsed: `convert` gives the typed value or
// throws Error(kUsage), whose message becomes CLI11's validation error.
template <typename Target, typename Convert>
CLI::Option* add_converted(CLI::App& app, const std::string& flags,
                           Target& target, const std::string& help,
                           Convert convert, const std::string& type_name) {
  CLI::Option* option = app.add_option_function<std::string>(
      flags,
      [&target, convert](const std::string& text) { target = convert(text); },
      help);
  option->check(
      [convert](const std::string& text) -> std::string {
        try {
          convert(text);
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      },
      type_name);
  option->type_name(type_name);
  return option;
}

// One of an enum's names (enum_names.h), any case, bound to the enum value.
// `allowed`, when not empty, narrows the names a command takes.
template <typename E, typename Target>
Binder choice(Target OptionValues::*member, std::vector<E> allowed = {}) {
  return [member, allowed](CLI::App& app, OptionValues& values,
                           const std::string& flags, const std::string& help) {
    std::string choices;
    for (const auto& entry : EnumNames<E>::names) {
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(),
                                        entry.value) == allowed.end()) {
        continue;
      }
      choices += (choices.empty() ? "" : ",") + std::string(entry.name);
    }
    const auto convert = [allowed, choices](const std::string& text) {
      const std::optional<E> found = find_enum<E>(text);
      if (!found ||
          (!allowed.empty() && std::find(allowed.begin(), allowed.end(),
                                         *found) == allowed.end())) {
        throw Error(ErrorKind::kUsage,
                    "'" + text + "' is not one of " + choices);
      }
      return *found;
    };
    CLI::Option* option = add_converted(app, flags, values.*member, help,
                                        convert, "{" + choices + "}");
    if constexpr (std::is_same_v<Target, E>) {
      option->default_str(std::string(enum_name(values.*member)));
    }
    return option;
  };
}

// A value a library function parses (--shard I/N, --ext a,b, --mean R,G,B).
template <typename T, typename Parse>
Binder parsed(std::optional<T> OptionValues::*member, Parse parse,
              const char* type_name) {
  return [member, parse, type_name](CLI::App& app, OptionValues& values,
                                    const std::string& flags,
                                    const std::string& help) {
    return add_converted(
        app, flags, values.*member, help,
        [parse](const std::string& text) {
          return std::optional<T>(parse(text));
        },
        type_name);
  };
}

// --ext: its default, shown and not set (no list means every extension of
// the table of image formats, run/inputs.h), is that table's.
Binder extension_list(
    std::optional<std::vector<std::string>> OptionValues::*member) {
  return [member](CLI::App& app, OptionValues& values, const std::string& flags,
                  const std::string& help) {
    CLI::Option* option =
        parsed(member, parse_extensions, "LIST")(app, values, flags, help);
    std::string all;
    for (const std::string& extension : image_format_extensions()) {
      all += (all.empty() ? "" : ",") + extension;
    }
    return option->default_str(all);
  };
}

std::array<float, 3> parse_triple(const std::string& text) {
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
    throw Error(ErrorKind::kUsage,
                "'" + text + "': expected three numbers R,G,B");
  }
  return values;
}

double parse_learning_rate(const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && value > 0 && value < 1e3) return value;
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::kUsage,
              "'" + text + "': expected a learning rate above 0");
}

// --arch: the canonical name of the architecture `text` names.
std::string parse_architecture_name(const std::string& text) {
  return std::string(architecture(text).name);
}

// The table. Each option is declared here once, with its help text and
// environment variable, and attached to the commands named in `commands`.
// Choices are listed by the binder, from the enum's names.
const std::vector<OptionSpec>& option_table() {
  using V = OptionValues;
  using G = OptionGroup;
  static const std::vector<OptionSpec> table = {
      {"--weights", G::kModel, "RESNET_CLI_WEIGHTS",
       "Weights, as torchvision names them: ResNet18_Weights.IMAGENET1K_V1, "
       "or IMAGENET1K_V1, IMAGENET1K_V2 or DEFAULT of --arch's enum "
       "(ResNet50's without --arch). Chooses the file and the transforms; "
       "see resnet-cli weights list",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench |
           kOnPreprocess | kOnServe,
       value(&V::weights, "WEIGHTS")},
      {"--arch", G::kModel, "RESNET_CLI_ARCH",
       "Architecture: resnet18, resnet34, resnet50, resnet101, resnet152, "
       "resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, "
       "wide_resnet101_2. Alone it means its DEFAULT weights; with "
       "--weights-file or --weights-url the checkpoint must be one (default: "
       "read from the checkpoint's keys and shapes)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench |
           kOnPreprocess | kOnServe,
       parsed(&V::arch, parse_architecture_name, "ARCH")},
      {"--weights-file", G::kModel, "RESNET_CLI_WEIGHTS_FILE",
       "Checkpoint written by torch.save(model.state_dict()) (default: "
       "torch.hub's cached file for --weights)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       value(&V::weights_file, "FILE")},
      {"--weights-url", G::kModel, "RESNET_CLI_WEIGHTS_URL",
       "Checkpoint URL, e.g. fine-tuned weights you host: downloaded once "
       "into torch.hub's cache and hash-checked as "
       "load_state_dict_from_url(url, check_hash=True) does. --weights "
       "still chooses the transforms",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnServe,
       value(&V::weights_url, "URL")},
      {"--url", G::kModel, nullptr,
       "Download this URL instead of a registry entry, into torch.hub's "
       "cache under its file name",
       kOnWeightsDownload, value(&V::weights_url, "URL")},
      {"--mirror", G::kModel, "RESNET_CLI_MIRROR",
       "Base URL that replaces torchvision's https://download.pytorch.org/"
       "models/ (http, https or file)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench |
           kOnWeightsDownload | kOnServe,
       value(&V::mirror, "URL")},
      {"--offline", G::kModel, "RESNET_CLI_OFFLINE",
       "Never download; weights that are not cached are an error",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       flag(&V::offline)},
      {"--verify", G::kModel, "RESNET_CLI_VERIFY",
       "Re-check a cached file's SHA-256 against the hash in its name before "
       "use (torch.hub never does)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnServe,
       flag(&V::verify)},
      {"--force", G::kModel, nullptr,
       "Download even when cached; the cached file stays until the new one is "
       "verified",
       kOnWeightsDownload, flag(&V::force)},
      {"--retries", G::kModel, "RESNET_CLI_RETRIES",
       "Download retries after connection errors, short bodies and HTTP 5xx "
       "(never after 4xx)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnWeightsDownload |
           kOnServe,
       number(&V::retries, 0, 100)},
      {"--retry-delay", G::kModel, "RESNET_CLI_RETRY_DELAY_MS",
       "Wait before the first download retry, milliseconds; doubles each time",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnWeightsDownload |
           kOnServe,
       number(&V::retry_delay_ms, 0, 600000)},
      {"--stall-timeout", G::kModel, "RESNET_CLI_STALL_TIMEOUT",
       "Abort a download attempt that receives nothing for this many seconds",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnWeightsDownload |
           kOnServe,
       number(&V::stall_timeout_s, 1, 86400)},
      {"--labels", G::kModel, "RESNET_CLI_LABELS",
       "Class names, one a line, or TorchServe's index_to_name.json, for a "
       "fine-tuned model (default: ImageNet's)",
       kOnClassify | kOnQuantize | kOnEvaluate | kOnServe,
       value(&V::labels_file, "FILE")},
      {"-k,--topk", G::kOutput, "RESNET_CLI_TOPK",
       "Number of classes to report per image: at most the model's; asking "
       "for more gives all of them, with a warning",
       kOnClassify | kOnServe,
       number_given(&V::topk, &V::topk_given, 1, 1 << 20)},
      {"--output-type", G::kOutput, "RESNET_CLI_OUTPUT_TYPE",
       "What each image's record carries: softmax probabilities, raw logits, "
       "or the 2048 pooled features",
       kOnClassify, choice<OutputType>(&V::output_type)},
      {"-f,--format", G::kOutput, "RESNET_CLI_FORMAT",
       "Output format: json is one array, jsonl a line per image, csv RFC "
       "4180",
       kOnClassify, choice<OutputFormat>(&V::format)},
      {"-o,--output", G::kOutput, nullptr,
       "Write results to FILE instead of stdout (replaced only when complete; "
       "jsonl appends as it goes)",
       kOnClassify, value(&V::output_file, "FILE")},
      {"-o,--output", G::kOutput, nullptr,
       "Write the merged records to FILE (replaced only when complete) "
       "instead of stdout",
       kOnMerge, value(&V::output_file, "FILE")},
      {"-f,--format", G::kOutput, nullptr,
       "A line per input, or one array as classify --format json writes it",
       kOnMerge,
       choice<OutputFormat>(&V::merge_format,
                            {OutputFormat::kJsonl, OutputFormat::kJson})},
      {"-f,--format", G::kOutput, nullptr,
       "text: a summary, a table per class and the confusion matrix; json: "
       "one object (what report reads); csv: a row per class and one for "
       "all",
       kOnEvaluate,
       choice<OutputFormat>(
           &V::evaluate_format,
           {OutputFormat::kText, OutputFormat::kJson, OutputFormat::kCsv})},
      {"-o,--output", G::kOutput, nullptr,
       "Write the evaluation to FILE (replaced only when complete) instead "
       "of stdout",
       kOnEvaluate, value(&V::output_file, "FILE")},
      {"--misclassified", G::kOutput, nullptr,
       "Also write the misclassified images to FILE: CSV rows of path, true "
       "class, predicted class and its score",
       kOnEvaluate, value(&V::misclassified_file, "FILE")},
      {"-o,--output", G::kOutput, nullptr,
       "The HTML file to write (required; replaced only when complete)",
       kOnReport, value(&V::output_file, "FILE")},
      {"--thumbnail-size", G::kOutput, nullptr,
       "Longer side of the report's thumbnails, pixels", kOnReport,
       number(&V::thumbnail_size, 16, 1024)},
      {"--inputs", G::kInput, nullptr,
       "A file or folder the run classified, as given to classify (repeat "
       "for each). With --inputs or --files-from, every input must be "
       "recorded exactly once, and records come out in input order",
       kOnMerge, one_each(&V::merge_inputs, "PATH")},
      {"--resume", G::kOutput, nullptr,
       "With --output FILE --format jsonl: skip inputs FILE already records",
       kOnClassify, flag(&V::resume)},
      {"--explain", G::kOutput, nullptr,
       "Also give the top class's activation map (Grad-CAM at layer4) on "
       "layer4's grid, normalised 0..1, and the box of its region above half "
       "its maximum in the input's pixels",
       kOnClassify, flag(&V::explain)},
      {"--explain-topk", G::kOutput, nullptr,
       "Explain the top K classes instead of the top one (implies --explain)",
       kOnClassify, number(&V::explain_topk, 0, 1 << 20)},
      {"--explain-dir", G::kOutput, nullptr,
       "Write a heat-map overlay PNG per explained class under DIR, named "
       "after the input (DIR/<input path>.png; implies --explain, or "
       "--explain-errors for evaluate); a file there that resnet-cli did not "
       "write is never replaced",
       kOnClassify | kOnEvaluate, value(&V::explain_dir, "DIR")},
      {"--explain-errors", G::kOutput, nullptr,
       "Give each misclassified image's activation map of its predicted "
       "class (and the box of its region above half its maximum) in the "
       "json output",
       kOnEvaluate, flag(&V::explain_errors)},
      {"--files-from", G::kInput, nullptr,
       "Read input paths from FILE, one a line ('-' for stdin)",
       kOnClassify | kOnBench | kOnMerge, value(&V::files_from, "FILE")},
      {"-0,--null", G::kInput, nullptr,
       "--files-from entries end in NUL (find -print0)",
       kOnClassify | kOnBench | kOnMerge, flag(&V::null_separated)},
      {"--ext", G::kInput, "RESNET_CLI_EXT",
       "Extensions picked up in folders, e.g. jpg,png (default: every "
       "extension of every format resnet-cli reads)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench | kOnMerge,
       extension_list(&V::extensions)},
      {"-L,--follow", G::kInput, nullptr,
       "Follow symbolic links to folders while scanning (loops are reported)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench | kOnMerge,
       flag(&V::follow)},
      {"--shard", G::kInput, "RESNET_CLI_SHARD",
       "I/N: only the inputs of shard I of N (0 <= I < N), chosen by a hash "
       "of the path",
       kOnClassify, parsed(&V::shard, parse_shard, "I/N")},
      {"-t,--threads", G::kPerformance, "RESNET_CLI_THREADS",
       "Threads for inference (0: one per available core)",
       kOnTrain | kOnQuantize | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       number(&V::threads, 0, 1024)},
      {"-b,--batch-size", G::kPerformance, "RESNET_CLI_BATCH_SIZE",
       "Images per forward pass and worker (0: 2 on CPU, 64 on CUDA)",
       kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       number(&V::batch_size, 0, 4096)},
      {"--workers", G::kPerformance, "RESNET_CLI_WORKERS",
       "Inference workers sharing --threads (0: one single-threaded worker per "
       "thread for several images, one worker for one image)",
       kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       number(&V::workers, 0, 1024)},
      {"--engine", G::kPerformance, nullptr,
       "optimized: BatchNorm folded, oneDNN's blocked layout; reference: "
       "torchvision's layer-by-layer computation, slower",
       kOnTrain | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       choice<Engine>(&V::engine)},
      {"--decode-threads", G::kPerformance, "RESNET_CLI_DECODE_THREADS",
       "Threads decoding and preprocessing (0: one per inference thread)",
       kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       number(&V::decode_threads, 0, 1024)},
      {"--unordered", G::kOutput, nullptr,
       "Write records as they finish instead of in input order", kOnClassify,
       flag(&V::unordered)},
      {"--progress", G::kLogging, "RESNET_CLI_PROGRESS",
       "Progress and summary on stderr: auto shows them when it is a terminal",
       kOnClassify | kOnEvaluate | kOnTrain | kOnQuantize,
       choice<ProgressMode>(&V::progress)},
      {"--color", G::kOutput, "RESNET_CLI_COLOR",
       "Colour in the text table and the progress line: auto colours a "
       "terminal unless NO_COLOR is set",
       kOnClassify, choice<ColorMode>(&V::color)},
      {"--precision", G::kPerformance, "RESNET_CLI_PRECISION",
       "bf16: about 1.8x faster where the CPU has AVX512-BF16; logits within "
       "about 5% of fp32 (measured on the test fixture); on CUDA bf16 and "
       "fp16 use the tensor cores; train: forward passes under "
       "torch.autocast(DEVICE, dtype=torch.bfloat16). int8: a quantized "
       "network on the CPU's integer units (a quantized checkpoint, a "
       "quantized registry entry, or a float entry's quantized one; "
       "resnet-cli quantize makes one of any float network)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       choice<Precision>(&V::precision)},
      {"--tf32", G::kPerformance, nullptr,
       "CUDA, fp32: let cuDNN and cuBLAS use TF32 (faster; off by default so "
       "that fp32 answers stay torchvision's)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       flag(&V::tf32)},
      {"--iterations", G::kPerformance, nullptr,
       "Timed forward passes per inference worker", kOnBench,
       number(&V::iterations, 1, 100000)},
      {"--warmup", G::kPerformance, nullptr, "Untimed forward passes first",
       kOnBench, number(&V::warmup, 0, 1000)},
      {"--format", G::kOutput, nullptr, "Report format",
       kOnBench | kOnWeightsList | kOnWeightsInfo | kOnWeightsVerify,
       choice<ReportFormat>(&V::report_format)},
      {"--device", G::kPerformance, "RESNET_CLI_DEVICE",
       "cpu, cuda or cuda:N (a GPU needs a build against a CUDA LibTorch)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnBench | kOnServe,
       value(&V::device, "DEVICE")},
      {"--resize", G::kPreprocessing, nullptr,
       "Short side after resize, pixels (default: the weights' 256 or 232)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnBench | kOnPreprocess |
           kOnServe,
       number(&V::resize, 1, 16384)},
      {"--crop", G::kPreprocessing, nullptr,
       "Center crop size, pixels (default: 224)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnBench | kOnPreprocess |
           kOnServe,
       number(&V::crop, 1, 4096)},
      {"--interpolation", G::kPreprocessing, nullptr,
       "Resize filter, Pillow's (default: the weights' bilinear)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnPreprocess | kOnServe,
       choice<Interpolation>(&V::interpolation)},
      {"--mean", G::kPreprocessing, nullptr,
       "Normalization mean R,G,B (default 0.485,0.456,0.406)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnPreprocess | kOnServe,
       parsed(&V::mean, parse_triple, "R,G,B")},
      {"--std", G::kPreprocessing, nullptr,
       "Normalization std R,G,B (default 0.229,0.224,0.225)",
       kOnTrain | kOnClassify | kOnEvaluate | kOnPreprocess | kOnServe,
       parsed(&V::std, parse_triple, "R,G,B")},
      {"--exif", G::kPreprocessing, "RESNET_CLI_EXIF",
       "EXIF orientation: ignore it, as PIL and torchvision do, or apply it",
       kOnTrain | kOnClassify | kOnEvaluate | kOnPreprocess | kOnServe,
       choice<ExifMode>(&V::exif)},
      {"--max-pixels", G::kPreprocessing, "RESNET_CLI_MAX_PIXELS",
       "Pillow's MAX_IMAGE_PIXELS: an image with more pixels gets a warning, "
       "one with more than twice as many is refused before decoding",
       kOnTrain | kOnClassify | kOnEvaluate | kOnPreprocess | kOnServe,
       pixel_count(&V::max_pixels)},
      {"--allow-truncated", G::kPreprocessing, nullptr,
       "Decode truncated JPEGs (rest grey) with a warning instead of failing",
       kOnTrain | kOnClassify | kOnEvaluate | kOnPreprocess | kOnServe,
       flag(&V::allow_truncated)},
      {"--host", G::kServer, "RESNET_CLI_HOST",
       "Address serve listens on; 0.0.0.0 or :: for every interface (then "
       "give --api-key)",
       kOnServe, value(&V::host, "HOST")},
      {"--port", G::kServer, "RESNET_CLI_PORT",
       "TCP port serve listens on (0: any free port; the line on stderr "
       "names it)",
       kOnServe, number(&V::port, 0, 65535)},
      {"--api-key", G::kServer, "RESNET_CLI_API_KEY",
       "Require Authorization: Bearer KEY on every request but /ping", kOnServe,
       value(&V::api_key, "KEY")},
      {"--max-body", G::kServer, "RESNET_CLI_MAX_BODY",
       "Largest request body serve reads, bytes, chunked or not; a larger "
       "one is answered 413 before it is read",
       kOnServe, byte_count(&V::max_body)},
      {"--body-memory", G::kServer, "RESNET_CLI_BODY_MEMORY",
       "Bytes the request bodies being received or handled may hold in all; "
       "beyond, 503 with Retry-After (0: 4 x --max-body)",
       kOnServe, byte_count(&V::body_memory)},
      {"--decode-memory", G::kServer, "RESNET_CLI_DECODE_MEMORY",
       "Bytes the images being decoded may hold in all, each counted from "
       "its header; decodes wait for room, and an image that alone needs "
       "more is answered 413",
       kOnServe, byte_count(&V::decode_memory, 1)},
      {"--max-batch-delay", G::kServer, "RESNET_CLI_MAX_BATCH_DELAY",
       "How long a forward pass waits for more requests to fill its batch "
       "(--batch-size), milliseconds",
       kOnServe, number(&V::max_batch_delay_ms, 0, 10000)},
      {"--max-connections", G::kServer, "RESNET_CLI_MAX_CONNECTIONS",
       "Open connections serve keeps; more are answered 503 and closed",
       kOnServe, number(&V::max_connections, 1, 1000000)},
      {"--max-client-connections", G::kServer,
       "RESNET_CLI_MAX_CLIENT_CONNECTIONS",
       "Open connections serve keeps from one client address; more are "
       "answered 503 and closed",
       kOnServe, number(&V::max_client_connections, 1, 1000000)},
      {"--max-queue", G::kServer, "RESNET_CLI_MAX_QUEUE",
       "Images serve holds at once (decoding, queued or in a forward pass); "
       "more are answered 503 with Retry-After (413: a request of more)",
       kOnServe, number(&V::max_queue, 1, 1000000)},
      {"--header-timeout", G::kServer, "RESNET_CLI_HEADER_TIMEOUT",
       "Seconds a request's line and headers may take to arrive; a slower "
       "client is answered 408 and dropped",
       kOnServe, number(&V::header_timeout_s, 1, 86400)},
      {"--request-timeout", G::kServer, "RESNET_CLI_REQUEST_TIMEOUT",
       "Seconds a request's line, headers and body may take to arrive; a "
       "slower client is answered 408 and dropped",
       kOnServe, number(&V::request_timeout_s, 1, 86400)},
      {"--request-timeout", G::kInput, "RESNET_CLI_REQUEST_TIMEOUT",
       "Video streams: seconds a stream may take to open or to send its next "
       "frame; one that sends nothing for that long ends with an error record",
       kOnClassify, number(&V::request_timeout_s, 1, 86400)},
      {"--every", G::kInput, "RESNET_CLI_EVERY",
       "Videos: which frames to classify: a time (1s, 0.5s, 250ms: the first "
       "frame at or after each multiple), a frame count (10f) or keyframe",
       kOnClassify, value(&V::every, "WHEN")},
      {"--start", G::kInput, nullptr,
       "Videos: classify from this time on, seconds or [HH:]MM:SS[.fff] "
       "(default: the first frame)",
       kOnClassify, value(&V::start, "TIME")},
      {"--end", G::kInput, nullptr,
       "Videos: stop reading at this time (not included), seconds or "
       "[HH:]MM:SS[.fff] (default: the end)",
       kOnClassify, value(&V::end, "TIME")},
      {"--video-summary", G::kOutput, nullptr,
       "Videos: the closing record carries the top-k of the mean of the "
       "frames' probabilities and where each leads (default with --format "
       "text)",
       kOnClassify, flag(&V::video_summary)},
      {"--no-video-summary", G::kOutput, nullptr,
       "Videos: the closing record only counts the frames classified",
       kOnClassify, flag(&V::no_video_summary)},
      {"--idle-timeout", G::kServer, nullptr,
       "Seconds a connection may wait for its next request", kOnServe,
       number(&V::idle_timeout_s, 1, 86400)},
      {"-o,--output", G::kOutput, nullptr,
       "Write the model input here (float32 .npy)", kOnPreprocess,
       value(&V::npy_output, "FILE")},
      {"--png", G::kOutput, nullptr, "Also write the uint8 RGB crop here (PNG)",
       kOnPreprocess, value(&V::png_output, "FILE")},
      {"--model", G::kModel, "RESNET_CLI_MODEL",
       "A folder written by resnet-cli train: its model.pth, labels.txt and "
       "the architecture and transforms its model.json records (instead of "
       "--weights, --weights-file and --labels)",
       kOnClassify | kOnQuantize | kOnEvaluate | kOnBench | kOnServe,
       value(&V::model_dir, "PATH")},
      {"-o,--output", G::kOutput, nullptr,
       "MODEL_DIR: where model.pth, labels.txt, model.json, train.jsonl and "
       "optimizer.pt go (written after every epoch, each file atomically)",
       kOnTrain, value(&V::output_file, "PATH")},
      {"--val", G::kInput, nullptr,
       "Validation folder, laid out as DATA with the same class folders "
       "(default: --val-split of DATA)",
       kOnTrain, value(&V::val_dir, "PATH")},
      {"--val-split", G::kInput, nullptr,
       "Fraction of DATA held out for validation, chosen by a hash of each "
       "path relative to DATA (a file keeps its side when files are added)",
       kOnTrain, real(&V::val_split, 0, 0.9)},
      {"--train", G::kTraining, nullptr,
       "What trains: fc (the pooled features frozen and cached), layer4 "
       "(layer4 and fc) or all",
       kOnTrain, choice<TrainedPart>(&V::train_part)},
      {"--epochs", G::kTraining, nullptr, "Passes over the training images",
       kOnTrain, number(&V::epochs, 1, 100000)},
      {"-b,--batch-size", G::kTraining, nullptr,
       "Training images per optimizer step (the last batch may be smaller)",
       kOnTrain, number(&V::train_batch_size, 1, 65536)},
      {"--optimizer", G::kTraining, nullptr,
       "sgd: torch.optim.SGD with momentum 0.9; adamw: torch.optim.AdamW "
       "(betas 0.9, 0.999)",
       kOnTrain, choice<OptimizerKind>(&V::optimizer)},
      {"--lr", G::kTraining, nullptr,
       "Initial learning rate (default: 0.01 with sgd, 0.001 with adamw)",
       kOnTrain, parsed(&V::learning_rate, parse_learning_rate, "LR")},
      {"--weight-decay", G::kTraining, nullptr,
       "Weight decay of every trained parameter (biases and BatchNorm's too, "
       "as a plain PyTorch optimizer applies it)",
       kOnTrain, real(&V::weight_decay, 0, 1)},
      {"--schedule", G::kTraining, nullptr,
       "cosine: CosineAnnealingLR(T_max=epochs) stepped per epoch; constant",
       kOnTrain, choice<Schedule>(&V::schedule)},
      {"--label-smoothing", G::kTraining, nullptr,
       "CrossEntropyLoss(label_smoothing=...)", kOnTrain,
       real(&V::label_smoothing, 0, 1)},
      {"--augment", G::kTraining, nullptr,
       "none: the weights' evaluation transforms (features cached with "
       "--train fc); flip: and RandomHorizontalFlip; standard: "
       "RandomResizedCrop and RandomHorizontalFlip, torchvision's training "
       "transforms",
       kOnTrain, choice<Augment>(&V::augment)},
      {"--shuffle", G::kTraining, nullptr,
       "Shuffle the training images every epoch, from --seed (the default)",
       kOnTrain, flag(&V::shuffle)},
      {"--no-shuffle", G::kTraining, nullptr,
       "Keep the training images in ImageFolder's "
       "order",
       kOnTrain, flag(&V::no_shuffle)},
      {"--seed", G::kTraining, "RESNET_CLI_SEED",
       "Seed of the new fc (torch.manual_seed), the shuffle and the "
       "augmentation",
       kOnTrain, value(&V::seed, "INT")},
      {"--freeze-bn", G::kTraining, nullptr,
       "BatchNorm of the trained blocks keeps its running statistics (eval "
       "mode) instead of model.train()'s batch statistics",
       kOnTrain, flag(&V::freeze_bn)},
      {"--cache", G::kTraining, "RESNET_CLI_CACHE",
       "Feature cache folder (default: $XDG_CACHE_HOME/resnet-cli/features), "
       "keyed by file path, size, mtime, weights SHA-256, architecture, "
       "transforms and frozen depth",
       kOnTrain, value(&V::cache_dir, "PATH")},
      {"--strict", G::kTraining, nullptr,
       "An image that fails to decode is fatal (default: skipped with a "
       "warning)",
       kOnTrain, flag(&V::strict)},
      {"--resume", G::kTraining, nullptr,
       "Continue the run in MODEL_DIR from its last checkpoint", kOnTrain,
       flag(&V::resume)},
      {"--force", G::kOutput, nullptr, "Replace the run MODEL_DIR holds",
       kOnTrain, flag(&V::force)},
      {"--calibrate", G::kInput, nullptr,
       "DIR: the calibration images (a folder, scanned as classify scans "
       "one), run through the base's transforms in name order",
       kOnQuantize, value(&V::calibrate, "DIR")},
      {"-b,--batch-size", G::kPerformance, nullptr,
       "Calibration images per batch; the observers see these batches, as "
       "PyTorch's do the batches a calibration loop feeds them",
       kOnQuantize, number(&V::calibration_batch_size, 1, 4096)},
      {"-o,--output", G::kOutput, nullptr,
       "MODEL_DIR: where model.pth, labels.txt and model.json go (written "
       "once the conversion is done, each file atomically)",
       kOnQuantize, value(&V::output_file, "PATH")},
      {"--force", G::kOutput, nullptr, "Replace the model MODEL_DIR holds",
       kOnQuantize, flag(&V::force)},
  };
  return table;
}

}  // namespace

void attach_options(CLI::App& app, OptionValues& values, unsigned command) {
  for (const OptionSpec& spec : option_table()) {
    if (!(spec.commands & command)) continue;
    CLI::Option* option = spec.bind(app, values, spec.flags, spec.help);
    if (spec.env) option->envname(spec.env);
    option->group(group_title(spec.group));
  }
}

std::vector<OptionInfo> option_table_info() {
  // Owners in the order of their bits (option_table.h).
  std::vector<const CommandSpec*> commands_by_bit;
  for (const CommandSpec& command : command_registry()) {
    commands_by_bit.push_back(&command);
  }
  std::sort(commands_by_bit.begin(), commands_by_bit.end(),
            [](const CommandSpec* a, const CommandSpec* b) {
              return a->options < b->options;
            });
  std::vector<OptionInfo> table;
  for (const OptionSpec& spec : option_table()) {
    OptionInfo info;
    info.flags = spec.flags;
    info.env = spec.env ? spec.env : "";
    info.help = spec.help;
    for (const CommandSpec* command : commands_by_bit) {
      if (spec.commands & command->options) {
        info.commands.push_back(command->path);
      }
    }
    table.push_back(std::move(info));
  }
  return table;
}

}  // namespace resnet_cli::cli
