// The weights registry, torch.hub's cache rules, and ResNet50's layout.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>

#include "base/error.h"
#include "test_support.h"
#include "weights/model_spec.h"
#include "weights/registry.h"

using namespace resnet_cli;

TEST_CASE("weights names resolve as torchvision spells them", "[weights]") {
  CHECK(find_weights("IMAGENET1K_V2").name == "IMAGENET1K_V2");
  CHECK(find_weights("imagenet1k_v1").name == "IMAGENET1K_V1");
  CHECK(find_weights("DEFAULT").name == "IMAGENET1K_V2");
  CHECK(find_weights("default").name == "IMAGENET1K_V2");
  CHECK(find_weights("ResNet50_Weights.IMAGENET1K_V1").name == "IMAGENET1K_V1");
  CHECK(find_weights("resnet50_weights.DEFAULT").name == "IMAGENET1K_V2");
  try {
    find_weights("IMAGENET1K_V3");
    FAIL("accepted an unknown name");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK_THAT(e.what(),
               Catch::Contains("IMAGENET1K_V3") &&
                   Catch::Contains("IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"));
  }
}

TEST_CASE("registry entries carry torchvision's meta", "[weights]") {
  const WeightsInfo& v1 = find_weights("IMAGENET1K_V1");
  const WeightsInfo& v2 = find_weights("IMAGENET1K_V2");
  CHECK(v1.file_name == "resnet50-0676ba61.pth");
  CHECK(v2.file_name == "resnet50-11ad3fa6.pth");
  CHECK(v1.transforms.resize_size == 256);
  CHECK(v2.transforms.resize_size == 232);
  CHECK(v1.transforms.crop_size == 224);
  CHECK(v2.gflops == 4.089);
  CHECK(v1.file_size_mb == 97.781);
  CHECK(v2.file_size_mb == 97.79);
  CHECK(imagenet_categories().size() == 1000);
}

TEST_CASE("torch.hub's hash prefix rule", "[weights]") {
  CHECK(hash_prefix_from_file_name("resnet50-11ad3fa6.pth") == "11ad3fa6");
  CHECK(hash_prefix_from_file_name("resnet50-0676ba61.pth") == "0676ba61");
  CHECK(hash_prefix_from_file_name("my-model-deadbeef.pth") == "deadbeef");
  CHECK(hash_prefix_from_file_name("model.pth").empty());
  CHECK(hash_prefix_from_file_name("resnet50-XYZ.pth").empty());
  CHECK(hash_prefix_from_file_name("resnet50-abc").empty());  // no extension
}

TEST_CASE("the cache folder follows TORCH_HOME, XDG_CACHE_HOME, HOME",
          "[weights]") {
  {
    testing::ScopedEnv env{{"TORCH_HOME", "/opt/th"},
                           {"XDG_CACHE_HOME", "/xdg"}};
    CHECK(hub_checkpoint_dir() == "/opt/th/hub/checkpoints");
  }
  {
    testing::ScopedEnv env{{"TORCH_HOME", nullptr}, {"XDG_CACHE_HOME", "/xdg"}};
    CHECK(hub_checkpoint_dir() == "/xdg/torch/hub/checkpoints");
  }
  {
    testing::ScopedEnv env{{"TORCH_HOME", nullptr},
                           {"XDG_CACHE_HOME", nullptr},
                           {"HOME", "/home/u"}};
    CHECK(hub_checkpoint_dir() == "/home/u/.cache/torch/hub/checkpoints");
    CHECK(cached_weights_path(find_weights("DEFAULT")) ==
          "/home/u/.cache/torch/hub/checkpoints/resnet50-11ad3fa6.pth");
  }
}

TEST_CASE("ResNet50's parameter layout", "[weights]") {
  CHECK(resnet50_num_params(1000) == 25557032);
  const auto specs = resnet50_parameter_specs(1000);
  // 53 convolutions + 53 BatchNorms x 5 entries + fc weight and bias.
  CHECK(specs.size() == 53 + 53 * 5 + 2);
  CHECK(specs.front().name == "conv1.weight");
  CHECK(specs.back().name == "fc.bias");
}

