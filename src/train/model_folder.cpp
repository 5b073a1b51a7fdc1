#include "train/model_folder.h"

#include <fstream>

#include "base/error.h"
#include "weights/download.h"
#include "weights/weights_source.h"

namespace resnet_cli {

namespace fs = std::filesystem;
using nlohmann::json;

ModelBase resolve_model_base(const SessionOptions& session) {
  ModelBase base;
  base.weights = &find_weights(session.weights, session.model.arch);
  base.transform = apply_overrides(base.weights->transforms, session.transform);
  const WeightsSource source{base.weights, session.weights_file,
                             session.weights_url};
  base.file = resolve_weights_file(source, session.fetch);
  const bool registry =
      session.weights_file.empty() && session.weights_url.empty();
  base.arch = registry ? base.weights->arch : session.model.arch;
  base.sha256 = sha256_file(base.file);
  return base;
}

json base_record(const ModelBase& base) {
  return {{"weights", base.weights->qualified_name()},
          {"file", base.file.string()},
          {"sha256", base.sha256}};
}

json transform_record(const TransformSpec& t) {
  return {{"resize_size", t.resize_size},
          {"crop_size", t.crop_size},
          {"interpolation", std::string(enum_name(t.interpolation))},
          {"mean", t.mean},
          {"std", t.std}};
}

json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw Error(ErrorKind::kUsage, file.string() + ": cannot be read");
  }
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kUsage,
                file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

TrainedModel read_trained_model(const fs::path& model_dir) {
  const fs::path file = model_dir / kRecordFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw Error(ErrorKind::kUsage,
                model_dir.string() +
                    ": not a model folder (no model.json; make one with "
                    "resnet-cli train or resnet-cli quantize)");
  }
  const json record = read_json(file);
  const std::string format = record.value("format", "");
  if (format != kTrainingRecordFormat && format != kQuantizedRecordFormat) {
    throw Error(ErrorKind::kUsage,
                file.string() +
                    ": not written by resnet-cli train or resnet-cli quantize");
  }
  TrainedModel model;
  model.weights_file = model_dir / kModelFile;
  model.labels_file = model_dir / kLabelsFile;
  try {
    model.arch = record.at("arch").get<std::string>();
    model.weights = record.at("base").at("weights").get<std::string>();
    const json& t = record.at("transforms");
    model.transform.resize_size = t.at("resize_size").get<int>();
    model.transform.crop_size = t.at("crop_size").get<int>();
    const auto interpolation =
        find_enum<Interpolation>(t.at("interpolation").get<std::string>());
    if (interpolation) model.transform.interpolation = *interpolation;
    model.transform.mean = t.at("mean").get<std::array<float, 3>>();
    model.transform.std = t.at("std").get<std::array<float, 3>>();
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kUsage,
                file.string() + ": incomplete (" + e.what() + ")");
  }
  return model;
}

}  // namespace resnet_cli
