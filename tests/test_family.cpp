// The ResNet family against torchvision: for each of the ten architectures,
// a checkpoint torchvision wrote, recognized from its keys and shapes, gives
// torchvision's logits for the same inputs on both paths and at batch 1 and
// 3; checkpoints of another architecture, or of none, are refused saying
// what differs.
//
// RESNET_CLI_PARITY_REPORT=1 prints each architecture's measured differences.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>

#include "base/error.h"
#include "model/model.h"
#include "test_support.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"

using namespace resnet_cli;
using testing::fixture;
using testing::load_npy;

namespace {

// Issue 11's bound: logits within 1e-4 of torchvision's, relative to the
// largest |logit|.
constexpr double kLogitBound = 1e-4;

const nlohmann::json& family() { return testing::manifest().at("family"); }

std::filesystem::path family_checkpoint(const std::string& key) {
  return fixture(family().at("checkpoints").at(key).get<std::string>());
}

// One architecture's fixture: its checkpoint, the inputs torchvision was
// fed ([count, 3, height, width]) and its logits and pooled features.
struct ArchFixture {
  explicit ArchFixture(const std::string& arch)
      : entry(family().at("archs").at(arch)),
        checkpoint(fixture(entry.at("checkpoint").get<std::string>())),
        inputs(load_npy(fixture(entry.at("inputs").get<std::string>()))),
        logits(
            load_npy(fixture(entry.at("logits").get<std::string>())).floats()),
        features(load_npy(fixture(entry.at("features").get<std::string>()))
                     .floats()),
        height(entry.at("height").get<std::int64_t>()),
        width(entry.at("width").get<std::int64_t>()) {}

  std::int64_t count() const { return inputs.shape.at(0); }
  std::size_t image_size() const {
    return static_cast<std::size_t>(3 * height * width);
  }
  // Images [first, first + batch) as one batch.
  std::vector<float> batch_of(std::int64_t first, std::int64_t batch) const {
    const std::vector<float> all = inputs.floats();
    const auto begin =
        all.begin() +
        static_cast<long>(static_cast<std::size_t>(first) * image_size());
    return {begin, begin + static_cast<long>(static_cast<std::size_t>(batch) *
                                             image_size())};
  }
  // Row `index` of an [N, per_row] array.
  static std::vector<float> row(const std::vector<float>& all,
                                std::size_t per_row, std::int64_t index) {
    const auto begin =
        all.begin() +
        static_cast<long>(per_row * static_cast<std::size_t>(index));
    return {begin, begin + static_cast<long>(per_row)};
  }

