#include "resnet_cli/classify.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <ostream>

#include "resnet_cli/checkpoint.h"
#include "resnet_cli/download.h"
#include "resnet_cli/error.h"
#include "resnet_cli/file_util.h"
#include "resnet_cli/preprocess.h"

namespace resnet_cli {

namespace {

std::vector<std::string> load_labels(const std::string& labels_file,
                                     std::int64_t num_classes) {
  if (labels_file.empty()) {
    if (num_classes !=
        static_cast<std::int64_t>(imagenet_categories().size())) {
      spdlog::warn(
          "the model has {} classes, not ImageNet's 1000; labels are class "
          "indices (give names with --labels FILE)",
          num_classes);
      return {};
    }
    return imagenet_categories();
  }
  std::vector<std::string> labels = read_labels_file(labels_file);
  if (static_cast<std::int64_t>(labels.size()) != num_classes) {
    throw Error(ErrorKind::kUsage,
                labels_file + ": has " + std::to_string(labels.size()) +
                    " labels but the model has " + std::to_string(num_classes) +
                    " classes");
  }
  return labels;
}

// SIGINT asks the pipeline to start nothing new; what is in flight finishes
// and is written. A second SIGINT ends the process as usual.
std::atomic<bool> g_interrupted{false};

void on_interrupt(int) { g_interrupted = true; }

class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = false;
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: a read of --files-from on a terminal returns, so the
    // input ends there.
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, &previous_);
  }
  ~InterruptGuard() { sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

// Progress on stderr when it is a terminal (or --progress always), and the
// closing summary; per-input warnings go through here so that they do not
// tear the progress line.
class Progress {
 public:
  explicit Progress(ProgressMode mode)
      : enabled_(mode == ProgressMode::kAlways ||
                 (mode == ProgressMode::kAuto && ::isatty(STDERR_FILENO))),
        start_(Clock::now()) {}

  void warn(const std::string& message) {
    clear_line();
    spdlog::warn("{}", message);
  }

  void update(const PipelineStats& stats) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K%llu done, %llu failed, %.1f img/s",
                 static_cast<unsigned long long>(stats.ok + stats.failed),
                 static_cast<unsigned long long>(stats.failed), rate(stats));
    std::fflush(stderr);
    drawn_ = true;
  }

  void finish(const PipelineStats& stats, bool interrupted) {
    const double seconds = elapsed();
    char line[200];
    std::snprintf(line, sizeof line,
                  "%s%llu inputs: %llu ok, %llu failed, %.1f s, %.1f img/s",
                  interrupted ? "interrupted after " : "",
                  static_cast<unsigned long long>(stats.ok + stats.failed),
                  static_cast<unsigned long long>(stats.ok),
                  static_cast<unsigned long long>(stats.failed), seconds,
                  rate(stats));
    clear_line();
    if (enabled_) {
      std::fprintf(stderr, "resnet-cli: %s\n", line);
    } else {
      spdlog::info("{}", line);
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  double elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  double rate(const PipelineStats& stats) const {
    const double seconds = elapsed();
    return seconds > 0 ? static_cast<double>(stats.ok + stats.failed) / seconds
                       : 0;
  }
  void clear_line() {
    if (drawn_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
      drawn_ = false;
    }
  }

  bool enabled_;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

// --resume: the paths a JSON Lines output already records. A last line
// without its newline (the run was killed while writing it) is cut off, so
// that appending starts on a clean line.
std::shared_ptr<std::unordered_set<std::string>> recorded_paths(
    const std::string& output_file) {
  auto paths = std::make_shared<std::unordered_set<std::string>>();
  std::ifstream in(output_file, std::ios::binary);
  if (!in) return paths;  // nothing recorded yet
  std::string line;
  std::uint64_t complete_bytes = 0;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: an interrupted write
    complete_bytes += line.size() + 1;
    const std::string path = record_path_from_json(line);
    if (!path.empty()) paths->insert(path);
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(output_file, ec);
  if (!ec && size > complete_bytes) {
    spdlog::warn("{}: dropping an incomplete last line ({} bytes)", output_file,
                 size - complete_bytes);
    std::filesystem::resize_file(output_file, complete_bytes, ec);
    if (ec) {
      throw Error(ErrorKind::kOutput,
                  output_file +
                      ": cannot cut the incomplete last line: " + ec.message());
    }
  }
  return paths;
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// --verify: torch.hub trusts a cached file forever; this re-hashes it.
void verify_weights_file(const std::filesystem::path& path) {
  const HashCheck check = check_file_hash(path);
  if (!check.has_prefix()) {
    spdlog::warn(
        "{}: --verify: its name carries no hash to check against (sha256 {})",
        path.string(), check.sha256);
    return;
  }
  if (!check.matches()) {
    throw Error(ErrorKind::kWeights,
                path.string() + ": SHA-256 " + check.sha256 +
                    " does not start with " + check.expected_prefix +
                    ", the hash in its name: the file is damaged or not what "
                    "its name says (delete it to download it again)");
  }
  spdlog::info("{}: sha256 {} verified", path.string(), check.sha256);
}

// The cached file for `url`, downloaded into the cache first when missing.
std::filesystem::path fetch_into_cache(const std::string& what,
                                       const std::string& url,
                                       const std::filesystem::path& cached,
                                       const FetchOptions& fetch) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(cached, ec)) {
    if (fetch.verify) verify_weights_file(cached);
    return cached;
  }
  if (fetch.offline) {
    throw Error(ErrorKind::kWeights,
                what + " are not cached at " + cached.string() +
                    " and downloads are off (--offline, RESNET_CLI_OFFLINE); "
                    "download " +
                    url +
                    " to that path (as torch.hub does), or pass "
                    "--weights-file FILE");
  }
  try {
    download_file(url, cached,
                  hash_prefix_from_file_name(cached.filename().string()),
                  fetch.download);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDownload) throw;
    throw Error(ErrorKind::kDownload,
                what + " are not cached at " + cached.string() + " and " +
                    e.what() +
                    "; put the file at that path (as torch.hub does), or "
                    "pass --weights-file FILE");
  }
  return cached;
}

}  // namespace

