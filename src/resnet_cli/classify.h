// The classify and preprocess jobs: inputs in, one record per input out.
#pragma once

#include <array>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "resnet_cli/download.h"
#include "resnet_cli/image.h"
#include "resnet_cli/inputs.h"
#include "resnet_cli/model.h"
#include "resnet_cli/output.h"
#include "resnet_cli/pipeline.h"
#include "resnet_cli/weights.h"

namespace resnet_cli {

// How a checkpoint that --weights-file does not give is found and fetched.
struct FetchOptions {
  std::string mirror;    // replaces kTorchvisionDownloadBase; empty: none
  bool offline = false;  // never download: a file not cached is an error
  bool verify = false;   // re-hash a cached file against its name's prefix
  DownloadOptions download;
};

// The checkpoint to load, in this order:
// - `weights_file` when given (it must exist);
// - `weights_url` when given: torch.hub's cached file for that URL,
//   downloaded first when missing (load_state_dict_from_url with
//   check_hash=True);
// - torch.hub's cached file for `weights`, downloaded from its URL (or the
//   mirror's) first when missing.
// With fetch.offline a missing file throws Error(kWeights); a failed
// download throws Error(kDownload); both name the URL, the cache path and
// --weights-file. With fetch.verify a cached file whose SHA-256 does not
// start with its name's prefix throws Error(kWeights).
std::filesystem::path resolve_weights_file(const WeightsInfo& weights,
                                           const std::string& weights_file,
                                           const std::string& weights_url = "",
                                           const FetchOptions& fetch = {});

enum class ProgressMode { kAuto, kAlways, kNever };
// "auto", "always", "never"; throws Error(kUsage).
ProgressMode parse_progress_mode(std::string_view text);

struct ClassifySettings {
  InputOptions input;   // paths, folders, --files-from, --shard, ...
  bool resume = false;  // skip inputs already recorded in output_file
  std::string weights = "DEFAULT";
  std::string weights_file;  // empty: torch.hub's cache
  std::string weights_url;   // empty: the registry's URL for `weights`
  FetchOptions fetch;
  std::string labels_file;  // empty: ImageNet's categories
  int topk = 5;
  OutputType output_type = OutputType::kProbability;
  OutputFormat format = OutputFormat::kText;
  std::string output_file;  // empty: stdout
  TransformOverrides transform;
  DecodeOptions decode;
  ModelOptions model;  // threads: cores for inference, 0 = all available
  int workers = 0;     // inference workers; 0: one per thread on CPU, else 1
  int batch_size = 0;  // 0: 2 on CPU (1 for one image), 32 on CUDA
  int decode_threads = 0;  // 0: one per inference thread
  bool ordered = true;
  ProgressMode progress = ProgressMode::kAuto;
};

// How the pipeline uses the cores. On CPU, one image gets every thread;
// several images get one single-threaded worker per thread (no OpenMP
// barriers, no oversubscription). On CUDA, one worker feeds the GPU.
PipelineOptions plan_pipeline(const ClassifySettings& settings,
                              bool single_input, int available_cores);

// The model `settings` names (its weights resolved, downloaded if needed,
// and read), ready to run. Throws Error as run_classify does.
std::unique_ptr<Model> load_model(const ClassifySettings& settings,
                                  const WeightsInfo& weights);

// What run_pipeline computes for each image, as `settings` asks.
ClassifyJob classify_job(const ClassifySettings& settings, Model& model,
                         const TransformSpec& transform,
                         const std::vector<std::string>& labels);

// Classifies every input and writes one record each to `out` (or to
// settings.output_file). Returns kExitOk, kExitInputFailed when any input
// failed, or 130 when interrupted by SIGINT. Setup failures (weights,
// checkpoint, device, labels, output file) throw Error.
int run_classify(const ClassifySettings& settings, std::ostream& out);

struct PreprocessSettings {
  std::string input;
  std::string weights = "DEFAULT";
  TransformOverrides transform;
  DecodeOptions decode;
  std::string npy_output;  // model input, float32 1x3xHxW
  std::string png_output;  // the uint8 RGB crop; optional
};

// Writes the model input (and crop) of one image. Throws Error.
void run_preprocess(const PreprocessSettings& settings);

// NumPy .npy (format 1.0, little-endian float32, C order), written
// atomically. Throws Error(kOutput).
void write_npy_float32(const std::filesystem::path& path,
                       const std::vector<std::int64_t>& shape,
                       const float* data);

}  // namespace resnet_cli
