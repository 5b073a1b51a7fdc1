#include "model/model_entry.h"

#include "weights/checkpoint.h"

namespace resnet_cli::detail {

std::unique_ptr<Model> load_model_from_checkpoint(
    const std::filesystem::path& checkpoint, const ModelOptions& options) {
  // The checkpoint is only needed while the model loads.
  const Checkpoint file(checkpoint);
  return Model::load(file, options);
}

std::unique_ptr<Trainer> load_trainer_from_checkpoint(
    const std::filesystem::path& checkpoint, const TrainerOptions& options) {
  const Checkpoint file(checkpoint);
  return make_trainer(file, options);
}

std::unique_ptr<Calibrator> load_calibrator_from_checkpoint(
    const std::filesystem::path& checkpoint, const CalibratorOptions& options) {
  const Checkpoint file(checkpoint);
  return make_calibrator(file, options);
}

}  // namespace resnet_cli::detail

extern "C" void resnet_cli_model_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::ModelOptions* options,
    std::unique_ptr<resnet_cli::Model>* model) {
  *model =
      resnet_cli::detail::load_model_from_checkpoint(*checkpoint, *options);
}

extern "C" void resnet_cli_trainer_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::TrainerOptions* options,
    std::unique_ptr<resnet_cli::Trainer>* trainer) {
  *trainer =
      resnet_cli::detail::load_trainer_from_checkpoint(*checkpoint, *options);
}

extern "C" void resnet_cli_calibrator_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::CalibratorOptions* options,
    std::unique_ptr<resnet_cli::Calibrator>* calibrator) {
  *calibrator = resnet_cli::detail::load_calibrator_from_checkpoint(*checkpoint,
                                                                    *options);
}

extern "C" int resnet_cli_model_abi() { return RESNET_CLI_MODEL_ABI; }
