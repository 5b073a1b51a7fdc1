// A model folder (MODEL_DIR), as train and quantize write it and classify
// --model reads it: model.pth (a state_dict), labels.txt (the class names,
// one a line), model.json (what made it: the architecture, the base weights
// and their SHA-256, the transforms, and the run's own record).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "image/transform.h"
#include "run/session.h"
#include "weights/registry.h"

namespace resnet_cli {

inline constexpr const char* kModelFile = "model.pth";
inline constexpr const char* kLabelsFile = "labels.txt";
inline constexpr const char* kRecordFile = "model.json";
// model.json's "format": a training run's, or a quantized model's.
inline constexpr const char* kTrainingRecordFormat = "resnet-cli training run";
inline constexpr const char* kQuantizedRecordFormat =
    "resnet-cli quantized model";

// The base network a folder is made from: where its file is, what it is,
// and its transforms.
struct ModelBase {
  const WeightsInfo* weights = nullptr;
  std::filesystem::path file;
  std::string sha256;
  std::string arch;  // empty: read from the file
  TransformSpec transform;
};

// The session options' weights, found (downloaded if need be) and hashed.
// Throws as Session does (kUsage, kWeights, kDownload).
ModelBase resolve_model_base(const SessionOptions& session);

// model.json's "base" and "transforms".
nlohmann::json base_record(const ModelBase& base);
nlohmann::json transform_record(const TransformSpec& transform);

// A JSON file; throws Error(kUsage) naming it when it cannot be read or
// parsed.
nlohmann::json read_json(const std::filesystem::path& file);

// What classify and bench need of a MODEL_DIR: its model.pth, labels.txt,
// and the architecture, weights name and transforms model.json records.
struct TrainedModel {
  std::filesystem::path weights_file;
  std::filesystem::path labels_file;
  std::string arch;
  std::string weights;  // the base's registry name
  TransformSpec transform;
};

// Throws Error(kUsage) naming the folder when it is not a model folder.
TrainedModel read_trained_model(const std::filesystem::path& model_dir);

}  // namespace resnet_cli
