// resnet-cli's command line: every option declared once, in one table, with
// its help text and environment variable (see options.cpp).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "resnet_cli/bench.h"
#include "resnet_cli/classify.h"
#include "resnet_cli/merge.h"

namespace resnet_cli::cli {

enum class Command {
  kNone,
  kClassify,
  kPreprocess,
  kWeightsList,
  kWeightsInfo,
  kWeightsDownload,
  kWeightsPath,
  kWeightsVerify,
  kBench,
  kMerge,
};

// Everything the command line can set. Options shared by several commands
// (weights, transforms, decoding) live once here and are copied into each
// command's settings by parse_command_line.
struct Settings {
  Command command = Command::kNone;
  int verbosity = 0;  // -1 quiet, 0 warnings, 1 info, 2 debug

  // classify / preprocess
  std::vector<std::string> inputs;
  std::string weights = "DEFAULT";
  std::string weights_file;
  std::string weights_url;  // classify --weights-url, weights download --url
  std::string labels_file;
  int topk = 5;
  std::string output_type = "prob";
  std::string format = "text";
  int threads = 0;
  std::string device = "cpu";
  int resize = 0;  // 0: the weights' own
  int crop = 0;
  std::string interpolation;
  std::string mean;
  std::string std;
  std::string exif = "ignore";
  std::string npy_output;
  std::string png_output;
  std::string output_file;
  std::string files_from;
  bool null_separated = false;
  std::string extensions;
  bool follow = false;
  std::string shard;
  bool resume = false;
  int batch_size = 0;
  int workers = 0;
  std::string engine = "optimized";
  int decode_threads = 0;
  bool unordered = false;
  std::string progress = "auto";
  std::string precision = "fp32";
  int iterations = 20;
  int warmup = 3;
  bool allow_truncated = false;
  std::uint64_t max_pixels = 89'478'485;

  // Fetching weights (classify, weights download).
  std::string mirror;
  bool offline = false;
  bool verify = false;
  int retries = DownloadOptions{}.retries;
  int retry_delay_ms = DownloadOptions{}.retry_delay_ms;
  int stall_timeout_s = DownloadOptions{}.stall_timeout_s;

  // merge
  std::vector<std::string> merge_parts;
  std::vector<std::string> merge_inputs;  // --inputs, one path each
  std::string merge_format = "jsonl";

  // weights info
  std::string info_name;

  // weights download / path / verify
  std::string weights_target;  // NAME (or FILE for verify); may be empty
  bool force = false;          // weights download: even when cached

  // Filled from the above by parse_command_line.
  ClassifySettings classify;
  PreprocessSettings preprocess;
  BenchSettings bench;
  MergeSettings merge;
  FetchOptions fetch;  // also in classify.fetch
};

struct ParseOutcome {
  bool run = false;  // false: exit with exit_code (help, version or error)
  int exit_code = 0;
  Settings settings;
};

// Parses argv. --help and --version print to `out` and give exit code 0;
// a usage error prints one line to `err` and gives exit code 2.
ParseOutcome parse_command_line(int argc, const char* const* argv,
                                std::ostream& out, std::ostream& err);

}  // namespace resnet_cli::cli
