// classify: inputs in, one record per input out, in the chosen format.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <ostream>

#include "commands.h"
#include "output_destination.h"
#include "resnet_cli/error.h"
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
      spdlog::info("{}: {} inputs already recorded, skipping them",
                   settings.output_file, input.skip->size());
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
  const auto writer = make_record_writer(writer_options, destination->stream());

  InputScanner scanner(input);
  RunProgress progress(settings.progress);
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
