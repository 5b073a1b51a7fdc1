// A model session: everything a command that runs the model needs, built
// once — the weights resolved (downloaded if need be) and loaded, the labels,
// the transforms, and how the pipeline shares out the cores. classify and
// bench use it; so will the commands to come.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/transform.h"
#include "model/model.h"
#include "run/pipeline.h"
#include "weights/registry.h"
#include "weights/weights_source.h"

namespace resnet_cli {

// The batch size on CUDA when none is given.
constexpr int kCudaBatchSize = 64;

// How the pipeline uses the cores; 0 lets plan_pipeline decide.
struct PlanOptions {
  int workers = 0;         // 0: one per thread on CPU (one for one image)
  int batch_size = 0;      // 0: 2 on CPU, 64 on CUDA (1 for one image)
  int decode_threads = 0;  // 0: one per inference thread
  bool ordered = true;     // false: records in completion order
};

struct SessionOptions {
  // The registry entry (transforms, and the file unless one is given), found
  // as find_weights(weights, model.arch) finds it.
  std::string weights = "DEFAULT";
  std::string weights_file;  // empty: torch.hub's cache
  std::string weights_url;   // empty: the registry's URL
  FetchOptions fetch;
  std::string labels_file;  // empty: ImageNet's categories
  bool read_labels = true;  // false: none (a feature pass needs none)
  TransformOverrides transform;
  // threads: cores for inference, 0 = all available. arch: what a given
  // file must be (empty: what its keys say); with registry weights, the
  // entry's own.
  ModelOptions model;
  PlanOptions plan;
};

// On CPU one image gets every thread, several images get one
// single-threaded worker per thread (no OpenMP barriers, no
// oversubscription); on CUDA one thread feeds the GPU batches of 64 that
// every core decodes. Throws Error(kUsage) for a device it cannot read.
PipelineOptions plan_pipeline(const PlanOptions& plan,
                              const ModelOptions& model, bool single_input,
                              int available_cores);

class Session {
 public:
  // Resolves and loads the weights, reads the labels. Throws Error: kUsage
  // (weights name, transforms, labels file), kWeights, kDownload,
  // kCheckpoint, kDevice.
  explicit Session(const SessionOptions& options);

  const WeightsInfo& weights() const { return *weights_; }
  const TransformSpec& transform() const { return transform_; }
  const Model& model() const { return *model_; }
  // Class names by index; empty when the model is not ImageNet's and no
  // labels file was given (labels then read as indices).
  const std::vector<std::string>& labels() const { return labels_; }

  PipelineOptions plan(bool single_input) const;

  // What run_pipeline computes for each image.
  ClassifyJob job(OutputType output_type, int topk,
                  const DecodeOptions& decode) const;

 private:
  SessionOptions options_;
  const WeightsInfo* weights_;
  TransformSpec transform_;
  std::unique_ptr<Model> model_;
  std::vector<std::string> labels_;
};

// A labels file for a model of `num_classes` classes, or ImageNet's names
// when `labels_file` is empty. Throws Error(kUsage) when the counts differ.
std::vector<std::string> load_labels(const std::string& labels_file,
                                     std::int64_t num_classes);

}  // namespace resnet_cli
