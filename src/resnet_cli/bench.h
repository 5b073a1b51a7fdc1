// resnet-cli bench: forward-only throughput and latency, and, over a folder,
// the whole pipeline's throughput with the time each stage takes.
#pragma once

#include <iosfwd>

#include "resnet_cli/classify.h"

namespace resnet_cli {

struct BenchSettings {
  // Weights, threads, batch size, precision and device as for classify; its
  // inputs (a folder, files, --files-from), when any, are run through the
  // whole pipeline too.
  ClassifySettings classify;
  int iterations = 20;  // timed forward passes per inference worker
  int warmup = 3;       // untimed passes first (oneDNN builds its kernels)
  bool json = false;    // --format json
};

// Runs the benchmark and prints its report to `out`. Returns kExitOk.
// Throws Error as classify does.
int run_bench(const BenchSettings& settings, std::ostream& out);

}  // namespace resnet_cli
