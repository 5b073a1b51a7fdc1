#include "commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "resnet_cli/error.h"
#include "resnet_cli/weights.h"

namespace resnet_cli::cli {

namespace {

nlohmann::json weights_meta(const WeightsInfo& weights) {
  const TransformSpec& t = weights.transforms;
  std::error_code ec;
  const auto cached = cached_weights_path(weights);
  return {
      {"name", weights.name},
      {"enum", "ResNet50_Weights." + weights.name},
      {"aliases", weights.aliases},
      {"url", weights.url},
      {"file_name", weights.file_name},
      {"transforms",
       {{"resize_size", t.resize_size},
        {"crop_size", t.crop_size},
        {"interpolation", std::string(interpolation_name(t.interpolation))},
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
      {"cache_path", cached.string()},
      {"cached", std::filesystem::is_regular_file(cached, ec)},
      {"categories", imagenet_categories()},
  };
}

void print_weights_list(std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line, "%-15s %-8s %7s %7s %6s %-7s %s\n", "NAME",
                "ALIAS", "ACC@1", "ACC@5", "RESIZE", "CACHED", "FILE");
  out << line;
  for (const WeightsInfo& weights : all_weights()) {
    std::error_code ec;
    const auto path = cached_weights_path(weights);
    const bool cached = std::filesystem::is_regular_file(path, ec);
    const std::string alias =
        weights.aliases.empty() ? "-" : weights.aliases[0];
    std::snprintf(line, sizeof line, "%-15s %-8s %7.3f %7.3f %6d %-7s ",
                  weights.name.c_str(), alias.c_str(), weights.acc1,
                  weights.acc5, weights.transforms.resize_size,
                  cached ? "yes" : "no");
    out << line << path.string() << "\n";
  }
}

void print_weights_info(const Settings& settings, std::ostream& out) {
  const WeightsInfo& weights = find_weights(settings.info_name);
  nlohmann::json meta = weights_meta(weights);
  if (settings.format == "json") {
    out << meta.dump(2) << "\n";
    return;
  }
  const TransformSpec& t = weights.transforms;
  out << "name:        ResNet50_Weights." << weights.name << "\n"
      << "url:         " << weights.url << "\n"
      << "cache path:  " << meta["cache_path"].get<std::string>()
      << (meta["cached"].get<bool>() ? " (cached)" : " (not cached)") << "\n"
      << "transforms:  resize " << t.resize_size << " ("
      << interpolation_name(t.interpolation) << ", antialias), crop "
      << t.crop_size << ", mean " << t.mean[0] << "," << t.mean[1] << ","
      << t.mean[2] << ", std " << t.std[0] << "," << t.std[1] << "," << t.std[2]
      << "\n"
      << "params:      " << weights.num_params << "\n"
      << "ImageNet-1K: acc@1 " << weights.acc1 << ", acc@5 " << weights.acc5
      << "\n"
      << "GFLOPS:      " << weights.gflops << "\n"
      << "file size:   " << weights.file_size_mb << " MB\n"
      << "recipe:      " << weights.recipe << "\n"
      << "categories:  " << imagenet_categories().size() << " ("
      << imagenet_categories().front() << ", " << imagenet_categories()[1]
      << ", ...)\n";
}

}  // namespace

int run_command(const Settings& settings, std::ostream& out) {
  switch (settings.command) {
    case Command::kClassify:
      return run_classify(settings.classify, out);
    case Command::kPreprocess:
      run_preprocess(settings.preprocess);
      return kExitOk;
    case Command::kWeightsList:
      print_weights_list(out);
      return kExitOk;
    case Command::kWeightsInfo:
      print_weights_info(settings, out);
      return kExitOk;
    case Command::kNone:
      break;
  }
  throw Error(ErrorKind::kUsage, "no command given (see resnet-cli --help)");
}

}  // namespace resnet_cli::cli
