// The batch pipeline: inputs are decoded and preprocessed on worker threads,
// classified in batches by inference workers, and handed back in input order
// (or as they finish). The number of inputs in flight is bounded, and so is
// each video's number of frames in flight, so memory stays flat however many
// inputs there are and however long a video is.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/transform.h"
#include "model/model.h"
#include "run/inputs.h"
#include "run/record.h"
#include "run/video_frames.h"

namespace resnet_cli {

struct PipelineOptions {
  // Inference workers, each with its own batches. A model on a device
  // (Model::open_batch_queue) gets one thread that keeps its batches in
  // flight, whatever this says.
  int workers = 1;
  int threads_per_worker = 1;  // LibTorch intra-op threads of each worker
  int decode_threads = 1;      // threads decoding and preprocessing
  int batch_size = 1;          // largest batch a worker runs
  bool ordered = true;         // false: records in completion order
};

class Explainer;

// explain: class activation maps, and their overlay files.
struct ExplainJob {
  const Explainer* explainer = nullptr;  // null: no explanations
  std::string overlay_folder;            // empty: no overlay files
  // Which records get overlay files, asked on the inference workers (so
  // from several threads at once); null: every one.
  std::function<bool(const Record&)> overlay_wanted;
};

// What to compute for each image.
struct ClassifyJob {
  const Model* model = nullptr;
  TransformSpec transform;
  DecodeOptions decode;
  OutputType output_type = OutputType::kProbability;
  int topk = 5;
  const std::vector<std::string>* labels = nullptr;
  ExplainJob explain;  // needs output_type prob or logit
  // Videos among the inputs (classify): how their frames are chosen.
  // nullptr: every input is read as an image (evaluate, bench).
  const VideoJob* video = nullptr;
};

struct PipelineStats {
  std::uint64_t ok = 0;      // inputs (a video counts once)
  std::uint64_t failed = 0;  // inputs whose closing record is an error
  std::uint64_t frames = 0;  // video frames classified
  // Time spent in each stage, summed over the threads that ran it.
  double decode_seconds = 0;      // reading and decoding files
  double preprocess_seconds = 0;  // resize, crop, normalize
  double inference_seconds = 0;   // forward passes and top-k (on a device:
                                  // waiting for the device)
  double output_seconds = 0;      // delivering records (formatting, writing)
  // On a device: time with no batch in flight, waiting for decoded images
  // (the device idle for want of input).
  double input_wait_seconds = 0;
  std::uint64_t batches = 0;  // forward passes
};

// Classifies every input `scanner` yields and calls `deliver` (always from the
// calling thread) with one record per input, preceded for a video by one per
// sampled frame. When `stop` becomes true no new input is started; those
// already started are still delivered, but a video stops reading frames and
// gets no closing record (it is not finished: --resume reads it again). A fatal
// error (Error of a non-input kind, e.g. inference failing) stops the pipeline
// and is rethrown after every thread has finished.
PipelineStats run_pipeline(InputScanner& scanner, const ClassifyJob& job,
                           const PipelineOptions& options,
                           const std::function<void(Record&&)>& deliver,
                           const std::atomic<bool>& stop);

}  // namespace resnet_cli
