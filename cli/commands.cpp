#include "commands.h"

#include "base/error.h"

namespace resnet_cli::cli {

ExitCode run_command(const Settings& settings, std::ostream& out) {
  switch (settings.command) {
    case Command::kClassify:
      return run_classify(settings.classify, out);
    case Command::kBench:
      return run_bench(settings.bench, out);
    case Command::kServe:
      return run_serve(settings.serve);
    case Command::kPreprocess:
      return run_preprocess(settings.preprocess);
    case Command::kMerge:
      return run_merge(settings.merge, out);
    case Command::kTrain:
      return run_train(settings.train);
    case Command::kEvaluate:
      return run_evaluate(settings.evaluate, out);
    case Command::kReport:
      return run_report(settings.report);
    case Command::kWeightsList:
    case Command::kWeightsInfo:
    case Command::kWeightsDownload:
    case Command::kWeightsPath:
    case Command::kWeightsVerify:
      return run_weights(settings.command, settings.weights, out);
    case Command::kNone:
      break;
  }
  throw Error(ErrorKind::kUsage, "no command given (see resnet-cli --help)");
}

}  // namespace resnet_cli::cli
