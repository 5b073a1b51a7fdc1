// The family's weights registry: every entry torchvision has for its ResNets,
// ResNeXts and Wide ResNets, and how a name (and --arch) chooses one.
#include <algorithm>
#include <catch2/catch.hpp>

#include "base/error.h"
#include "test_support.h"
#include "weights/model_spec.h"
#include "weights/registry.h"

using namespace resnet_cli;

namespace {

// The message of the Error(kUsage) that find_weights throws.
std::string usage_error(std::string_view name, std::string_view arch = {}) {
  try {
    const WeightsInfo& weights = find_weights(name, arch);
    FAIL("chose " << weights.qualified_name());
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    return e.what();
  }
  return "";
}

// Issue 11's table: "V1 / V2" cells hold both entries of an enum.
constexpr const char* kIssueTable = R"(
| ResNet18_Weights | IMAGENET1K_V1 | resnet18-f37072fd.pth | 256 | 69.758 | 11,689,512 |
| ResNet34_Weights | IMAGENET1K_V1 | resnet34-b627a593.pth | 256 | 73.314 | 21,797,672 |
| ResNet50_Weights | IMAGENET1K_V1 / V2 | resnet50-0676ba61.pth / resnet50-11ad3fa6.pth | 256 / 232 | 76.130 / 80.858 | 25,557,032 |
| ResNet101_Weights | IMAGENET1K_V1 / V2 | resnet101-63fe2227.pth / resnet101-cd907fc2.pth | 256 / 232 | 77.374 / 81.886 | 44,549,160 |
| ResNet152_Weights | IMAGENET1K_V1 / V2 | resnet152-394f9c45.pth / resnet152-f82ba261.pth | 256 / 232 | 78.312 / 82.284 | 60,192,808 |
| ResNeXt50_32X4D_Weights | IMAGENET1K_V1 / V2 | resnext50_32x4d-7cdf4587.pth / resnext50_32x4d-1a0047aa.pth | 256 / 232 | 77.618 / 81.198 | 25,028,904 |
| ResNeXt101_32X8D_Weights | IMAGENET1K_V1 / V2 | resnext101_32x8d-8ba56ff5.pth / resnext101_32x8d-110c445d.pth | 256 / 232 | 79.312 / 82.834 | 88,791,336 |
| ResNeXt101_64X4D_Weights | IMAGENET1K_V1 | resnext101_64x4d-173b62eb.pth | 232 | 83.246 | 83,455,272 |
| Wide_ResNet50_2_Weights | IMAGENET1K_V1 / V2 | wide_resnet50_2-95faca4d.pth / wide_resnet50_2-9ba9bcbe.pth | 256 / 232 | 78.468 / 81.602 | 68,883,240 |
| Wide_ResNet101_2_Weights | IMAGENET1K_V1 / V2 | wide_resnet101_2-32ee1156.pth / wide_resnet101_2-d733dc28.pth | 256 / 232 | 78.848 / 82.510 | 126,886,696 |
)";

// One registry entry as the issue's table gives it.
struct TableEntry {
  std::string enum_name, name, file_name, resize_size, acc1, num_params;
};

// The table's cells, trimmed; "V1 / V2" cells split.
std::vector<std::string> split(const std::string& text,
                               const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    std::string part = text.substr(start, end - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    parts.push_back(part);
    if (end == std::string::npos) return parts;
    start = end + separator.size();
  }
}

std::vector<TableEntry> issue_table() {
  std::vector<TableEntry> entries;
  for (const std::string& line : testing::lines_of(kIssueTable)) {
    if (line.empty()) continue;
    const auto cells = split(line.substr(1, line.size() - 2), "|");
    std::string params = cells.at(5);
    params.erase(std::remove(params.begin(), params.end(), ','), params.end());
    const auto names = split(cells.at(1), "/");
    for (std::size_t i = 0; i < names.size(); ++i) {
      entries.push_back({cells.at(0), i ? "IMAGENET1K_" + names[i] : names[i],
                         split(cells.at(2), "/").at(i),
                         split(cells.at(3), "/").at(i),
                         split(cells.at(4), "/").at(i), params});
    }
  }
  return entries;
}

}  // namespace

