// Benchmarks of a session: forward-only throughput and latency, and the whole
// pipeline's throughput with the time each stage takes. The numbers only;
// the front end prints them.
#pragma once

#include "run/inputs.h"
#include "run/pipeline.h"
#include "run/session.h"

namespace resnet_cli {

struct ForwardBenchmark {
  double images_per_second = 0;  // all workers together
  double p50_ms = 0;             // latency of one batch
  double p95_ms = 0;
};

// Every worker of `plan` runs `warmup` untimed then `iterations` timed
// forward passes of plan.batch_size random crop x crop images, all starting
// together. Throws Error as Model::forward does.
ForwardBenchmark benchmark_forward(const Model& model,
                                   const PipelineOptions& plan, int crop,
                                   int iterations, int warmup);

struct PipelineBenchmark {
  PipelineStats stats;
  double seconds = 0;  // wall time of the whole run
};

// Classifies every input of `scanner` as classify does (records are
// formatted as JSON Lines, then dropped).
PipelineBenchmark benchmark_pipeline(const Session& session,
                                     InputScanner& scanner,
                                     const PipelineOptions& plan);

}  // namespace resnet_cli
