// The int8 network against the oracle: torchvision's quantizable networks,
// fused, calibrated and converted by PyTorch itself on the onednn engine
// (tests/oracle/make_int8_fixture.py). resnet-cli's --precision int8 gives
// Python's logits, byte for byte (issue 23, acceptance 1); the six quantized
// registry entries carry torchvision's meta and load a file of their format,
// and broken or hostile quantized files are refused with one line, exit 3
// (acceptance 3).
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "weights/registry.h"

using namespace resnet_cli::testing;

namespace {

std::filesystem::path int8_fixture(const std::string& relative) {
  return std::filesystem::path(RESNET_CLI_INT8_FIXTURE_DIR) / relative;
}

const nlohmann::json& int8_manifest() {
  static const nlohmann::json json =
      nlohmann::json::parse(read_file(int8_fixture("manifest.json")));
  return json;
}

nlohmann::json network(const std::string& name) {
  return nlohmann::json::parse(read_file(int8_fixture(name + ".json")));
}

// The fixture's test images, as the int8 fixture lists them.
std::vector<std::string> image_paths(const nlohmann::json& info) {
  std::vector<std::string> paths;
  for (const auto& image : info.at("images")) {
    paths.push_back(fixture(image.get<std::string>()).string());
  }
  return paths;
}

std::vector<float> logits_of(const nlohmann::json& record,
                             std::size_t classes) {
  std::vector<float> logits(classes, 0.0f);
  std::size_t seen = 0;
  for (const auto& prediction : record.at("predictions")) {
    logits.at(prediction.at("index").get<std::size_t>()) =
        prediction.at("score").get<float>();
    ++seen;
  }
  REQUIRE(seen == classes);
  return logits;
}

std::size_t argmax(const float* values, std::size_t count) {
  return static_cast<std::size_t>(std::max_element(values, values + count) -
                                  values);
}

// classify --output-type logit of every test image; checks the records
// against the network's Python logits: each within one output step (the
// fc's scale), top-1 the same, and in fact every logit identical.
void check_logits(const std::string& name, std::vector<std::string> args,
                  const std::map<std::string, std::string>& env) {
  const nlohmann::json info = network(name);
  const NpyArray expected = load_npy(int8_fixture(info.at("logits")));
  REQUIRE(expected.shape.size() == 2);
  const auto rows = static_cast<std::size_t>(expected.shape[0]);
  const auto classes = static_cast<std::size_t>(expected.shape[1]);
  const std::vector<float> reference = expected.floats();
  const std::vector<std::string> images = image_paths(info);
  REQUIRE(images.size() == rows);
  args.insert(args.begin(), {"classify", "--output-type", "logit", "--topk",
                             std::to_string(classes), "--format", "json"});
  args.insert(args.end(), images.begin(), images.end());
  const CommandResult run = run_cli(args, env);
  INFO(name << ": " << run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json records = nlohmann::json::parse(run.out);
  REQUIRE(records.size() == rows);
  const double step = info.at("fc_scale").get<double>();
  for (std::size_t i = 0; i < rows; ++i) {
    INFO(name << " " << images[i]);
    CHECK(records[i].at("path") == images[i]);
    const std::vector<float> logits = logits_of(records[i], classes);
    const float* row = reference.data() + i * classes;
    double worst = 0;
    std::size_t identical = 0;
    for (std::size_t c = 0; c < classes; ++c) {
      worst =
          std::max(worst, std::abs(static_cast<double>(logits[c]) - row[c]));
      identical += logits[c] == row[c];
    }
    CHECK(worst <= step);
    CHECK(argmax(logits.data(), classes) == argmax(row, classes));
    CHECK(identical == classes);
  }
}

std::vector<std::string> file_args(const std::string& name) {
  const nlohmann::json info = network(name);
  return {"--weights-file",
          int8_fixture(info.at("checkpoint").get<std::string>()).string(),
          "--arch",
          info.at("arch").get<std::string>(),
          "--precision",
          "int8"};
}

std::map<std::string, std::string> int8_env() {
  std::map<std::string, std::string> env = fixture_env();
  env["TORCH_HOME"] = int8_fixture("torch_home").string();
  return env;
}

}  // namespace

TEST_CASE("classify gives Python's logits for every test image", "[int8]") {
  // ResNet50 and ResNet18 (issue 23's acceptance 1), grouped convolutions
  // (ResNeXt50), and the registry's fbgemm qconfig (activations in 0..127).
  for (const char* name : {"resnet50_int8", "resnet18_int8", "resnext50_int8",
                           "resnet50_fbgemm"}) {
    check_logits(name, file_args(name), fixture_env());
  }
}

TEST_CASE("the answer does not depend on threads, workers or batches",
          "[int8]") {
  std::vector<std::string> args = file_args("resnet18_int8");
  for (const std::vector<std::string>& plan :
       {std::vector<std::string>{"--threads", "2", "--workers", "1", "-b", "5"},
        std::vector<std::string>{"--threads", "1", "-b", "1"}}) {
    std::vector<std::string> with_plan = args;
    with_plan.insert(with_plan.end(), plan.begin(), plan.end());
    check_logits("resnet18_int8", with_plan, fixture_env());
  }
}

TEST_CASE("a quantized registry entry loads a file of its format", "[int8]") {
  // The hub cache holds the fbgemm-format ResNet50 under both ResNet50
  // quantized entries' names, and the ResNet18 one under its entry's.
  check_logits("resnet50_fbgemm",
               {"--weights", "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2"},
               int8_env());
  check_logits("resnet18_fbgemm",
               {"--weights", "resnet18_quantizedweights.default"}, int8_env());
  // --precision int8 with a float entry runs its quantized counterpart, with
  // the float entry's transforms (V2's: resize 232).
  check_logits("resnet50_fbgemm", {"--precision", "int8"}, int8_env());
}

TEST_CASE("the quantized entries carry torchvision's meta", "[int8]") {
  const nlohmann::json& meta = int8_manifest().at("weights");
  REQUIRE(meta.size() == 6);
  for (const auto& [name, expected] : meta.items()) {
    INFO(name);
    const resnet_cli::WeightsInfo& weights = resnet_cli::find_weights(name);
    CHECK(weights.quantized());
    CHECK(expected.at("url") == weights.url);
    CHECK(expected.at("backend") == weights.backend);
    CHECK(expected.at("unquantized") == weights.unquantized);
    CHECK(expected.at("num_params") == weights.num_params);
    CHECK(expected.at("acc@1").get<double>() == Approx(weights.acc1));
    CHECK(expected.at("acc@5").get<double>() == Approx(weights.acc5));
    CHECK(expected.at("recipe") == weights.recipe);
    CHECK(expected.at("resize_size") == weights.transforms.resize_size);
    CHECK(expected.at("crop_size") == weights.transforms.crop_size);
    CHECK(expected.at("default").get<bool>() ==
          (weights.aliases == std::vector<std::string>{"DEFAULT"}));
  }
  // weights list and info show them with that meta.
  const CommandResult list = run_cli({"weights", "list"}, int8_env());
  REQUIRE(list.exit_code == 0);
  for (const auto& [name, expected] : meta.items()) {
    CHECK_THAT(list.out, Catch::Contains(name));
  }
  const CommandResult info = run_cli(
      {"weights", "info", "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2",
       "--format", "json"},
      int8_env());
  REQUIRE(info.exit_code == 0);
  const nlohmann::json shown = nlohmann::json::parse(info.out);
  CHECK(shown.at("backend") == "fbgemm");
  CHECK(shown.at("unquantized") == "ResNet50_Weights.IMAGENET1K_V2");
  CHECK(shown.at("cached") == true);
  CHECK(shown.at("url") ==
        "https://download.pytorch.org/models/quantized/"
        "resnet50_fbgemm-23753f79.pth");
}

TEST_CASE("broken and hostile quantized checkpoints exit 3, one line",
          "[int8]") {
  const nlohmann::json& hostile = int8_manifest().at("hostile");
  const auto marker = int8_fixture(hostile.at("evil_marker"));
  const std::map<std::string, std::string> reasons = {
      {"asymmetric_weights", "zero point"},
      {"unsigned_weights", "quint8"},
      // torch.save writes float qparams as per_channel_affine (its
      // _reduce_ex_internal does): a quint8 weight.
      {"float_qparams", "is quint8"},
      {"float16_linear", "float16"},
      {"unknown_qscheme", "refusing global"},
      {"code_in_qparams", "refusing global 'os.system'"},
      {"quantized_float_storage", "not a quantized one"},
      {"axis_out_of_range", "axis 7"},
      {"wrong_shape", "shape mismatch"},
      {"zero_scale", "not a positive scale"},
      {"zero_point_out_of_range", "outside quint8"},
      {"missing_key", "missing keys: layer2.0.add_relu.scale"},
      {"evil_packed_params", "refusing global"},
  };
  for (const auto& [name, file] : hostile.items()) {
    if (name == "evil_marker") continue;
    INFO(name);
    const auto path = int8_fixture(file.get<std::string>());
    const CommandResult run =
        run_cli({"classify", fixture("images/photo_500x375.jpg").string(),
                 "--weights-file", path.string(), "--arch", "resnet18"},
                fixture_env());
    INFO(run.err);
    CHECK(run.exit_code == 3);
    CHECK(run.out.empty());
    CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
    CHECK_THAT(run.err, Catch::Contains(path.string()));
    REQUIRE(reasons.count(name) == 1);
    CHECK_THAT(run.err, Catch::Contains(reasons.at(name)));
  }
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("precisions and checkpoints that do not go together", "[int8]") {
  const std::string image = fixture("images/photo_500x375.jpg").string();
  SECTION("a float checkpoint with --precision int8") {
    const CommandResult run =
        run_cli({"classify", image, "--precision", "int8", "--weights-file",
                 checkpoint_fixture("zip").string()},
                fixture_env());
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::Contains("resnet-cli quantize"));
  }
  SECTION("a float entry torchvision has no quantized weights for") {
    const CommandResult run = run_cli(
        {"classify", image, "--precision", "int8", "--arch", "resnet34"},
        int8_env());
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::Contains("ResNet34_Weights.IMAGENET1K_V1"));
  }
  SECTION("a quantized checkpoint with --precision bf16") {
    std::vector<std::string> args = file_args("resnet18_int8");
    args.back() = "bf16";
    args.insert(args.begin(), {"classify", image});
    const CommandResult run = run_cli(args, fixture_env());
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::Contains("is quantized (int8)"));
  }
}

TEST_CASE("bench runs the quantized network", "[int8]") {
  std::vector<std::string> args = file_args("resnet18_int8");
  args.insert(args.begin(), {"bench", "--iterations", "2", "--warmup", "1",
                             "--format", "json"});
  const CommandResult run = run_cli(args, fixture_env());
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json report = nlohmann::json::parse(run.out);
  CHECK(report.at("precision") == "int8");
  CHECK(report.at("forward").at("images_per_second").get<double>() > 0);
}