TEST_CASE("every family entry torchvision 0.14 has", "[weights]") {
  const std::vector<TableEntry> expected = issue_table();
  REQUIRE(expected.size() == 17);
  // The float entries come first, the quantized ones after them.
  REQUIRE(all_weights().size() == expected.size() + 6);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const WeightsInfo& weights = all_weights()[i];
    CHECK_FALSE(weights.quantized());
    INFO(weights.qualified_name());
    CHECK(weights.enum_name == expected[i].enum_name);
    CHECK(weights.name == expected[i].name);
    CHECK(weights.file_name == expected[i].file_name);
    CHECK(weights.url ==
          "https://download.pytorch.org/models/" + expected[i].file_name);
    CHECK(std::to_string(weights.transforms.resize_size) ==
          expected[i].resize_size);
    CHECK(weights.transforms.crop_size == 224);
    CHECK(weights.acc1 == std::stod(expected[i].acc1));
    CHECK(std::to_string(weights.num_params) == expected[i].num_params);
    // The architecture the entry names has that many parameters.
    CHECK(num_params(architecture(weights.arch), 1000) == weights.num_params);
    CHECK(weights.enum_name ==
          std::string(architecture(weights.arch).display_name) + "_Weights");
    // DEFAULT is each enum's last entry.
    const bool last = i + 1 == expected.size() ||
                      all_weights()[i + 1].enum_name != weights.enum_name;
    CHECK(weights.aliases == (last ? std::vector<std::string>{"DEFAULT"}
                                   : std::vector<std::string>{}));
    CHECK(weights.gflops > 0);
    CHECK(weights.file_size_mb > 0);
    CHECK_FALSE(weights.recipe.empty());
  }
}

// Issue 23's table (torchvision/models/quantization/resnet.py): enum.entry,
// file under models/quantized/, acc@1, the float entry it came from.
constexpr const char* kQuantizedTable = R"(
| ResNet18_QuantizedWeights.IMAGENET1K_FBGEMM_V1 | resnet18_fbgemm_16fa66dd.pth | 69.494 | ResNet18_Weights.IMAGENET1K_V1 |
| ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V1 | resnet50_fbgemm_bf931d71.pth | 75.920 | ResNet50_Weights.IMAGENET1K_V1 |
| ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2 | resnet50_fbgemm-23753f79.pth | 80.282 | ResNet50_Weights.IMAGENET1K_V2 |
| ResNeXt101_32X8D_QuantizedWeights.IMAGENET1K_FBGEMM_V1 | resnext101_32x8_fbgemm_09835ccf.pth | 78.986 | ResNeXt101_32X8D_Weights.IMAGENET1K_V1 |
| ResNeXt101_32X8D_QuantizedWeights.IMAGENET1K_FBGEMM_V2 | resnext101_32x8_fbgemm-ee16d00c.pth | 82.574 | ResNeXt101_32X8D_Weights.IMAGENET1K_V2 |
| ResNeXt101_64X4D_QuantizedWeights.IMAGENET1K_FBGEMM_V1 | resnext101_64x4d_fbgemm-605a1cb3.pth | 82.898 | ResNeXt101_64X4D_Weights.IMAGENET1K_V1 |
)";

TEST_CASE("the six quantized entries torchvision 0.14 has", "[weights]") {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : testing::lines_of(kQuantizedTable)) {
    if (!line.empty())
      rows.push_back(split(line.substr(1, line.size() - 2), "|"));
  }
  REQUIRE(rows.size() == 6);
  const std::size_t first = all_weights().size() - rows.size();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const WeightsInfo& weights = all_weights()[first + i];
    INFO(weights.qualified_name());
    CHECK(weights.qualified_name() == rows[i][0]);
    CHECK(weights.quantized());
    CHECK(weights.backend == "fbgemm");
    CHECK(weights.file_name == rows[i][1]);
    CHECK(weights.url ==
          "https://download.pytorch.org/models/quantized/" + rows[i][1]);
    CHECK(weights.acc1 == std::stod(rows[i][2]));
    CHECK(weights.unquantized == rows[i][3]);
    // The float entry's architecture, transforms and parameter count.
    const WeightsInfo& source = find_weights(rows[i][3]);
    CHECK(weights.arch == source.arch);
    CHECK(weights.transforms.resize_size == source.transforms.resize_size);
    CHECK(weights.num_params == source.num_params);
    CHECK(quantized_counterpart(source) == &weights);
    CHECK(quantized_counterpart(weights) == nullptr);
    // Names resolve in any case.
    CHECK(&find_weights(testing::to_lower(rows[i][0])) == &weights);
  }
  CHECK(find_weights("ResNet18_QuantizedWeights.DEFAULT").name ==
        "IMAGENET1K_FBGEMM_V1");
  CHECK(find_weights("ResNet50_QuantizedWeights.DEFAULT").name ==
        "IMAGENET1K_FBGEMM_V2");
  CHECK(find_weights("resnext101_32x8d_quantizedweights.default").name ==
        "IMAGENET1K_FBGEMM_V2");
  CHECK(find_weights("ResNeXt101_64X4D_QuantizedWeights.DEFAULT").name ==
        "IMAGENET1K_FBGEMM_V1");
  // A bare name means the float enum's entry; a quantized enum is named.
  CHECK(find_weights("DEFAULT", "resnet50").qualified_name() ==
        "ResNet50_Weights.IMAGENET1K_V2");
  CHECK_THAT(usage_error("IMAGENET1K_FBGEMM_V2", "resnet50"),
             Catch::Contains("IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"));
  // Torchvision quantizes only these four architectures.
  CHECK(quantized_counterpart(find_weights("ResNet34_Weights.DEFAULT")) ==
        nullptr);
}