  nlohmann::json entry;
  std::filesystem::path checkpoint;
  testing::NpyArray inputs;
  std::vector<float> logits;    // [count, 1000]
  std::vector<float> features;  // [2, feature_size]
  std::int64_t height;
  std::int64_t width;
};

// One thread: ctest runs tests side by side, and OpenMP teams sharing cores
// stall at their barriers. The architecture is the checkpoint's own.
ModelOptions detecting(Engine path, Precision precision = Precision::kFloat32) {
  ModelOptions options;
  options.threads = 1;
  options.arch = "";
  options.engine = path;
  options.precision = precision;
  return options;
}

// The worst relative logit difference over every image, at `batch` images a
// forward pass (the last batch may be smaller), and how many images have
// torchvision's top-1 class.
struct Agreement {
  double worst = 0;
  std::int64_t same_top1 = 0;
};

Agreement compare_logits(const Model& model, const ArchFixture& f,
                         std::int64_t batch) {
  Agreement agreement;
  const std::size_t classes = static_cast<std::size_t>(model.num_classes());
  for (std::int64_t first = 0; first < f.count(); first += batch) {
    const std::int64_t size = std::min(batch, f.count() - first);
    const std::vector<float> input = f.batch_of(first, size);
    std::vector<float> logits(static_cast<std::size_t>(size) * classes);
    model.forward(input.data(), size, f.height, f.width, logits.data());
    for (std::int64_t i = 0; i < size; ++i) {
      const auto actual = ArchFixture::row(logits, classes, i);
      const auto expected = ArchFixture::row(f.logits, classes, first + i);
      agreement.worst = std::max(agreement.worst,
                                 testing::compare(actual, expected).relative());
      const auto top = [](const std::vector<float>& values) {
        return std::max_element(values.begin(), values.end()) - values.begin();
      };
      agreement.same_top1 += top(actual) == top(expected) ? 1 : 0;
    }
  }
  return agreement;
}

// fc.weight as the checkpoint stores it (float32, contiguous).
std::vector<float> stored_fc_weight(const Checkpoint& checkpoint) {
  const CheckpointTensor* entry = checkpoint.find("fc.weight");
  REQUIRE(entry != nullptr);
  REQUIRE(entry->type == pickle::ScalarType::kFloat32);
  const StorageBytes bytes = checkpoint.read_storage(entry->storage_key);
  const auto* values =
      reinterpret_cast<const float*>(bytes.data) + entry->storage_offset;
  return {values, values + entry->sizes.at(0) * entry->sizes.at(1)};
}

// explain's inputs from the model: forward_with_feature_maps gives
// forward's logits bit for bit, and layer4's maps, whose means over the grid
// are torchvision's pooled features; classifier_weight() is fc.weight as
// stored, whatever layout the path keeps it in.
void check_feature_maps(const Model& model, const Checkpoint& checkpoint,
                        const ArchFixture& f) {
  const std::size_t classes = static_cast<std::size_t>(model.num_classes());
  const std::size_t channels = static_cast<std::size_t>(model.feature_size());
  const auto cells = static_cast<std::size_t>(feature_map_side(f.height) *
                                              feature_map_side(f.width));
  const std::vector<float> input = f.batch_of(0, 2);
  std::vector<float> logits(2 * classes), plain(2 * classes);
  std::vector<float> maps(2 * channels * cells);
  model.forward_with_feature_maps(input.data(), 2, f.height, f.width,
                                  logits.data(), maps.data());
  model.forward(input.data(), 2, f.height, f.width, plain.data());
  CHECK(logits == plain);
  std::vector<float> means(2 * channels);
  for (std::size_t plane = 0; plane < means.size(); ++plane) {
    double sum = 0;
    for (std::size_t i = 0; i < cells; ++i) sum += maps[plane * cells + i];
    means[plane] = static_cast<float>(sum / static_cast<double>(cells));
  }
  CHECK(testing::compare(means, f.features).relative() <= kLogitBound);
  CHECK(model.classifier_weight() == stored_fc_weight(checkpoint));
}

void report(const std::string& arch, const std::string& what, double value) {
  if (std::getenv("RESNET_CLI_PARITY_REPORT")) {
    std::cout << "parity " << arch << " " << what << " " << value << "\n";
  }
}

// Acceptance 1 for one architecture: the checkpoint is recognized, and both
// paths give torchvision's logits (and the optimized path its features) at
// batch 1 and 3, and layer4's maps for explain; bf16 stays near them where
// the CPU has it.
void check_architecture(const std::string& arch) {
  const ArchFixture f(arch);
  REQUIRE(f.count() >= 8);
  const Checkpoint checkpoint(f.checkpoint);
  CHECK(detect_architecture(checkpoint).name == arch);
  for (const Engine path : {Engine::kOptimized, Engine::kReference}) {
    const std::string path_name =
        path == Engine::kOptimized ? "optimized" : "reference";
    INFO(arch << ", " << path_name);
    const auto model = Model::load(checkpoint, detecting(path));
    CHECK(model->architecture() == arch);
    CHECK(model->num_classes() == 1000);
    REQUIRE(model->feature_size() == f.entry.at("feature_size"));
    for (const std::int64_t batch : {1, 3}) {
      INFO("batch " << batch);
      const Agreement agreement = compare_logits(*model, f, batch);
      report(arch, path_name + " batch " + std::to_string(batch),
             agreement.worst);
      CHECK(agreement.worst <= kLogitBound);
      CHECK(agreement.same_top1 == f.count());
    }
    const std::size_t size = static_cast<std::size_t>(model->feature_size());
    std::vector<float> features(2 * size);
    const std::vector<float> input = f.batch_of(0, 2);
    model->features(input.data(), 2, f.height, f.width, features.data());
    CHECK(testing::compare(features, f.features).relative() <= kLogitBound);
    check_feature_maps(*model, checkpoint, f);
  }
  if (!cpu_has_native_bf16()) return;
  const auto bf16 = Model::load(
      checkpoint, detecting(Engine::kOptimized, Precision::kBFloat16));
  const Agreement agreement = compare_logits(*bf16, f, 3);
  report(arch, "bf16 batch 3", agreement.worst);
  report(arch, "bf16 same top-1 of " + std::to_string(f.count()),
         static_cast<double>(agreement.same_top1));
  // bf16 rounds every layer's weights and activations, so its logits are
  // as far from fp32's as torchvision's own bf16 is on the same network and
  // inputs (largest |difference| over the row's largest |logit|, measured
  // on these fixtures: autocast 3.8-6.6% and model.to(torch.bfloat16)
  // 4.8-8.1% for the 16-block ones, resnet50 5.4% and 7.1%). The bound is
  // 8% for those and 15% for the 101- and 152-layer ones, where rounding
  // compounds over twice or three times the blocks (measured: 8-13%;
  // torchvision's model.to(torch.bfloat16) 21% for resnet152, 13% for
  // resnext101_64x4d), and two thirds of the top-1 classes kept. (5% was
  // the bound until the fixtures' convolutions were rounded to float16:
  // resnet50 then measured 5.9%, inside torchvision's own 7.1%.)
  const ArchSpec& spec = architecture(arch);
  const int blocks =
      spec.layers[0] + spec.layers[1] + spec.layers[2] + spec.layers[3];
  CHECK(agreement.worst <= (blocks > 16 ? 0.15 : 0.08));
  CHECK(agreement.same_top1 * 3 >= f.count() * 2);
}

// The message of the Error that `load` throws, checking its kind.
template <typename Load>
std::string error_of(Load load, ErrorKind kind = ErrorKind::kCheckpoint) {
  try {
    load();
  } catch (const Error& e) {
    CHECK(e.kind() == kind);
    return e.what();
  }
  FAIL("no error");
  return "";
}

}  // namespace

