// evaluate: a labelled ImageFolder tree through classify's pipeline; prints
// accuracy, per-class precision and recall, and the confusion matrix.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <ostream>

#include "base/error.h"
#include "command_registry.h"
#include "commands.h"
#include "model/model_loader.h"
#include "option_table.h"
#include "output_destination.h"
#include "run/explain.h"
#include "run/overlay_files.h"
#include "run/session.h"
#include "settings.h"
#include "signals.h"
#include "terminal.h"
#include "train/evaluation.h"

namespace resnet_cli::cli {

namespace {

void write_result(const EvaluationResult& result, OutputFormat format,
                  std::ostream& out) {
  switch (format) {
    case OutputFormat::kJson:
      write_evaluation_json(result, out);
      break;
    case OutputFormat::kCsv:
      write_evaluation_csv(result, out);
      break;
    default:
      write_evaluation_text(result, out);
      break;
  }
}

// The model's class names; a model without names (not ImageNet's, no
// --labels) is named by its folders, which are its classes in order.
std::vector<std::string> class_labels(
    const Session& session, const std::vector<DatasetClass>& classes) {
  if (!session.labels().empty()) return session.labels();
  std::vector<std::string> names;
  for (const DatasetClass& c : classes) names.push_back(c.name);
  return names;
}

// Where --explain-errors' maps go, checked before the model loads: the
// overlay folder made, or a warning when the output format shows none.
void prepare_explain_output(const EvaluateSettings& settings) {
  if (!settings.explain_dir.empty()) {
    prepare_overlay_folder(settings.explain_dir);
  } else if (settings.explain_errors &&
             settings.format != OutputFormat::kJson) {
    spdlog::warn(
        "--explain-errors: the maps go to --format json's output (or, with "
        "--explain-dir, to overlay files); --format {} shows none",
        enum_name(settings.format));
  }
}

}  // namespace

ExitCode run_evaluate(const EvaluateSettings& settings, std::ostream& out) {
  start_loading_model_module();
  // Mistakes in the outputs cost no time: both are opened first.
  OutputDestination destination(out, settings.output_file);
  std::unique_ptr<AtomicFile> misclassified;
  if (!settings.misclassified_file.empty()) {
    misclassified = std::make_unique<AtomicFile>(settings.misclassified_file);
  }
  prepare_explain_output(settings);
  const Session session(settings);
  const std::int64_t num_classes = session.model().num_classes();
  const bool imagenet_labels =
      settings.labels_file.empty() && !session.labels().empty();
  std::vector<DatasetClass> classes = image_folder_classes(
      settings.data, session.labels(), imagenet_labels, num_classes);
  const std::vector<std::string> labels = class_labels(session, classes);

  InputOptions input = settings.input;
  input.paths.clear();
  for (const DatasetClass& c : classes) input.paths.push_back(c.folder);
  const int topk = static_cast<int>(std::min<std::int64_t>(5, num_classes));
  ClassifyJob job =
      session.job(OutputType::kProbability, topk, settings.decode);
  job.labels = &labels;

  Evaluation evaluation(settings.data, std::move(classes), num_classes, topk);
  // Every image's map is computed (which are wrong is known only after the
  // forward pass); the evaluation keeps the misclassified ones'.
  std::optional<Explainer> explainer;
  if (settings.explain_errors) {
    explainer.emplace(session.model(), session.transform(), settings.decode,
                      labels, 1);
    job.explain.explainer = &*explainer;
    job.explain.overlay_folder = settings.explain_dir;
    job.explain.overlay_wanted = [&evaluation](const Record& record) {
      return evaluation.misclassified(record);
    };
  }
  InputScanner scanner(input);
  RunProgress progress(settings.progress,
                       use_color(ColorMode::kAuto, STDERR_FILENO), nullptr);
  GracefulInterrupt interrupt;
  run_pipeline(
      scanner, job, session.plan(false),
      [&](Record&& record) {
        if (record.error) spdlog::warn("{}", record.error->message);
        evaluation.add(record);
        progress.record_done(record.error.has_value());
      },
      interrupt.stop_flag());
  progress.finish(interrupt.interrupted());
  if (interrupt.interrupted()) {
    spdlog::warn(
        "interrupted: nothing written (an evaluation is complete "
        "or not at all)");
    return kExitInterrupted;
  }
  const EvaluationResult result = evaluation.result();
  if (result.images == 0) {
    throw Error(
        ErrorKind::kUsage,
        settings.data + (result.failed > 0
                             ? ": no image could be classified (" +
                                   std::to_string(result.failed) + " failed)"
                             : ": no images in its class folders"));
  }
  write_result(result, settings.format, destination.stream());
  destination.commit();
  if (misclassified) {
    write_misclassified_csv(result, misclassified->stream());
    misclassified->commit();
  }
  return result.failed > 0 ? kExitInputFailed : kExitOk;
}

namespace {

EvaluateSettings evaluate_settings(const OptionValues& values, int verbosity) {
  EvaluateSettings evaluate;
  fill_session(evaluate, values, verbosity);
  evaluate.data = values.inputs.front();
  evaluate.input = input_options(values, {});
  evaluate.format = values.evaluate_format;
  evaluate.output_file = values.output_file;
  evaluate.misclassified_file = values.misclassified_file;
  evaluate.decode = decode_options(values);
  evaluate.progress = values.progress;
  evaluate.explain_dir = values.explain_dir;
  evaluate.explain_errors =
      values.explain_errors || !values.explain_dir.empty();
  return evaluate;
}

}  // namespace

const CommandSpec kEvaluateCommand{
    Command::kEvaluate,
    "evaluate",
    "Accuracy of a model on labelled images laid out as torchvision's "
    "ImageFolder (DATA/<class>/<image>): acc@1, acc@5, per-class precision "
    "and recall, the confusion matrix",
    kOnEvaluate,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("data", values.inputs,
                     "A folder with one sub-folder per class; class i is the "
                     "i-th name in sorted order (ImageNet: folders named by "
                     "WordNet id)")
          ->required()
          ->expected(1);
    },
    [](Settings& settings, const OptionValues& values) {
      settings.evaluate = evaluate_settings(values, settings.verbosity);
    },
    [](const Settings& settings, std::ostream& out) {
      return run_evaluate(settings.evaluate, out);
    }};

}  // namespace resnet_cli::cli
