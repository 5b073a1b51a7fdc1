// The model side (LibTorch, the checkpoint reader's tensors, the network)
// behind one call, so that everything else can run without it.
//
// In the default build (RESNET_CLI_MODEL_MODULE=ON) the model side is a
// module, libresnet_cli_model.so, installed beside the binary's lib folder
// and mapped on first use: commands that never run a model never load
// LibTorch (whose static initialisation alone costs about half a second).
// With RESNET_CLI_MODEL_MODULE=OFF it is linked in, and these calls are
// direct.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "model/calibrator.h"
#include "model/model.h"
#include "model/trainer.h"

namespace resnet_cli {

// Reads `checkpoint` and builds the model it holds, ready to run. Throws
// Error(kCheckpoint), Error(kDevice) as Model::load does, and Error(kModel)
// naming the module's path when the module is missing or cannot be loaded.
std::unique_ptr<Model> load_model(const std::filesystem::path& checkpoint,
                                  const ModelOptions& options);

// Reads `checkpoint` and builds the trainable network (trainer.h). Throws
// as load_model does.
std::unique_ptr<Trainer> load_trainer(const std::filesystem::path& checkpoint,
                                      const TrainerOptions& options);

// Reads `checkpoint` (a float one) and builds the calibrator of
// calibrator.h. Throws as load_model does, Error(kUsage) for a checkpoint
// that is already quantized.
std::unique_ptr<Calibrator> load_calibrator(
    const std::filesystem::path& checkpoint, const CalibratorOptions& options);

// Starts mapping the module (and so LibTorch's initialisation) on a thread
// of its own, so that it overlaps the caller's other work; load_model waits
// for it. Does nothing when the model side is linked in or already loading.
void start_loading_model_module();

// Blocks until a load that start_loading_model_module() began has finished.
// Call it before the process exits: exiting while another thread is still
// in LibTorch's static initialisation runs destructors under it and crashes.
void wait_for_model_module();

// True once start_loading_model_module() has begun mapping the module (never
// in the linked-in build). The module's static destructors then cost tens of
// milliseconds at exit and may not run while it is still initialising, so
// the binary leaves with std::_Exit (see cli/main.cpp).
bool model_module_started();

struct ModelModuleStatus {
  bool is_module = false;  // false: linked into the binary
  std::string path;        // where the module is looked for first
  bool found = false;      // a file is there (not loaded to find out)
};

// Where the module is, without loading it (for --version).
ModelModuleStatus model_module_status();

}  // namespace resnet_cli
