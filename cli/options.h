// resnet-cli's command line: every option declared once, in one table
// (option_table.cpp), with its help text, environment variable and the commands
// it belongs to; values are bound to typed fields as CLI11 parses them. Each
// command then gets a settings struct of its own, built for that command only.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "image/decode.h"
#include "run/inputs.h"
#include "run/merge.h"
#include "run/record_writer.h"
#include "run/session.h"
#include "serve/server.h"
#include "terminal.h"
#include "train/quantize.h"
#include "train/train.h"

namespace CLI {
class App;
}

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
  kServe,
  kTrain,
  kEvaluate,
  kReport,
  kQuantize,
};

// --format of the commands that print a report rather than records.
enum class ReportFormat { kText, kJson };
// --exif.
enum class ExifMode { kIgnore, kApply };

}  // namespace resnet_cli::cli

namespace resnet_cli {
template <>
struct EnumNames<cli::ReportFormat> {
  static constexpr std::string_view option = "--format";
  static constexpr std::array<EnumName<cli::ReportFormat>, 2> names{{
      {"text", cli::ReportFormat::kText},
      {"json", cli::ReportFormat::kJson},
  }};
};
template <>
struct EnumNames<cli::ExifMode> {
  static constexpr std::string_view option = "--exif";
  static constexpr std::array<EnumName<cli::ExifMode>, 2> names{{
      {"ignore", cli::ExifMode::kIgnore},
      {"apply", cli::ExifMode::kApply},
  }};
};
}  // namespace resnet_cli

