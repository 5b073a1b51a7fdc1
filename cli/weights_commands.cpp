// weights list, info, download, path and verify: the registry and torch.hub's
// cache, through the library's weights source.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/error.h"
#include "command_registry.h"
#include "commands.h"
#include "option_table.h"
#include "settings.h"
#include "terminal.h"
#include "weights/download.h"
#include "weights/registry.h"
#include "weights/weights_source.h"

namespace resnet_cli::cli {

namespace {

// What torch.hub's cache holds for an entry. A cached file is hashed, so
// that list and info never call "cached" a file weights verify calls
// MISMATCH (~60 ms a ResNet50; torch.hub itself trusts what it finds).
enum class Cached { kNo, kYes, kMismatch };

Cached cache_state(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Cached::kNo;
  return check_file_hash(path).matches() ? Cached::kYes : Cached::kMismatch;
}

const char* cache_word(Cached state) {
  switch (state) {
    case Cached::kYes:
      return "yes";
    case Cached::kMismatch:
      return "MISMATCH";
    case Cached::kNo:
      break;
  }
  return "no";
}

nlohmann::json weights_meta(const WeightsInfo& weights) {
  const TransformSpec& t = weights.transforms;
  const auto cached = cached_weights_path(weights);
  const Cached state = cache_state(cached);
  return {
      {"name", weights.name},
      {"enum", weights.qualified_name()},
      {"arch", weights.arch},
      {"aliases", weights.aliases},
      {"url", weights.url},
      {"file_name", weights.file_name},
      {"transforms",
       {{"resize_size", t.resize_size},
        {"crop_size", t.crop_size},
        {"interpolation", std::string(enum_name(t.interpolation))},
        {"antialias", true},
        {"mean", {t.mean[0], t.mean[1], t.mean[2]}},
        {"std", {t.std[0], t.std[1], t.std[2]}}}},
      {"num_params", weights.num_params},
      {"min_size", {1, 1}},
      {"metrics",
       {{"ImageNet-1K", {{"acc@1", weights.acc1}, {"acc@5", weights.acc5}}}}},
      {"gflops", weights.gflops},
      {"file_size_mb", weights.file_size_mb},
      {"recipe", weights.recipe},
      {"docs", weights.docs},
      {"quantized", weights.quantized()},
      {"backend", weights.quantized() ? nlohmann::json(weights.backend)
                                      : nlohmann::json(nullptr)},
      {"unquantized", weights.quantized() ? nlohmann::json(weights.unquantized)
                                          : nlohmann::json(nullptr)},
      {"cache_path", cached.string()},
      // A file is there whose SHA-256 starts with its name's hash.
      {"cached", state == Cached::kYes},
      // A file is there whose SHA-256 does not (weights verify: MISMATCH).
      {"cache_mismatch", state == Cached::kMismatch},
      {"categories", imagenet_categories()},
  };
}

// weights list: a row per entry (--format json: an array of weights info's
// objects, categories left out).
void print_weights_list(const WeightsSettings& settings, std::ostream& out) {
  if (settings.format == ReportFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const WeightsInfo& weights : all_weights()) {
      nlohmann::json meta = weights_meta(weights);
      meta.erase("categories");
      list.push_back(std::move(meta));
    }
    out << list.dump(2) << "\n";
    return;
  }
  int width = 4;
  for (const WeightsInfo& weights : all_weights()) {
    width = std::max(width, static_cast<int>(weights.qualified_name().size()));
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %-8s %7s %7s %6s %-8s %s\n", width,
                "NAME", "ALIAS", "ACC@1", "ACC@5", "RESIZE", "CACHED", "FILE");
  out << line;
  for (const WeightsInfo& weights : all_weights()) {
    const auto path = cached_weights_path(weights);
    const std::string alias =
        weights.aliases.empty() ? "-" : weights.aliases[0];
    std::snprintf(line, sizeof line, "%-*s %-8s %7.3f %7.3f %6d %-8s ", width,
                  weights.qualified_name().c_str(), alias.c_str(), weights.acc1,
                  weights.acc5, weights.transforms.resize_size,
                  cache_word(cache_state(path)));
    out << line << path.string() << "\n";
  }
}

void print_weights_info(const WeightsSettings& settings, std::ostream& out) {
  const WeightsInfo& weights = find_weights(settings.target);
  nlohmann::json meta = weights_meta(weights);
  if (settings.format == ReportFormat::kJson) {
    out << meta.dump(2) << "\n";
    return;
  }
  const TransformSpec& t = weights.transforms;
  out << "name:        " << weights.qualified_name() << "\n"
      << "arch:        " << weights.arch << "\n"
      << "url:         " << weights.url << "\n"
      << "cache path:  " << meta["cache_path"].get<std::string>()
      << (meta["cached"].get<bool>() ? " (cached)"
          : meta["cache_mismatch"].get<bool>()
              ? " (MISMATCH: the file there is not what its name says; "
                "weights verify)"
              : " (not cached)")
      << "\n"
      << "transforms:  resize " << t.resize_size << " ("
      << enum_name(t.interpolation) << ", antialias), crop " << t.crop_size
      << ", mean " << t.mean[0] << "," << t.mean[1] << "," << t.mean[2]
      << ", std " << t.std[0] << "," << t.std[1] << "," << t.std[2] << "\n"
      << "params:      " << weights.num_params << "\n"
      << "ImageNet-1K: acc@1 " << weights.acc1 << ", acc@5 " << weights.acc5
      << "\n"
      << "GFLOPS:      " << weights.gflops << "\n"
      << "file size:   " << weights.file_size_mb << " MB\n"
      << "recipe:      " << weights.recipe << "\n";
  if (weights.quantized()) {
    out << "quantized:   int8 (" << weights.backend << "), from "
        << weights.unquantized << "\n";
  }
  out << "categories:  " << imagenet_categories().size() << " ("
      << imagenet_categories().front() << ", " << imagenet_categories()[1]
      << ", ...)\n";
}

// weights download: the path of the cached file on stdout, progress and the
// summary on stderr.
void download_weights(const WeightsSettings& settings, std::ostream& out) {
  const CacheEntry entry =
      settings.url.empty() ? registry_cache_entry(find_weights(settings.target),
                                                  settings.fetch.mirror)
                           : url_cache_entry(settings.url);
  const CacheResult result =
      fetch_into_cache(entry, settings.fetch, settings.force);
  if (!result.downloaded) {
    notice("already cached: " + result.path.string() +
           " (not downloaded again; --force does, weights verify checks it)");
  }
  out << result.path.string() << "\n";
}

// weights verify: hashes each file whole and compares with its name's
// prefix; throws Error(kWeights) after the report when any does not match.
void verify_weights(const WeightsSettings& settings, std::ostream& out) {
  const auto files = files_to_verify(settings.target);
  if (files.empty()) {
    notice("no registry weights are cached in " +
           hub_checkpoint_dir().string());
  }
  nlohmann::json report = nlohmann::json::array();
  std::vector<std::string> mismatched;
  for (const auto& path : files) {
    const HashCheck check = check_file_hash(path);
    if (!check.matches()) mismatched.push_back(path.string());
    if (settings.format == ReportFormat::kJson) {
      report.push_back(
          {{"path", path.string()},
           {"sha256", check.sha256},
           {"expected_prefix", check.expected_prefix},
           {"matches", check.has_prefix() ? nlohmann::json(check.matches())
                                          : nlohmann::json(nullptr)}});
      continue;
    }
    out << path.string() << ": ";
    if (!check.has_prefix()) {
      out << "no hash in the name to check against, sha256 " << check.sha256;
    } else if (check.matches()) {
      out << "OK, sha256 " << check.sha256 << " starts with "
          << check.expected_prefix;
    } else {
      out << "MISMATCH, sha256 " << check.sha256 << " does not start with "
          << check.expected_prefix;
    }
    out << "\n";
  }
  if (settings.format == ReportFormat::kJson) out << report.dump(2) << "\n";
  if (!mismatched.empty()) {
    std::string names;
    for (const auto& name : mismatched) {
      names += (names.empty() ? "" : ", ") + name;
    }
    throw Error(ErrorKind::kWeights,
                names +
                    ": SHA-256 does not start with the hash in the file "
                    "name (damaged, or not what the name says)");
  }
}

}  // namespace