TEST_CASE("family parity: resnet18", "[family][oracle]") {
  check_architecture("resnet18");
}
TEST_CASE("family parity: resnet34", "[family][oracle]") {
  check_architecture("resnet34");
}
TEST_CASE("family parity: resnet50", "[family][oracle]") {
  check_architecture("resnet50");
}
TEST_CASE("family parity: resnet101", "[family][oracle]") {
  check_architecture("resnet101");
}
TEST_CASE("family parity: resnet152", "[family][oracle]") {
  check_architecture("resnet152");
}
TEST_CASE("family parity: resnext50_32x4d", "[family][oracle]") {
  check_architecture("resnext50_32x4d");
}
TEST_CASE("family parity: resnext101_32x8d", "[family][oracle]") {
  check_architecture("resnext101_32x8d");
}
TEST_CASE("family parity: resnext101_64x4d", "[family][oracle]") {
  check_architecture("resnext101_64x4d");
}
TEST_CASE("family parity: wide_resnet50_2", "[family][oracle]") {
  check_architecture("wide_resnet50_2");
}
TEST_CASE("family parity: wide_resnet101_2", "[family][oracle]") {
  check_architecture("wide_resnet101_2");
}

TEST_CASE("every architecture's checkpoint is recognized from its keys",
          "[family][oracle]") {
  const nlohmann::json& archs = family().at("archs");
  CHECK(archs.size() == all_architectures().size());
  for (const ArchSpec& arch : all_architectures()) {
    INFO(arch.name);
    const Checkpoint checkpoint(fixture(
        archs.at(std::string(arch.name)).at("checkpoint").get<std::string>()));
    CHECK(&detect_architecture(checkpoint) == &arch);
    CHECK_NOTHROW(check_state_dict(checkpoint, arch));
    CHECK(checkpoint_num_classes(checkpoint, arch) == 1000);
  }
  // The older fixture, torchvision's resnet18() as it initializes itself.
  const Checkpoint plain(testing::checkpoint_fixture("resnet18"));
  CHECK(detect_architecture(plain).name == "resnet18");
}

