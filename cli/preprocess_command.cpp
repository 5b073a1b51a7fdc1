// preprocess: one image's model input (and crop) exactly as torchvision
// computes it, for comparison with Python.
#include <CLI/CLI.hpp>
#include <vector>

#include "command_registry.h"
#include "commands.h"
#include "image/decode.h"
#include "image/npy.h"
#include "option_table.h"
#include "run/image_step.h"
#include "settings.h"
#include "weights/registry.h"

namespace resnet_cli::cli {

ExitCode run_preprocess(const PreprocessSettings& settings) {
  const WeightsInfo& weights = find_weights(settings.weights, settings.arch);
  const TransformSpec spec =
      apply_overrides(weights.transforms, settings.transform);
  const RgbImage crop =
      crop_input(InputBytes{settings.input}, settings.decode, spec);
  if (!settings.npy_output.empty()) {
    std::vector<float> chw(3 * static_cast<std::size_t>(crop.width) *
                           crop.height);
    crop_to_model_input(crop, spec, chw.data());
    write_npy_float32(settings.npy_output, {1, 3, crop.height, crop.width},
                      chw.data());
  }
  if (!settings.png_output.empty()) write_png(crop, settings.png_output);
  return kExitOk;
}

namespace {

PreprocessSettings preprocess_settings(const OptionValues& values) {
  if (values.npy_output.empty() && values.png_output.empty()) {
    throw Error(ErrorKind::kUsage,
                "preprocess: give -o FILE.npy and/or --png FILE.png");
  }
  find_weights(values.weights, values.arch.value_or(""));
  PreprocessSettings preprocess;
  preprocess.input = values.inputs.front();
  preprocess.weights = values.weights;
  preprocess.arch = values.arch.value_or("");
  preprocess.transform = transform_overrides(values);
  preprocess.decode = decode_options(values);
  preprocess.npy_output = values.npy_output;
  preprocess.png_output = values.png_output;
  return preprocess;
}

}  // namespace

const CommandSpec kPreprocessCommand{
    Command::kPreprocess,
    "preprocess",
    "Write one image's model input exactly as torchvision computes it",
    kOnPreprocess,
    [](CLI::App& app, OptionValues& values) {
      app.add_option("input", values.inputs, "Image file, or '-'")
          ->type_name("FILE")
          ->required()
          ->expected(1);
    },
    [](Settings& settings, const OptionValues& values) {
      settings.preprocess = preprocess_settings(values);
    },
    [](const Settings& settings, std::ostream&) {
      return run_preprocess(settings.preprocess);
    }};

}  // namespace resnet_cli::cli