ExitCode run_weights(Command command, const WeightsSettings& settings,
                     std::ostream& out) {
  switch (command) {
    case Command::kWeightsList:
      print_weights_list(settings, out);
      break;
    case Command::kWeightsInfo:
      print_weights_info(settings, out);
      break;
    case Command::kWeightsDownload:
      download_weights(settings, out);
      break;
    case Command::kWeightsPath:
      out << cached_weights_path(find_weights(settings.target)).string()
          << "\n";
      break;
    case Command::kWeightsVerify:
      verify_weights(settings, out);
      break;
    default:
      throw Error(ErrorKind::kUsage, "not a weights command");
  }
  return kExitOk;
}

namespace {

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

}  // namespace

namespace {

// The weights subcommands' settings: the same for each.
void settle_weights(Settings& settings, const OptionValues& values) {
  settings.weights =
      weights_settings(settings.command, values, settings.verbosity);
}

ExitCode run_weights_command(const Settings& settings, std::ostream& out) {
  return run_weights(settings.command, settings.weights, out);
}

// A weights subcommand's one NAME (or FILE) argument.
void add_name(CLI::App& app, OptionValues& values, const char* help,
              const char* type, bool required) {
  CLI::Option* argument =
      app.add_option("name", values.weights_target, help)->type_name(type);
  if (required) argument->required();
}

}  // namespace

