// The model side as a module mapped on first use (RESNET_CLI_MODEL_MODULE=ON).
#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <vector>

#include "base/error.h"
#include "base/module_file.h"
#include "model/model_entry.h"
#include "model/model_loader.h"

namespace resnet_cli {

namespace {

constexpr const char* kModuleName = "libresnet_cli_model.so";

using LoadFunction = decltype(&resnet_cli_model_load);
using TrainerFunction = decltype(&resnet_cli_trainer_load);
using CalibratorFunction = decltype(&resnet_cli_calibrator_load);
using AbiFunction = decltype(&resnet_cli_model_abi);

struct LoadedModule {
  LoadFunction load = nullptr;
  TrainerFunction trainer = nullptr;
  CalibratorFunction calibrator = nullptr;
  std::string error;  // empty when `load` is set
};

LoadedModule open_module() {
  const std::vector<std::filesystem::path> candidates =
      module_candidates(kModuleName);
  const std::optional<std::filesystem::path> path = find_module(candidates);
  if (!path) {
    return {nullptr, nullptr, nullptr,
            "the model module " + std::string(kModuleName) +
                " is missing (looked for " + list_candidates(candidates) +
                "); reinstall resnet-cli, or build it with "
                "-DRESNET_CLI_MODEL_MODULE=OFF"};
  }
  // Never closed: models it made live until the process ends.
  void* handle = ::dlopen(path->c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    return {nullptr, nullptr, nullptr,
            path->string() + ": cannot load the model module: " + ::dlerror()};
  }
  const auto abi =
      reinterpret_cast<AbiFunction>(::dlsym(handle, "resnet_cli_model_abi"));
  const auto load =
      reinterpret_cast<LoadFunction>(::dlsym(handle, "resnet_cli_model_load"));
  const auto trainer = reinterpret_cast<TrainerFunction>(
      ::dlsym(handle, "resnet_cli_trainer_load"));
  const auto calibrator = reinterpret_cast<CalibratorFunction>(
      ::dlsym(handle, "resnet_cli_calibrator_load"));
  if (!abi || !load || !trainer || !calibrator ||
      abi() != RESNET_CLI_MODEL_ABI) {
    return {nullptr, nullptr, nullptr,
            path->string() +
                ": not the model module of this resnet-cli build "
                "(reinstall resnet-cli)"};
  }
  spdlog::debug("model module: {}", path->string());
  return {load, trainer, calibrator, ""};
}

std::once_flag g_started;
std::atomic<bool> g_module_started{false};
std::shared_future<LoadedModule> g_module;

const LoadedModule& module() {
  start_loading_model_module();
  return g_module.get();
}

}  // namespace

void start_loading_model_module() {
  std::call_once(g_started, [] {
    g_module = std::async(std::launch::async, open_module).share();
    g_module_started = true;
  });
}

void wait_for_model_module() {
  if (g_module.valid()) g_module.wait();
}

bool model_module_started() { return g_module_started; }

std::unique_ptr<Model> load_model(const std::filesystem::path& checkpoint,
                                  const ModelOptions& options) {
  const LoadedModule& loaded = module();
  if (!loaded.load) throw Error(ErrorKind::kModel, loaded.error);
  std::unique_ptr<Model> model;
  loaded.load(&checkpoint, &options, &model);
  return model;
}

std::unique_ptr<Trainer> load_trainer(const std::filesystem::path& checkpoint,
                                      const TrainerOptions& options) {
  const LoadedModule& loaded = module();
  if (!loaded.trainer) throw Error(ErrorKind::kModel, loaded.error);
  std::unique_ptr<Trainer> trainer;
  loaded.trainer(&checkpoint, &options, &trainer);
  return trainer;
}

std::unique_ptr<Calibrator> load_calibrator(
    const std::filesystem::path& checkpoint, const CalibratorOptions& options) {
  const LoadedModule& loaded = module();
  if (!loaded.calibrator) throw Error(ErrorKind::kModel, loaded.error);
  std::unique_ptr<Calibrator> calibrator;
  loaded.calibrator(&checkpoint, &options, &calibrator);
  return calibrator;
}

ModelModuleStatus model_module_status() {
  const std::vector<std::filesystem::path> candidates =
      module_candidates(kModuleName);
  const std::optional<std::filesystem::path> path = find_module(candidates);
  ModelModuleStatus status;
  status.is_module = true;
  status.found = path.has_value();
  status.path = (path ? *path : candidates.front()).string();
  return status;
}

}  // namespace resnet_cli
