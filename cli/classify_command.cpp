// classify: inputs in, one record per input out, in the chosen format.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <ostream>
#include <thread>

#include "commands.h"
#include "output_destination.h"
#include "resnet_cli/error.h"
#include "resnet_cli/human_units.h"
#include "resnet_cli/model_loader.h"
#include "resnet_cli/record_writer.h"
#include "resnet_cli/session.h"
#include "signals.h"
#include "terminal.h"

namespace resnet_cli::cli {

namespace {

bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool appends_jsonl(const ClassifySettings& settings) {
  return settings.format == OutputFormat::kJsonl &&
         !settings.output_file.empty();
}

void check_inputs(const ClassifySettings& settings) {
  const InputOptions& input = settings.input;
  if (settings.resume && !appends_jsonl(settings)) {
    throw Error(ErrorKind::kUsage,
                "--resume needs --output FILE with --format jsonl");
  }
  const bool stdin_image = std::find(input.paths.begin(), input.paths.end(),
                                     std::string("-")) != input.paths.end();
  if (stdin_image && input.files_from == "-") {
    throw Error(
        ErrorKind::kUsage,
        "'-' (an image on stdin) and --files-from - cannot share stdin");
  }
}

// The destination, checked before the model loads so that a mistake there
// costs no time. JSON Lines to a file appends (--resume continues it);
// other formats replace the file when complete.
std::unique_ptr<OutputDestination> open_destination(
    const ClassifySettings& settings, InputOptions& input, std::ostream& out) {
  if (!appends_jsonl(settings)) {
    return std::make_unique<OutputDestination>(out, settings.output_file);
  }
  if (settings.resume) {
    input.skip = recorded_paths(settings.output_file);
    if (!input.skip->empty()) {
      spdlog::info("{}: {} already recorded, skipping them",
                   settings.output_file, count_of(input.skip->size(), "input"));
    }
  } else if (file_has_content(settings.output_file)) {
    throw Error(ErrorKind::kUsage,
                settings.output_file +
                    ": already holds records; continue it with --resume, or "
                    "remove it");
  }
  return std::make_unique<OutputDestination>(out, settings.output_file,
                                             OutputDestination::Mode::kAppend);
}

bool is_single_image(const InputOptions& input) {
  return input.paths.size() == 1 && input.files_from.empty() &&
         !is_directory(input.paths[0]);
}

// The inputs counted ahead of the run on a thread of its own, for the
// progress line's total and ETA; a list on stdin cannot be read twice, so it
// is not counted.
class InputCounter {
 public:
  InputCounter(const InputOptions& input, InputTally& tally) {
    if (input.files_from == "-") return;
    thread_ = std::thread([this, input, &tally] {
      try {
        InputScanner scanner(input);
        Input found;
        while (!stop_ && scanner.next(found)) ++tally.found;
        tally.complete = !stop_;
      } catch (const std::exception&) {
        // The run's own scan reports what is wrong; no total then.
      }
    });
  }
  ~InputCounter() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  InputCounter(const InputCounter&) = delete;
  InputCounter& operator=(const InputCounter&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

ExitCode run_classify(const ClassifySettings& settings, std::ostream& out) {
  // LibTorch initialises while the inputs and the output are checked.
  start_loading_model_module();
  check_inputs(settings);
  InputOptions input = settings.input;
  const auto destination = open_destination(settings, input, out);
  const Session session(settings);

  WriterOptions writer_options;
  writer_options.format = settings.format;
  writer_options.output_type = settings.output_type;
  writer_options.topk = static_cast<int>(
      std::min<std::int64_t>(settings.topk, session.model().num_classes()));
  writer_options.embedding_size =
      static_cast<int>(session.model().feature_size());
  writer_options.color = use_color(settings.color, STDOUT_FILENO);
  const auto writer = make_record_writer(writer_options, destination->stream());

  InputScanner scanner(input);
  InputTally tally;
  RunProgress progress(settings.progress,
                       use_color(settings.color, STDERR_FILENO), &tally);
  std::optional<InputCounter> counter;
  if (progress.live()) counter.emplace(input, tally);
  GracefulInterrupt interrupt;
  const PipelineStats stats = run_pipeline(
      scanner,
      session.job(settings.output_type, settings.topk, settings.decode),
      session.plan(is_single_image(input)),
      [&](Record&& record) {
        if (record.error) spdlog::warn("{}", record.error->message);
        writer->write(record);
        destination->check();
        progress.record_done(record.error.has_value());
      },
      interrupt.stop_flag());
  counter.reset();
  writer->finish();
  if (interrupt.interrupted() && destination->is_file() &&
      !appends_jsonl(settings)) {
    destination->check();
    spdlog::warn(
        "interrupted: {} left as it was (--format jsonl writes as it goes)",
        settings.output_file);
  } else {
    destination->commit();
  }
  progress.finish(interrupt.interrupted());
  if (interrupt.interrupted()) return kExitInterrupted;
  return stats.failed > 0 ? kExitInputFailed : kExitOk;
}

}  // namespace resnet_cli::cli
