// The model side linked into the binary (RESNET_CLI_MODEL_MODULE=OFF).
#include "model/model_entry.h"
#include "model/model_loader.h"

namespace resnet_cli {

std::unique_ptr<Model> load_model(const std::filesystem::path& checkpoint,
                                  const ModelOptions& options) {
  return detail::load_model_from_checkpoint(checkpoint, options);
}

std::unique_ptr<Trainer> load_trainer(const std::filesystem::path& checkpoint,
                                      const TrainerOptions& options) {
  return detail::load_trainer_from_checkpoint(checkpoint, options);
}

std::unique_ptr<Calibrator> load_calibrator(
    const std::filesystem::path& checkpoint, const CalibratorOptions& options) {
  return detail::load_calibrator_from_checkpoint(checkpoint, options);
}

void start_loading_model_module() {}

void wait_for_model_module() {}

bool model_module_started() { return false; }

ModelModuleStatus model_module_status() { return {}; }

}  // namespace resnet_cli
