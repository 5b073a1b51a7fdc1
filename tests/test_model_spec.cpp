// The ResNet family's architectures and their parameter layouts.
#include <catch2/catch.hpp>
#include <utility>

#include "base/error.h"
#include "weights/model_spec.h"

using namespace resnet_cli;

namespace {

// The shape of one state_dict entry of `arch` with 1000 classes.
std::vector<std::int64_t> shape_of(const std::string& arch,
                                   const std::string& key) {
  for (const ParameterSpec& spec : parameter_specs(architecture(arch), 1000)) {
    if (spec.name == key) return spec.shape;
  }
  return {};
}

using Shape = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("the ten architectures have torchvision's parameter counts",
          "[model_spec]") {
  // torchvision's meta "num_params" (issue 11's table).
  const std::vector<std::pair<std::string, std::int64_t>> expected = {
      {"resnet18", 11689512},         {"resnet34", 21797672},
      {"resnet50", 25557032},         {"resnet101", 44549160},
      {"resnet152", 60192808},        {"resnext50_32x4d", 25028904},
      {"resnext101_32x8d", 88791336}, {"resnext101_64x4d", 83455272},
      {"wide_resnet50_2", 68883240},  {"wide_resnet101_2", 126886696},
  };
  REQUIRE(all_architectures().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const ArchSpec& arch = all_architectures()[i];
    INFO(arch.name);
    CHECK(arch.name == expected[i].first);
    CHECK(num_params(arch, 1000) == expected[i].second);
  }
  CHECK(resnet50_num_params(1000) == 25557032);
  CHECK(num_params(architecture("resnet18"), 10) ==
        11689512 - 990 * 513);  // fc: 512 weights and a bias per class
}

TEST_CASE("architecture names resolve in any case", "[model_spec]") {
  CHECK(find_architecture("resnet18")->name == "resnet18");
  CHECK(find_architecture("ResNet18")->name == "resnet18");
  CHECK(find_architecture("RESNEXT50_32X4D")->name == "resnext50_32x4d");
  CHECK(find_architecture("Wide_ResNet101_2")->display_name ==
        "Wide_ResNet101_2");
  CHECK(find_architecture("resnet19") == nullptr);
  CHECK(find_architecture("") == nullptr);
  CHECK(&resnet50_architecture() == find_architecture("resnet50"));
  try {
    architecture("vgg16");
    FAIL("accepted vgg16");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK_THAT(e.what(), Catch::Contains("unknown architecture 'vgg16'") &&
                             Catch::Contains("resnet18, resnet34, resnet50") &&
                             Catch::Contains("wide_resnet101_2"));
  }
}

TEST_CASE("blocks, groups and widths as torchvision lays them out",
          "[model_spec]") {
  SECTION("BasicBlock: 3x3 convolutions, no downsample in layer1") {
    CHECK(architecture("resnet18").feature_size() == 512);
    CHECK(architecture("resnet34").feature_size() == 512);
    CHECK(shape_of("resnet18", "layer1.0.conv1.weight") == Shape{64, 64, 3, 3});
    CHECK(shape_of("resnet18", "layer1.0.downsample.0.weight").empty());
    CHECK(shape_of("resnet18", "layer1.0.conv3.weight").empty());
    CHECK(shape_of("resnet18", "layer2.0.downsample.0.weight") ==
          Shape{128, 64, 1, 1});
    CHECK(shape_of("resnet34", "layer3.5.conv2.weight") ==
          Shape{256, 256, 3, 3});
    CHECK(shape_of("resnet34", "fc.weight") == Shape{1000, 512});
  }
  SECTION("ResNeXt: grouped 3x3 convolutions") {
    CHECK(shape_of("resnext50_32x4d", "layer1.0.conv2.weight") ==
          Shape{128, 4, 3, 3});
    CHECK(shape_of("resnext50_32x4d", "layer4.2.conv2.weight") ==
          Shape{1024, 32, 3, 3});
    CHECK(shape_of("resnext101_32x8d", "layer1.0.conv2.weight") ==
          Shape{256, 8, 3, 3});
    CHECK(shape_of("resnext101_64x4d", "layer3.22.conv2.weight") ==
          Shape{1024, 16, 3, 3});
    CHECK(shape_of("resnext101_64x4d", "layer3.22.conv3.weight") ==
          Shape{1024, 1024, 1, 1});
  }
  SECTION("Wide ResNet: twice the inner width") {
    CHECK(shape_of("wide_resnet50_2", "layer1.0.conv2.weight") ==
          Shape{128, 128, 3, 3});
    CHECK(shape_of("wide_resnet101_2", "layer4.0.conv3.weight") ==
          Shape{2048, 1024, 1, 1});
  }
  SECTION("deep stacks") {
    CHECK(shape_of("resnet152", "layer2.7.conv1.weight") ==
          Shape{128, 512, 1, 1});
    CHECK(shape_of("resnet152", "layer3.35.bn3.running_var") == Shape{1024});
    CHECK(shape_of("resnet152", "layer3.36.conv1.weight").empty());
  }
  for (const ArchSpec& arch : all_architectures()) {
    INFO(arch.name);
    const auto specs = parameter_specs(arch, 1000);
    CHECK(specs.front().name == "conv1.weight");
    CHECK(specs.back().name == "fc.bias");
    CHECK(shape_of(std::string(arch.name), "fc.weight") ==
          Shape{1000, arch.feature_size()});
  }
  // The ResNet50 functions are the general ones for ResNet50.
  const auto specs = resnet50_parameter_specs(1000);
  const auto general = parameter_specs(resnet50_architecture(), 1000);
  REQUIRE(specs.size() == general.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    CHECK(specs[i].name == general[i].name);
  }
}
