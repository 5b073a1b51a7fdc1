// The functions the model module exports (internal). Both the module and
// the statically linked build compile model_entry.cpp.
// Changing TrainerOptions, Trainer, ModelOptions, Model, CalibratorOptions,
// Calibrator or ConvertedModel bumps the ABI.
#pragma once

#include <filesystem>
#include <memory>

#include "model/calibrator.h"
#include "model/model.h"
#include "model/trainer.h"

namespace resnet_cli::detail {

// Checkpoint(path) and Model::load.
std::unique_ptr<Model> load_model_from_checkpoint(
    const std::filesystem::path& checkpoint, const ModelOptions& options);

// The trainable network of trainer.cpp, from an open checkpoint.
std::unique_ptr<Trainer> make_trainer(const Checkpoint& checkpoint,
                                      const TrainerOptions& options);

// Checkpoint(path) and make_trainer.
std::unique_ptr<Trainer> load_trainer_from_checkpoint(
    const std::filesystem::path& checkpoint, const TrainerOptions& options);

// calibrator.cpp's calibrator, from an open checkpoint.
std::unique_ptr<Calibrator> make_calibrator(const Checkpoint& checkpoint,
                                            const CalibratorOptions& options);

// Checkpoint(path) and make_calibrator.
std::unique_ptr<Calibrator> load_calibrator_from_checkpoint(
    const std::filesystem::path& checkpoint, const CalibratorOptions& options);

}  // namespace resnet_cli::detail

// The module's entry point, looked up with dlsym. Same signature as
// load_model_from_checkpoint; C linkage for a stable symbol name.
extern "C" void resnet_cli_model_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::ModelOptions* options,
    std::unique_ptr<resnet_cli::Model>* model);

// The same for load_trainer_from_checkpoint.
extern "C" void resnet_cli_trainer_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::TrainerOptions* options,
    std::unique_ptr<resnet_cli::Trainer>* trainer);

// The same for load_calibrator_from_checkpoint.
extern "C" void resnet_cli_calibrator_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::CalibratorOptions* options,
    std::unique_ptr<resnet_cli::Calibrator>* calibrator);

// Bumped whenever the entry's signature or the Model interface changes, so
// that a stale module is refused with a clear message, not a crash (2: the
// trainer's entry; 5: open_batch_queue, ModelOptions::tf32, the trainer's
// device; 6: feature maps and the classifier's weight for explain; 7: the
// calibrator's, Precision::kInt8 and Model::precision).
#define RESNET_CLI_MODEL_ABI 7
extern "C" int resnet_cli_model_abi();