TEST_CASE("the registry agrees with Debian's torchvision",
          "[weights][oracle]") {
  // Every entry of the family's ten enums, by "<enum>.<entry>".
  const nlohmann::json& family = testing::manifest().at("family");
  const nlohmann::json& meta = family.at("weights");
  std::size_t float_entries = 0;
  for (const WeightsInfo& weights : all_weights()) {
    INFO(weights.qualified_name());
    // The quantized entries are checked against torchvision in
    // test_int8.cpp.
    if (weights.quantized()) continue;
    ++float_entries;
    const nlohmann::json& expected = meta.at(weights.qualified_name());
    CHECK(expected.at("arch") == weights.arch);
    CHECK(expected.at("url") == weights.url);
    CHECK(expected.at("num_params") == weights.num_params);
    CHECK(expected.at("acc@1").get<double>() == Approx(weights.acc1));
    CHECK(expected.at("acc@5").get<double>() == Approx(weights.acc5));
    CHECK(expected.at("recipe") == weights.recipe);
    CHECK(expected.at("resize_size") == weights.transforms.resize_size);
    CHECK(expected.at("crop_size") == weights.transforms.crop_size);
    CHECK(expected.at("interpolation") ==
          std::string(enum_name(weights.transforms.interpolation)));
    for (int c = 0; c < 3; ++c) {
      CHECK(static_cast<float>(expected.at("mean")[c].get<double>()) ==
            weights.transforms.mean[c]);
      CHECK(static_cast<float>(expected.at("std")[c].get<double>()) ==
            weights.transforms.std[c]);
    }
    // One list for all (torchvision's _COMMON_META), checked below.
    CHECK(expected.at("imagenet_categories") == true);
  }
  CHECK(meta.size() == float_entries);
  for (const auto& [enum_name, default_name] : family.at("defaults").items()) {
    INFO(enum_name);
    CHECK(find_weights(enum_name + ".DEFAULT").name == default_name);
  }
  CHECK(testing::manifest().at("default_weights") ==
        find_weights("DEFAULT").name);
  CHECK(testing::manifest()
            .at("weights")
            .at("IMAGENET1K_V2")
            .at("categories")
            .get<std::vector<std::string>>() == imagenet_categories());
  CHECK(testing::manifest().at("resnet50_num_params") ==
        resnet50_num_params(1000));
}

TEST_CASE("labels files: one a line, or TorchServe's index_to_name.json",
          "[weights]") {
  const std::filesystem::path folder = testing::temp_dir("labels_files");
  const auto labels_of = [&](const std::string& name,
                             const std::string& content) {
    const std::filesystem::path file = folder / name;
    testing::write_text(file, content);
    return read_labels_file(file);
  };
  using Labels = std::vector<std::string>;
  CHECK(labels_of("plain.txt", "tench\r\ngoldfish\n") ==
        Labels{"tench", "goldfish"});
  // TorchServe's three spellings, keys in any order.
  CHECK(labels_of("names.json", R"( {"1": "goldfish", "0": "tench"})") ==
        Labels{"tench", "goldfish"});
  CHECK(labels_of("wnids.json", R"({"0": ["n01440764", "tench"],
                                    "1": ["n01443537", "goldfish"]})") ==
        Labels{"tench", "goldfish"});
  CHECK(labels_of("objects.json", R"({"object_type_names": ["a", "b"]})") ==
        Labels{"a", "b"});
  for (const char* broken :
       {R"({"0": "tench", "2": "goldfish"})", R"({"0": "a", "x": "b"})",
        R"({"0": 7})", R"({"0": "a", "00": "b"})", R"({"0": "a",)", "{}"}) {
    INFO(broken);
    CHECK_THROWS_AS(labels_of("broken.json", broken), Error);
  }
}
