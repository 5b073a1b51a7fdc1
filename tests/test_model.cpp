// Model parity: for the same input tensor, torchvision's logits.
#include <catch2/catch.hpp>
#include <functional>

#include "base/error.h"
#include "model/model.h"
#include "test_support.h"
#include "weights/checkpoint.h"

using namespace resnet_cli;
using testing::checkpoint_fixture;
using testing::fixture;
using testing::load_npy;

namespace {

// Issue #2's bound: logits within 1e-4 of torchvision's, relative to the
// largest |logit|.
constexpr double kLogitBound = 1e-4;

std::string base_name(const nlohmann::json& image) {
  return std::filesystem::path(image.at("file").get<std::string>())
      .filename()
      .string();
}

// One thread: ctest runs tests side by side, and OpenMP teams sharing cores
// stall at their barriers.
ModelOptions one_thread() {
  ModelOptions options;
  options.threads = 1;
  return options;
}

std::unique_ptr<Model> load(const std::string& key,
                            ModelOptions options = one_thread()) {
  const Checkpoint checkpoint(checkpoint_fixture(key));
  return Model::load(checkpoint, options);
}

std::vector<float> logits_of(Model& model, const std::vector<float>& input,
                             std::int64_t batch) {
  std::vector<float> logits(
      static_cast<std::size_t>(batch * model.num_classes()));
  model.forward(input.data(), batch, 224, 224, logits.data());
  return logits;
}

// Calls `check(input, expected_logits)` for every test image and both
// weights' transforms, with the image named in the test's messages.
void for_each_reference(
    const std::function<void(const std::vector<float>&,
                             const std::vector<float>&)>& check) {
  for (const auto& image : testing::manifest().at("images")) {
    const std::string name = base_name(image);
    for (const std::string variant : {"v1", "v2"}) {
      INFO(name << " " << variant);
      const std::string stem = "ref/" + name + "." + variant;
      check(load_npy(fixture(stem + ".tensor.npy")).floats(),
            load_npy(fixture(stem + ".logits.npy")).floats());
    }
  }
}

}  // namespace

TEST_CASE("logits match torchvision's for the same input", "[model][oracle]") {
  ModelOptions options = one_thread();
  SECTION("optimized: BatchNorm folded, oneDNN's blocked layout") {
    options.engine = Engine::kOptimized;
  }
  SECTION("reference: convolution then BatchNorm, as torchvision") {
    options.engine = Engine::kReference;
  }
  auto model = load("zip", options);
  REQUIRE(model->num_classes() == 1000);
  for_each_reference(
      [&](const std::vector<float>& input, const std::vector<float>& expected) {
        const testing::Difference difference =
            testing::compare(logits_of(*model, input, 1), expected);
        INFO("max |difference| " << difference.max_abs << ", max |logit| "
                                 << difference.max_reference);
        CHECK(difference.relative() <= kLogitBound);
      });
}

TEST_CASE("batches give each image's own logits", "[model][oracle]") {
  auto model = load("zip");
  const auto& images = testing::manifest().at("images");
  std::vector<float> batch;
  std::vector<float> expected;
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string name = base_name(images[i]);
    const auto input =
        load_npy(fixture("ref/" + name + ".v2.tensor.npy")).floats();
    const auto logits =
        load_npy(fixture("ref/" + name + ".v2.logits.npy")).floats();
    batch.insert(batch.end(), input.begin(), input.end());
    expected.insert(expected.end(), logits.begin(), logits.end());
  }
  const auto actual = logits_of(*model, batch, 5);
  for (std::size_t i = 0; i < 5; ++i) {
    INFO("image " << i);
    const std::vector<float> row(
        actual.begin() + static_cast<long>(i * 1000),
        actual.begin() + static_cast<long>((i + 1) * 1000));
    const std::vector<float> want(
        expected.begin() + static_cast<long>(i * 1000),
        expected.begin() + static_cast<long>((i + 1) * 1000));
    CHECK(testing::compare(row, want).relative() <= kLogitBound);
  }
}

TEST_CASE("pooled features match torchvision's", "[model][oracle]") {
  auto model = load("zip");
  CHECK(model->architecture() == "resnet50");
  REQUIRE(model->feature_size() == 2048);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string name = base_name(testing::manifest().at("images")[i]);
    const auto input =
        load_npy(fixture("ref/" + name + ".v2.tensor.npy")).floats();
    const auto expected =
        load_npy(fixture("ref/" + name + ".v2.features.npy")).floats();
    std::vector<float> features(2048);
    model->features(input.data(), 1, 224, 224, features.data());
    CHECK(testing::compare(features, expected).relative() <= kLogitBound);
  }
}