TEST_CASE(
    "a checkpoint of another architecture is refused, saying what "
    "differs",
    "[family][oracle]") {
  const auto checkpoint_of = [](const std::string& arch) {
    return fixture(
        family().at("archs").at(arch).at("checkpoint").get<std::string>());
  };
  SECTION("a ResNet50 checkpoint for resnet18") {
    const Checkpoint checkpoint(checkpoint_of("resnet50"));
    ModelOptions options;
    options.threads = 1;
    options.arch = "resnet18";
    const std::string message =
        error_of([&] { Model::load(checkpoint, options); });
    CHECK_THAT(message,
               Catch::StartsWith(checkpoint.path().string() + ": ") &&
                   Catch::Contains("does not match torchvision's ResNet18 "
                                   "(it looks like ResNet50: Bottleneck, not "
                                   "BasicBlock; layers [3, 4, 6, 3], not "
                                   "[2, 2, 2, 2])") &&
                   Catch::Contains("unexpected keys: layer1.0.conv3.weight"));
  }
  SECTION("a ResNeXt for ResNet50") {
    const Checkpoint checkpoint(checkpoint_of("resnext50_32x4d"));
    ModelOptions options;
    options.threads = 1;
    options.arch = "resnet50";
    const std::string message =
        error_of([&] { Model::load(checkpoint, options); });
    CHECK_THAT(message, Catch::Contains("it looks like ResNeXt50_32X4D: "
                                        "groups 32, not 1; width per group "
                                        "4, not 64)") &&
                            Catch::Contains("layer1.0.conv1.weight is [128, "
                                            "64, 1, 1] in the file, ResNet50 "
                                            "needs [64, 64, 1, 1]"));
  }
  SECTION("Wide ResNet101-2 for ResNet101") {
    const Checkpoint checkpoint(checkpoint_of("wide_resnet101_2"));
    CHECK_THAT(error_of([&] {
                 check_state_dict(checkpoint, architecture("resnet101"));
               }),
               Catch::Contains("(it looks like Wide_ResNet101_2: width per "
                               "group 128, not 64)"));
  }
  SECTION("an unknown architecture name") {
    const Checkpoint checkpoint(checkpoint_of("resnet18"));
    ModelOptions options;
    options.arch = "resnet200";
    CHECK_THAT(
        error_of([&] { Model::load(checkpoint, options); }, ErrorKind::kUsage),
        Catch::Contains("unknown architecture 'resnet200'"));
  }
}

TEST_CASE("a ResNet none of the ten are names the nearest and what differs",
          "[family][oracle]") {
  const Checkpoint checkpoint(family_checkpoint("odd_resnext"));
  const std::string expected =
      checkpoint.path().string() +
      ": it is none of torchvision's ResNets (Bottleneck, layers [1, 2, 1, "
      "1], groups 16, width per group 4); the nearest, ResNeXt50_32X4D, "
      "differs in layers [1, 2, 1, 1], not [3, 4, 6, 3]; groups 16, not 32";
  CHECK(error_of([&] { detect_architecture(checkpoint); }) == expected);
  CHECK(error_of([&] {
          Model::load(checkpoint, detecting(Engine::kOptimized));
        }) == expected);
}

TEST_CASE("another model's state_dict is not taken for a ResNet",
          "[family][oracle]") {
  const Checkpoint checkpoint(family_checkpoint("vgg_like"));
  CHECK(error_of([&] { detect_architecture(checkpoint); }) ==
        checkpoint.path().string() +
            ": not a torchvision ResNet, ResNeXt or Wide ResNet state_dict: "
            "it has no layer1-layer4 blocks (its keys: features.0.weight, "
            "features.0.bias, features.3.weight, features.3.bias (and 4 "
            "more))");
  ModelOptions options;
  options.threads = 1;
  options.arch = "resnet50";
  CHECK_THAT(error_of([&] { Model::load(checkpoint, options); }),
             Catch::Contains("does not match torchvision's ResNet50 (it has "
                             "no layer1-layer4 blocks: not a ResNet at all); "
                             "missing keys: conv1.weight"));
}
