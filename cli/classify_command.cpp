// classify: inputs in, one record per input out, in the chosen format.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <optional>
#include <ostream>
#include <thread>

#include "base/error.h"
#include "base/file_util.h"
#include "base/human_units.h"
#include "command_registry.h"
#include "commands.h"
#include "model/model_loader.h"
#include "option_table.h"
#include "output_destination.h"
#include "run/explain.h"
#include "run/overlay_files.h"
#include "run/record_writer.h"
#include "run/session.h"
#include "run/video_frames.h"
#include "settings.h"
#include "signals.h"
#include "terminal.h"
#include "video/sampling.h"

namespace resnet_cli::cli {

namespace {

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

// One image gets every core for itself; one video has many frames.
bool is_single_image(const InputOptions& input) {
  if (input.paths.size() != 1 || !input.files_from.empty() ||
      is_folder(input.paths[0])) {
    return false;
  }
  try {
    return !is_video_input(input.paths[0]);
  } catch (const Error&) {
    return true;  // its record will say what is wrong with it
  }
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

std::string quoted_list(const std::vector<std::string>& items,
                        std::size_t shown) {
  std::string text;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) {
    text += (i ? ", '" : "'") + items[i] + "'";
  }
  if (items.size() > shown) {
    text += " and " + std::to_string(items.size() - shown) + " more";
  }
  return text;
}

// "nothing to classify in 'photos': ...": what was scanned, what the scan
// left out and why, and the extension filter, in one line.
std::string nothing_to_do(const ClassifySettings& settings,
                          const InputScanner::Counts& counts) {
  const InputOptions& input = settings.input;
  std::string scanned = quoted_list(input.paths, 3);
  if (!input.files_from.empty()) {
    scanned += (scanned.empty() ? "" : " and ") + std::string("--files-from ") +
               (input.files_from == "-" ? "stdin" : input.files_from);
  }
  std::vector<std::string> reasons;
  if (counts.other_extension > 0) {
    reasons.push_back(count_of(counts.other_extension, "file") +
                      " with other extensions");
  }
  if (counts.other_shard > 0) {
    reasons.push_back(count_of(counts.other_shard, "input") +
                      " of other shards than " +
                      std::to_string(input.shard->index) + "/" +
                      std::to_string(input.shard->count));
  }
  if (counts.skipped > 0) {
    reasons.push_back(count_of(counts.skipped, "input") +
                      " already recorded in " + settings.output_file);
  }
  std::string why = reasons.empty() ? "no files found" : "";
  for (const std::string& reason : reasons) {
    why += (why.empty() ? "" : ", ") + reason;
  }
  // The extension filter, only where it is part of why: files it left out,
  // or none found (inputs all recorded or in other shards are not its doing).
  if (counts.other_extension == 0 && !reasons.empty()) {
    return "nothing to classify in " + scanned + " (" + why + ")";
  }
  const std::vector<std::string> extensions = scanned_extensions(input);
  std::string filter;
  for (const std::string& extension : extensions) {
    filter += (filter.empty() ? "" : ",") + extension;
  }
  return "nothing to classify in " + scanned + " (" + why +
         "); extensions picked up in folders: " + filter +
         (input.extensions.empty() ? " (the default; --ext chooses)"
                                   : " (--ext)");
}

// What an interrupted run wrote and how to go on: the --resume command that
// continues a JSON Lines file, or how to make a run that one can continue.
std::string after_interrupt(const ClassifySettings& settings) {
  if (appends_jsonl(settings)) {
    return "their records are in " + settings.output_file +
           "; continue with: " + command_line_with("--resume");
  }
  const std::string resumable =
      "to continue an interrupted run, write it with --format jsonl --output "
      "FILE and run it again with --resume";
  if (!settings.output_file.empty()) {
    return settings.output_file + " left as it was (--format " +
           std::string(enum_name(settings.format)) +
           " is written whole at the end); " + resumable;
  }
  return "their records are on stdout" +
         std::string(settings.format == OutputFormat::kJson
                         ? " (the JSON array closed)"
                         : "") +
         "; " + resumable;
}

// --topk (or --explain-topk: `option`), at most the model's classes (a
// fine-tuned head may have few): a default means "at most that many" and
// clamps silently; a value given (option or variable) asking for more is told
// once.
int checked_topk(int topk, bool given, const char* option,
                 const Session& session) {
  const std::int64_t classes = session.model().num_classes();
  if (topk <= classes) return topk;
  if (given) {
    spdlog::warn(
        "{} {} is more than the model's {}; reporting all of them", option,
        topk,
        count_of(static_cast<std::uint64_t>(classes), "class", "classes"));
  }
  return static_cast<int>(classes);
}

}  // namespace

ExitCode run_classify(const ClassifySettings& settings, std::ostream& out) {
  // LibTorch initialises while the inputs and the output are checked.
  start_loading_model_module();
  check_inputs(settings);
  InputOptions input = settings.input;
  const auto destination = open_destination(settings, input, out);
  if (!settings.explain_dir.empty()) {
    prepare_overlay_folder(settings.explain_dir);
  }
  const Session session(settings);
  const int topk =
      checked_topk(settings.topk, settings.topk_given, "--topk", session);
  std::optional<Explainer> explainer;
  if (settings.explain_topk > 0) {
    explainer.emplace(
        session.model(), session.transform(), settings.decode, session.labels(),
        checked_topk(settings.explain_topk, true, "--explain-topk", session));
  }

  WriterOptions writer_options;
  writer_options.format = settings.format;
  writer_options.output_type = settings.output_type;
  writer_options.topk = topk;
  writer_options.embedding_size =
      static_cast<int>(session.model().feature_size());
  writer_options.color = use_color(settings.color, STDOUT_FILENO);
  writer_options.explain_topk = explainer ? explainer->topk() : 0;
  writer_options.explain_overlays = !settings.explain_dir.empty();
  const auto writer = make_record_writer(writer_options, destination->stream());

  InputScanner scanner(input);
  InputTally tally;
  RunProgress progress(settings.progress,
                       use_color(settings.color, STDERR_FILENO), &tally);
  std::optional<InputCounter> counter;
  if (progress.live()) counter.emplace(input, tally);
  GracefulInterrupt interrupt;
  ClassifyJob job = session.job(settings.output_type, topk, settings.decode);
  job.explain.explainer = explainer ? &*explainer : nullptr;
  job.explain.overlay_folder = settings.explain_dir;
  job.video = &settings.video;
  const PipelineStats stats = run_pipeline(
      scanner, job, session.plan(is_single_image(input)),
      [&](Record&& record) {
        if (record.error) spdlog::warn("{}", record.error->message);
        writer->write(record);
        destination->check();
        // A video counts once, when its closing record is written.
        if (closes_input(record))
          progress.record_done(record.error.has_value());
      },
      interrupt.stop_flag());
  counter.reset();
  writer->finish();
  if (interrupt.interrupted() && destination->is_file() &&
      !appends_jsonl(settings)) {
    destination->check();
  } else {
    destination->commit();
  }
  progress.finish(interrupt.interrupted(),
                  interrupt.interrupted() ? after_interrupt(settings) : "");
  if (stats.frames > 0) {
    // Where a video run's time went (scripts/bench --video reads it).
    spdlog::info(
        "{} video frames classified; seconds summed over threads: decoding "
        "{:.1f}, preprocessing {:.1f}, inference {:.1f}, writing {:.1f}",
        stats.frames, stats.decode_seconds, stats.preprocess_seconds,
        stats.inference_seconds, stats.output_seconds);
  }
  if (interrupt.interrupted()) return kExitInterrupted;
  // Nothing to do is no failure (a shard may hold no input), but is said.
  if (stats.ok + stats.failed == 0) {
    spdlog::warn("{}", nothing_to_do(settings, scanner.counts()));
  }
  return stats.failed > 0 ? kExitInputFailed : kExitOk;
}

namespace {

// --every, --start, --end, --request-timeout, --video-summary.
VideoJob video_job(const OptionValues& values) {
  VideoJob video;
  video.sample = parse_every(values.every);
  if (!values.start.empty()) {
    video.sample.start_us = parse_video_time(values.start, "--start");
  }
  if (!values.end.empty()) {
    video.sample.end_us = parse_video_time(values.end, "--end");
    if (*video.sample.end_us <= video.sample.start_us.value_or(0)) {
      throw Error(ErrorKind::kUsage, "--end must be after --start");
    }
  }
  video.open.open_timeout_ms = values.request_timeout_s * 1000;
  video.open.read_timeout_ms = values.request_timeout_s * 1000;
  if (values.video_summary && values.no_video_summary) {
    throw Error(ErrorKind::kUsage,
                "give --video-summary or --no-video-summary, not both");
  }
  const bool embedding = values.output_type == OutputType::kEmbedding;
  if (values.video_summary && embedding) {
    throw Error(ErrorKind::kUsage,
                "--video-summary needs --output-type prob or logit");
  }
  video.summary =
      !embedding && !values.no_video_summary &&
      (values.video_summary || values.format == OutputFormat::kText);
  return video;
}

ClassifySettings classify_settings(const OptionValues& values, int verbosity) {
  if (values.inputs.empty() && values.files_from.empty()) {
    throw Error(ErrorKind::kUsage,
                "classify: give images, videos, folders or --files-from FILE");
  }
  ClassifySettings classify;
  fill_session(classify, values, verbosity);
  classify.input = input_options(values, values.inputs);
  classify.input.videos = true;
  classify.resume = values.resume;
  classify.topk = values.topk;
  classify.topk_given = values.topk_given;
  classify.output_type = values.output_type;
  classify.format = values.format;
  classify.output_file = values.output_file;
  classify.decode = decode_options(values);
  classify.progress = values.progress;
  classify.color = values.color;
  classify.explain_dir = values.explain_dir;
  classify.explain_topk =
      values.explain_topk > 0
          ? values.explain_topk
          : (values.explain || !values.explain_dir.empty() ? 1 : 0);
  if (classify.explain_topk > 0 &&
      classify.output_type == OutputType::kEmbedding) {
    throw Error(ErrorKind::kUsage,
                "--explain needs --output-type prob or logit (an embedding "
                "has no class to explain)");
  }
  classify.video = video_job(values);
  return classify;
}

}  // namespace

const CommandSpec kClassifyCommand{
    Command::kClassify,
    "classify",
    "Classify images and videos; prints the top-k ImageNet classes of each "
    "image and sampled frame",
    kOnClassify,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("inputs", values.inputs,
                     "Image and video files, folders (scanned recursively) "
                     "and stream URLs; '-' reads one image from stdin")
          ->type_name("PATH");
    },
    [](Settings& settings, const OptionValues& values) {
      settings.classify = classify_settings(values, settings.verbosity);
    },
    [](const Settings& settings, std::ostream& out) {
      return run_classify(settings.classify, out);
    }};

}  // namespace resnet_cli::cli