TEST_CASE("an enum prefix or an architecture chooses the weights",
          "[weights]") {
  SECTION("an enum prefix, any case") {
    CHECK(find_weights("ResNet18_Weights.IMAGENET1K_V1").file_name ==
          "resnet18-f37072fd.pth");
    CHECK(find_weights("resnet18_weights.imagenet1k_v1").arch == "resnet18");
    CHECK(find_weights("ResNet101_Weights.DEFAULT").file_name ==
          "resnet101-cd907fc2.pth");
    CHECK(find_weights("ResNeXt101_64X4D_Weights.DEFAULT").name ==
          "IMAGENET1K_V1");
    CHECK(find_weights("wide_resnet50_2_weights.IMAGENET1K_V1").file_name ==
          "wide_resnet50_2-95faca4d.pth");
    // Agreeing with the architecture given.
    CHECK(find_weights("ResNet18_Weights.IMAGENET1K_V1", "resnet18").arch ==
          "resnet18");
  }
  SECTION("an architecture: its entries by plain name, DEFAULT when none") {
    CHECK(find_weights("IMAGENET1K_V1", "resnet18").file_name ==
          "resnet18-f37072fd.pth");
    CHECK(find_weights("", "resnet18").file_name == "resnet18-f37072fd.pth");
    CHECK(find_weights("DEFAULT", "ResNet152").file_name ==
          "resnet152-f82ba261.pth");
    CHECK(find_weights("imagenet1k_v1", "RESNEXT50_32X4D").file_name ==
          "resnext50_32x4d-7cdf4587.pth");
  }
  SECTION("an architecture's name alone: its DEFAULT, any case") {
    CHECK(find_weights("resnet18").qualified_name() ==
          "ResNet18_Weights.IMAGENET1K_V1");
    CHECK(find_weights("Wide_ResNet101_2").qualified_name() ==
          "Wide_ResNet101_2_Weights.IMAGENET1K_V2");
  }
  SECTION("neither: ResNet50, as before the family") {
    CHECK(find_weights("IMAGENET1K_V2").qualified_name() ==
          "ResNet50_Weights.IMAGENET1K_V2");
    CHECK(find_weights("DEFAULT").qualified_name() ==
          "ResNet50_Weights.IMAGENET1K_V2");
    CHECK(find_weights("").qualified_name() ==
          "ResNet50_Weights.IMAGENET1K_V2");
  }
  SECTION("what cannot be chosen") {
    CHECK_THAT(usage_error("IMAGENET1K_V2", "resnet18"),
               Catch::Contains("unknown weights 'IMAGENET1K_V2'") &&
                   Catch::Contains("known for resnet18: IMAGENET1K_V1, "
                                   "DEFAULT"));
    CHECK_THAT(usage_error("ResNet50_Weights.IMAGENET1K_V2", "resnet18"),
               Catch::Contains("ResNet50_Weights.IMAGENET1K_V2 are "
                               "resnet50's, not resnet18's"));
    CHECK_THAT(usage_error("VGG16_Weights.IMAGENET1K_V1"),
               Catch::Contains("no enum VGG16_Weights") &&
                   Catch::Contains("ResNet18_Weights, ResNet34_Weights") &&
                   Catch::Contains("Wide_ResNet101_2_Weights, "
                                   "ResNet18_QuantizedWeights") &&
                   Catch::Contains("ResNeXt101_64X4D_QuantizedWeights)"));
    CHECK_THAT(usage_error("ResNet18_Weights.IMAGENET1K_V2"),
               Catch::Contains("known: IMAGENET1K_V1, DEFAULT"));
    CHECK_THAT(usage_error("DEFAULT", "resnet19"),
               Catch::Contains("unknown architecture 'resnet19'"));
    CHECK_THAT(usage_error("IMAGENET1K_V3"),
               Catch::Contains("ResNet18_Weights.DEFAULT"));
  }
}
