// The one function the model module exports (internal). Both the module and
// the statically linked build compile model_entry.cpp.
#pragma once

#include <filesystem>
#include <memory>

#include "resnet_cli/model.h"

namespace resnet_cli::detail {

// Checkpoint(path) and Model::load.
std::unique_ptr<Model> load_model_from_checkpoint(
    const std::filesystem::path& checkpoint, const ModelOptions& options);

}  // namespace resnet_cli::detail

// The module's entry point, looked up with dlsym. Same signature as
// load_model_from_checkpoint; C linkage for a stable symbol name.
extern "C" void resnet_cli_model_load(
    const std::filesystem::path* checkpoint,
    const resnet_cli::ModelOptions* options,
    std::unique_ptr<resnet_cli::Model>* model);

// Bumped whenever the entry's signature or the Model interface changes, so
// that a stale module is refused with a clear message, not a crash.
#define RESNET_CLI_MODEL_ABI 1
extern "C" int resnet_cli_model_abi();