TEST_CASE("every checkpoint format gives the same model", "[model][oracle]") {
  const std::string name = base_name(testing::manifest().at("images")[0]);
  const auto input =
      load_npy(fixture("ref/" + name + ".v2.tensor.npy")).floats();
  const auto expected =
      load_npy(fixture("ref/" + name + ".v2.logits.npy")).floats();
  for (const std::string key : {"legacy", "wrapped"}) {
    INFO(key);
    auto model = load(key);
    CHECK(testing::compare(logits_of(*model, input, 1), expected).relative() <=
          kLogitBound);
  }
  SECTION("float16 weights, widened to float32 as load_state_dict does") {
    auto model = load("half");
    const auto half_expected =
        load_npy(fixture("ref/half.logits.npy")).floats();
    CHECK(testing::compare(logits_of(*model, input, 1), half_expected)
              .relative() <= kLogitBound);
  }
  SECTION("a fine-tuned 10-class head") {
    auto model = load("ten_classes");
    REQUIRE(model->num_classes() == 10);
    const auto ten_expected =
        load_npy(fixture("ref/ten_classes.logits.npy")).floats();
    CHECK(testing::compare(logits_of(*model, input, 1), ten_expected)
              .relative() <= kLogitBound);
  }
}

TEST_CASE("one thread gives the same logits", "[model][oracle]") {
  ModelOptions options;
  options.threads = 1;
  auto model = load("zip", options);
  const std::string name = base_name(testing::manifest().at("images")[3]);
  const auto input =
      load_npy(fixture("ref/" + name + ".v2.tensor.npy")).floats();
  const auto expected =
      load_npy(fixture("ref/" + name + ".v2.logits.npy")).floats();
  CHECK(testing::compare(logits_of(*model, input, 1), expected).relative() <=
        kLogitBound);
}

TEST_CASE("devices this build cannot use are a clear error",
          "[model][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("zip"));
  ModelOptions options;
  options.device = "tpu";
  CHECK_THROWS_MATCHES(Model::load(checkpoint, options), Error,
                       Catch::Predicate<Error>([](const Error& e) {
                         return e.kind() == ErrorKind::kUsage;
                       }));
#ifdef RESNET_CLI_TORCH_HAS_CUDA
  options.device = "cuda:99";
  CHECK_THROWS_WITH(Model::load(checkpoint, options),
                    Catch::Contains("CUDA device(s) visible"));
#else
  options.device = "cuda";
  CHECK_THROWS_WITH(
      Model::load(checkpoint, options),
      Catch::Contains("this build of resnet-cli has no CUDA support"));
#endif
  // fp16 is a CUDA precision: on the CPU it is one clear device error.
  options.device = "cpu";
  options.precision = Precision::kFloat16;
  CHECK_THROWS_MATCHES(Model::load(checkpoint, options), Error,
                       Catch::Predicate<Error>([](const Error& e) {
                         return e.kind() == ErrorKind::kDevice &&
                                std::string(e.what()).find(
                                    "--precision fp16 runs on CUDA only") !=
                                    std::string::npos;
                       }));
}

TEST_CASE("bf16 stays close to fp32, or is refused where the CPU lacks it",
          "[model][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("zip"));
  ModelOptions options = one_thread();
  options.precision = Precision::kBFloat16;
  if (!cpu_has_native_bf16()) {
    CHECK_THROWS_WITH(Model::load(checkpoint, options),
                      Catch::Contains("no native bf16"));
    return;
  }
  auto bf16 = Model::load(checkpoint, options);
  // The stated bound: 5% of the largest |logit| on this fixture, a random
  // network that amplifies rounding more than a trained one (measured: 4.5%
  // at worst over 68 inputs, the same top-1 class on 65).
  std::size_t same_top1 = 0;
  std::size_t inputs = 0;
  for_each_reference([&](const std::vector<float>& input,
                         const std::vector<float>& expected) {
    const auto logits = logits_of(*bf16, input, 1);
    CHECK(testing::compare(logits, expected).relative() <= 0.05);
    const bool same =
        std::max_element(logits.begin(), logits.end()) - logits.begin() ==
        std::max_element(expected.begin(), expected.end()) - expected.begin();
    same_top1 += same ? 1 : 0;
    ++inputs;
  });
  CHECK(same_top1 * 10 >= inputs * 9);
}