namespace resnet_cli::cli {

// classify: a model session, plus the inputs and where the records go.
struct ClassifySettings : SessionOptions {
  InputOptions input;   // paths, folders, --files-from, --shard, ...
  bool resume = false;  // skip inputs already recorded in output_file
  int topk = 5;
  // --topk (or RESNET_CLI_TOPK) was given: asking for more classes than the
  // model has is then worth a warning; the default clamps silently.
  bool topk_given = false;
  OutputType output_type = OutputType::kProbability;
  OutputFormat format = OutputFormat::kText;
  std::string output_file;  // empty: stdout
  DecodeOptions decode;
  ProgressMode progress = ProgressMode::kAuto;
  ColorMode color = ColorMode::kAuto;
  int explain_topk = 0;     // classes explained per image; 0: no explain
  std::string explain_dir;  // overlay PNGs; empty: none
  VideoJob video;  // videos among the inputs: --every, --start, --end, ...
};

// evaluate: a model session over a labelled ImageFolder tree. The session
// options are classify's, so that every way of naming a model works here.
struct EvaluateSettings : SessionOptions {
  std::string data;    // DATA/<class>/<image>
  InputOptions input;  // --ext, -L; the paths are DATA's class folders
  OutputFormat format = OutputFormat::kText;  // text, json or csv
  std::string output_file;                    // empty: stdout
  std::string misclassified_file;             // empty: none
  DecodeOptions decode;
  ProgressMode progress = ProgressMode::kAuto;
  bool explain_errors = false;  // maps of the misclassified images
  std::string explain_dir;      // their overlay PNGs; empty: none
};

// report: classify's or evaluate's results as one HTML page.
struct ReportSettings {
  std::string results;  // classify json/jsonl, or evaluate json
  std::string output_file;
  int thumbnail_size = 128;  // pixels, the longer side
};

struct BenchSettings : SessionOptions {
  InputOptions input;   // when given, the whole pipeline runs over them
  int iterations = 20;  // timed forward passes per inference worker
  int warmup = 3;       // untimed passes first (oneDNN builds its kernels)
  ReportFormat format = ReportFormat::kText;
};

// serve: a model session, and the server's address, limits and batching
// (server.plan comes from the session when it is built).
struct ServeSettings : SessionOptions {
  ServerOptions server;
  bool access_log = false;  // -v
};

// quantize: the library's options, plus how progress shows.
struct QuantizeSettings {
  QuantizeOptions quantize;
  ProgressMode progress = ProgressMode::kAuto;
};

// train: the library's options, plus how progress shows.
struct TrainSettings {
  TrainOptions train;
  ProgressMode progress = ProgressMode::kAuto;
};

struct PreprocessSettings {
  std::string input;
  std::string weights = "DEFAULT";
  std::string arch;  // with `weights`, chooses the transforms
  TransformOverrides transform;
  DecodeOptions decode;
  std::string npy_output;  // model input, float32 1x3xHxW
  std::string png_output;  // the uint8 RGB crop; optional
};

struct MergeCommandSettings {
  MergeSettings merge;
  std::string output_file;  // empty: stdout
};

struct WeightsSettings {
  std::string target;  // NAME (or FILE for verify); may be empty
  std::string url;     // weights download --url
  bool force = false;  // weights download: even when cached
  FetchOptions fetch;
  ReportFormat format = ReportFormat::kText;
};

// What the table binds: every option's typed value, whatever the command.
struct OptionValues {
  std::vector<std::string> inputs;
  std::string weights = "DEFAULT";
  std::optional<std::string> arch;
  std::string weights_file;
  std::string weights_url;  // classify --weights-url, weights download --url
  std::string labels_file;
  int topk = 5;
  bool topk_given = false;
  OutputType output_type = OutputType::kProbability;
  OutputFormat format = OutputFormat::kText;
  ReportFormat report_format = ReportFormat::kText;
  OutputFormat merge_format = OutputFormat::kJsonl;
  int threads = 0;
  std::string device = "cpu";
  int resize = 0;  // 0: the weights' own
  int crop = 0;
  std::optional<Interpolation> interpolation;
  std::optional<std::array<float, 3>> mean;
  std::optional<std::array<float, 3>> std;
  ExifMode exif = ExifMode::kIgnore;
  std::string npy_output;
  std::string png_output;
  std::string output_file;
  std::string files_from;
  bool null_separated = false;
  std::optional<std::vector<std::string>> extensions;
  bool follow = false;
  std::optional<Shard> shard;
  bool resume = false;
  int batch_size = 0;
  int workers = 0;
  Engine engine = Engine::kOptimized;
  int decode_threads = 0;
  bool unordered = false;
  ProgressMode progress = ProgressMode::kAuto;
  ColorMode color = ColorMode::kAuto;
  Precision precision = Precision::kFloat32;
  bool tf32 = false;
  int iterations = 20;
  int warmup = 3;
  bool allow_truncated = false;
  std::uint64_t max_pixels = 89'478'485;
  std::string mirror;
  bool offline = false;
  bool verify = false;
  int retries = DownloadOptions{}.retries;
  int retry_delay_ms = DownloadOptions{}.retry_delay_ms;
  int stall_timeout_s = DownloadOptions{}.stall_timeout_s;
  std::vector<std::string> merge_parts;
  std::vector<std::string> merge_inputs;  // --inputs, one path each
  std::string weights_target;  // weights info/download/path/verify NAME
  bool force = false;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  std::uint64_t max_body = ServerOptions{}.max_body;
  int max_batch_delay_ms = ServerOptions{}.max_batch_delay_ms;
  int max_connections = ServerOptions{}.max_connections;
  int max_client_connections = ServerOptions{}.max_client_connections;
  int max_queue = ServerOptions{}.max_queue;
  int header_timeout_s = ServerOptions{}.header_timeout_s;
  int request_timeout_s = ServerOptions{}.request_timeout_s;
  int idle_timeout_s = ServerOptions{}.idle_timeout_s;
  std::uint64_t body_memory = ServerOptions{}.body_memory;
  std::uint64_t decode_memory = ServerOptions{}.decode_memory;
  std::string model_dir;           // classify/bench --model
  std::string calibrate;           // quantize --calibrate DIR
  int calibration_batch_size = 8;  // quantize -b
  // train
  std::string val_dir;
  double val_split = 0.1;
  TrainedPart train_part = TrainedPart::kFc;
  int epochs = 10;
  int train_batch_size = 32;
  OptimizerKind optimizer = OptimizerKind::kSgd;
  std::optional<double> learning_rate;  // default by optimizer
  double weight_decay = 1e-4;
  Schedule schedule = Schedule::kCosine;
  double label_smoothing = 0;
  Augment augment = Augment::kNone;
  bool shuffle = false;
  bool no_shuffle = false;
  std::uint64_t seed = 0;
  bool freeze_bn = false;
  std::string cache_dir;
  bool strict = false;
  OutputFormat evaluate_format = OutputFormat::kText;
  std::string misclassified_file;
  int thumbnail_size = 128;
  bool explain = false;
  int explain_topk = 0;  // 0: not given
  std::string explain_dir;
  bool explain_errors = false;
  // classify's videos
  std::string every = "1s";
  std::string start;  // "": the first frame
  std::string end;    // "": the end
  bool video_summary = false;
  bool no_video_summary = false;
};

// The parsed command line: the command, -q/-v, and that command's settings
// (the others stay default).
struct Settings {
  Command command = Command::kNone;
  int verbosity = 0;  // -1 quiet, 0 warnings, 1 info, 2 debug
  ClassifySettings classify;
  BenchSettings bench;
  ServeSettings serve;
  PreprocessSettings preprocess;
  MergeCommandSettings merge;
  WeightsSettings weights;
  TrainSettings train;
  EvaluateSettings evaluate;
  ReportSettings report;
  QuantizeSettings quantize;
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

// Declares resnet-cli's whole command line on `app`, as parse_command_line
// parses it and --help shows it: the subcommands, each with its options from
// the option table bound to `values` (which must outlive `app`), their help,
// type names and variables. The man page and the shell completions are
// generated from it (cli/docs/), so that they cannot drift from --help.
void describe_command_line(CLI::App& app, OptionValues& values);

// The option table, for tests and generated documentation.
struct OptionInfo {
  std::string flags;  // "-f,--format"
  std::string env;    // "" when none
  std::string help;
  std::vector<std::string> commands;  // "classify", "weights download", ...
};
std::vector<OptionInfo> option_table_info();

}  // namespace resnet_cli::cli
