#include "version.h"

#include <nlohmann/json.hpp>

#include "base/cpu.h"
#include "model/model_loader.h"

#ifndef RESNET_CLI_VERSION
#define RESNET_CLI_VERSION "unknown"
#endif
#ifndef RESNET_CLI_GIT_COMMIT
#define RESNET_CLI_GIT_COMMIT "unknown"
#endif
#ifndef RESNET_CLI_BUILD_TYPE
#define RESNET_CLI_BUILD_TYPE "unknown"
#endif
#ifndef RESNET_CLI_LIBTORCH_VERSION
#define RESNET_CLI_LIBTORCH_VERSION "unknown"
#endif
#ifndef RESNET_CLI_ONEDNN_VERSION
#define RESNET_CLI_ONEDNN_VERSION "unknown"
#endif
#ifndef RESNET_CLI_CUDA_BUILT
#define RESNET_CLI_CUDA_BUILT 0
#endif

namespace resnet_cli::cli {

namespace {

// The facts, in the order the text report lists them.
nlohmann::ordered_json version_facts() {
  const ModelModuleStatus module = model_module_status();
  nlohmann::ordered_json model = {
      {"linkage", module.is_module ? "module" : "linked in"}};
  if (module.is_module) {
    model["path"] = module.path;
    model["found"] = module.found;
  }
  return {
      {"version", RESNET_CLI_VERSION},
      {"commit", RESNET_CLI_GIT_COMMIT},
      {"build_type", RESNET_CLI_BUILD_TYPE},
      {"libtorch", RESNET_CLI_LIBTORCH_VERSION},
      {"onednn", RESNET_CLI_ONEDNN_VERSION},
      // Whether the LibTorch built against has CUDA; whether a GPU answers
      // is only known once LibTorch is loaded (--device cuda says).
      {"cuda_built", RESNET_CLI_CUDA_BUILT != 0},
      {"bf16_native", cpu_has_native_bf16()},
      {"default_threads", available_cores()},
      {"model", model},
  };
}

std::string model_line(const nlohmann::ordered_json& model) {
  if (model["linkage"] == "linked in") return "linked in";
  return "module " + model["path"].get<std::string>() +
         (model["found"].get<bool>()
              ? ""
              : " (missing: classify and bench cannot run)");
}

}  // namespace

std::string version_report(bool json) {
  const nlohmann::ordered_json facts = version_facts();
  if (json) return facts.dump(2) + "\n";
  const auto text = [&facts](const char* key) {
    return facts[key].get<std::string>();
  };
  return "resnet-cli " + text("version") + "\ncommit: " + text("commit") +
         "\nbuild type: " + text("build_type") + "\nLibTorch " +
         text("libtorch") + ", oneDNN " + text("onednn") + "\nCUDA: " +
         (facts["cuda_built"].get<bool>()
              ? "built in (--device cuda checks for a GPU)"
              : "not built (this LibTorch is CPU-only)") +
         "\nbf16: " +
         (facts["bf16_native"].get<bool>()
              ? "native on this CPU (AVX512-BF16): --precision bf16 is faster"
              : "not native on this CPU (no AVX512-BF16): --precision bf16 "
                "refuses to run") +
         "\ndefault threads: " +
         std::to_string(facts["default_threads"].get<int>()) +
         " (the cores available to this process)\nmodel: " +
         model_line(facts["model"]) + "\n";
}

}  // namespace resnet_cli::cli