std::filesystem::path resolve_weights_file(const WeightsInfo& weights,
                                           const std::string& weights_file,
                                           const std::string& weights_url,
                                           const FetchOptions& fetch) {
  if (!weights_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(weights_file, ec)) {
      throw Error(ErrorKind::kWeights,
                  weights_file + ": weights file not found (--weights-file)");
    }
    if (fetch.verify) verify_weights_file(weights_file);
    return weights_file;
  }
  if (!weights_url.empty()) {
    return fetch_into_cache("weights from --weights-url", weights_url,
                            cached_url_path(weights_url), fetch);
  }
  return fetch_into_cache("weights " + weights.name,
                          mirror_url(weights.url, fetch.mirror),
                          cached_weights_path(weights), fetch);
}

ProgressMode parse_progress_mode(std::string_view text) {
  if (text == "auto") return ProgressMode::kAuto;
  if (text == "always") return ProgressMode::kAlways;
  if (text == "never") return ProgressMode::kNever;
  throw Error(ErrorKind::kUsage, "unknown --progress '" + std::string(text) +
                                     "' (expected auto, always or never)");
}

PipelineOptions plan_pipeline(const ClassifySettings& settings,
                              bool single_input, int available_cores) {
  const int threads =
      settings.model.threads > 0 ? settings.model.threads : available_cores;
  const bool cuda = settings.model.device.rfind("cuda", 0) == 0;
  PipelineOptions plan;
  plan.ordered = settings.ordered;
  if (settings.workers > 0) {
    plan.workers = settings.workers;
  } else {
    plan.workers = cuda || single_input ? 1 : threads;
  }
  // The threads are shared out; a worker never gets fewer than one.
  plan.threads_per_worker = std::max(1, threads / plan.workers);
  // On CPU a worker runs two images per pass when it has them: the weights
  // then stream through the cache once for both (measured: 51 against 49
  // img/s on 2 cores). One image alone runs as soon as it is ready.
  plan.batch_size = settings.batch_size > 0 ? settings.batch_size
                    : cuda                  ? 32
                    : single_input          ? 1
                                            : 2;
  plan.decode_threads = settings.decode_threads > 0
                            ? settings.decode_threads
                            : (single_input ? 1 : std::max(1, threads));
  return plan;
}

std::unique_ptr<Model> load_model(const ClassifySettings& settings,
                                  const WeightsInfo& weights) {
  // The checkpoint is only needed while the model loads.
  const Checkpoint checkpoint(resolve_weights_file(
      weights, settings.weights_file, settings.weights_url, settings.fetch));
  return Model::load(checkpoint, settings.model);
}

ClassifyJob classify_job(const ClassifySettings& settings, Model& model,
                         const TransformSpec& transform,
                         const std::vector<std::string>& labels) {
  ClassifyJob job;
  job.model = &model;
  job.transform = transform;
  job.decode = settings.decode;
  job.output_type = settings.output_type;
  job.topk = settings.topk;
  job.labels = &labels;
  return job;
}