const CommandSpec kWeightsListCommand{
    Command::kWeightsList,
    "weights list",
    "Table of known weights and whether each is cached",
    kOnWeightsList,
    nullptr,
    settle_weights,
    run_weights_command};

const CommandSpec kWeightsInfoCommand{
    Command::kWeightsInfo,
    "weights info",
    "torchvision's meta for one entry",
    kOnWeightsInfo,
    [](CLI::App& app, OptionValues& values) {
      add_name(app, values, "e.g. ResNet50_Weights.IMAGENET1K_V2", "WEIGHTS",
               true);
    },
    settle_weights,
    run_weights_command};

const CommandSpec kWeightsDownloadCommand{
    Command::kWeightsDownload,
    "weights download",
    "Download one entry (or --url) into torch.hub's cache, hash-checked; "
    "prints the cached file's path",
    kOnWeightsDownload,
    [](CLI::App& app, OptionValues& values) {
      add_name(app, values, "e.g. ResNet18_Weights.DEFAULT", "WEIGHTS", false);
    },
    settle_weights,
    run_weights_command};

const CommandSpec kWeightsPathCommand{
    Command::kWeightsPath,
    "weights path",
    "Print where an entry is (or would be) cached",
    kOnWeightsPath,
    [](CLI::App& app, OptionValues& values) {
      add_name(app, values, "e.g. DEFAULT", "WEIGHTS", true);
    },
    settle_weights,
    run_weights_command};

const CommandSpec kWeightsVerifyCommand{
    Command::kWeightsVerify,
    "weights verify",
    "Hash cached files (or FILE) and check the SHA-256 against the hash in "
    "the file name; exit 3 on a mismatch",
    kOnWeightsVerify,
    [](CLI::App& app, OptionValues& values) {
      add_name(app, values,
               "A registry NAME or a FILE (default: every cached registry "
               "file)",
               "WEIGHTS|FILE", false);
    },
    settle_weights,
    run_weights_command};

}  // namespace resnet_cli::cli