int run_classify(const ClassifySettings& settings, std::ostream& out) {
  const WeightsInfo& weights = find_weights(settings.weights);
  const TransformSpec transform =
      apply_overrides(weights.transforms, settings.transform);
  if (settings.topk < 1)
    throw Error(ErrorKind::kUsage, "--topk must be at least 1");
  const bool jsonl_file =
      settings.format == OutputFormat::kJsonl && !settings.output_file.empty();
  if (settings.resume && !jsonl_file) {
    throw Error(ErrorKind::kUsage,
                "--resume needs --output FILE with --format jsonl");
  }
  InputOptions input = settings.input;
  const bool stdin_image = std::find(input.paths.begin(), input.paths.end(),
                                     std::string("-")) != input.paths.end();
  if (stdin_image && input.files_from == "-") {
    throw Error(
        ErrorKind::kUsage,
        "'-' (an image on stdin) and --files-from - cannot share stdin");
  }
  if (input.paths.empty() && input.files_from.empty()) {
    throw Error(ErrorKind::kUsage,
                "no inputs (give files, folders or --files-from)");
  }

  // The output is checked before the model loads, so that a mistake there
  // costs no time.
  std::unique_ptr<AtomicFile> atomic_output;
  std::ofstream appended_output;
  std::ostream* destination = &out;
  if (jsonl_file) {
    std::error_code ec;
    const bool has_records =
        std::filesystem::exists(settings.output_file, ec) &&
        std::filesystem::file_size(settings.output_file, ec) > 0;
    if (settings.resume) {
      input.skip = recorded_paths(settings.output_file);
      if (!input.skip->empty()) {
        spdlog::info("{}: {} inputs already recorded, skipping them",
                     settings.output_file, input.skip->size());
      }
    } else if (has_records) {
      throw Error(ErrorKind::kUsage,
                  settings.output_file +
                      ": already holds records; continue it with --resume, or "
                      "remove it");
    }
    appended_output.open(settings.output_file,
                         std::ios::binary | std::ios::app);
    if (!appended_output) {
      throw Error(ErrorKind::kOutput,
                  settings.output_file +
                      ": cannot open for writing: " + std::strerror(errno));
    }
    destination = &appended_output;
  } else if (!settings.output_file.empty()) {
    atomic_output = std::make_unique<AtomicFile>(settings.output_file);
    destination = &atomic_output->stream();
  }
  const std::string destination_name =
      settings.output_file.empty() ? "standard output" : settings.output_file;

  const std::unique_ptr<Model> model = load_model(settings, weights);
  const std::vector<std::string> labels =
      load_labels(settings.labels_file, model->num_classes());

  WriterOptions writer_options;
  writer_options.format = settings.format;
  writer_options.output_type = settings.output_type;
  writer_options.topk = static_cast<int>(
      std::min<std::int64_t>(settings.topk, model->num_classes()));
  auto writer = make_record_writer(writer_options, *destination);

  const ClassifyJob job = classify_job(settings, *model, transform, labels);
  const bool single_input = input.paths.size() == 1 &&
                            input.files_from.empty() &&
                            !is_directory(input.paths[0]);
  const PipelineOptions plan =
      plan_pipeline(settings, single_input, available_cores());
  spdlog::debug(
      "pipeline: {} workers x {} threads, {} decode threads, batch {}",
      plan.workers, plan.threads_per_worker, plan.decode_threads,
      plan.batch_size);

  InputScanner scanner(input);
  Progress progress(settings.progress);
  PipelineStats running;
  InterruptGuard interrupt_guard;
  const PipelineStats stats = run_pipeline(
      scanner, job, plan,
      [&](Record&& record) {
        if (record.error) progress.warn(record.error->message);
        writer->write(record);
        if (!*destination) {
          throw Error(
              ErrorKind::kOutput,
              destination_name + ": write failed: " + std::strerror(errno));
        }
        (record.error ? running.failed : running.ok)++;
        progress.update(running);
      },
      g_interrupted);
  const bool interrupted = g_interrupted;
  writer->finish();
  if (!*destination) {
    throw Error(ErrorKind::kOutput,
                destination_name + ": write failed: " + std::strerror(errno));
  }
  if (atomic_output) {
    if (interrupted) {
      spdlog::warn(
          "interrupted: {} left as it was (--format jsonl writes as it goes)",
          settings.output_file);
    } else {
      atomic_output->commit();
    }
  }
  progress.finish(stats, interrupted);
  if (interrupted) return 130;
  return stats.failed > 0 ? kExitInputFailed : kExitOk;
}

void write_npy_float32(const std::filesystem::path& path,
                       const std::vector<std::int64_t>& shape,
                       const float* data) {
  std::string shape_text = "(";
  std::size_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    shape_text += std::to_string(shape[i]);
    shape_text += shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : "");
    count *= static_cast<std::size_t>(shape[i]);
  }
  shape_text += ")";
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Magic, version 1.0, header length; the header is padded with spaces and
  // ends in '\n' so that the data starts on a 64-byte boundary.
  const std::size_t preamble = 10;
  const std::size_t total = preamble + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  AtomicFile file(path);
  file.write(bytes);
  file.write(data, count * sizeof(float));
  file.commit();
}

void run_preprocess(const PreprocessSettings& settings) {
  const WeightsInfo& weights = find_weights(settings.weights);
  const TransformSpec spec = apply_overrides(weights.transforms, settings.transform);
  const RgbImage image = decode_image_input(settings.input, settings.decode);
  const RgbImage crop = resize_center_crop(image, spec);
  if (!settings.npy_output.empty()) {
    std::vector<float> chw(3 * static_cast<std::size_t>(crop.width) *
                           crop.height);
    normalize_to_chw(crop, spec, chw.data());
    write_npy_float32(settings.npy_output, {1, 3, crop.height, crop.width},
                      chw.data());
  }
  if (!settings.png_output.empty()) write_png(crop, settings.png_output);
}

}  // namespace resnet_cli
