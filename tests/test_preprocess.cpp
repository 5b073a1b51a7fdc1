// Preprocessing parity with torchvision + PIL, bit for bit.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "test_support.h"

using namespace resnet_cli;
using testing::fixture;
using testing::load_npy;
using testing::manifest;

namespace {

std::string base_name(const nlohmann::json& image) {
  return std::filesystem::path(image.at("file").get<std::string>())
      .filename()
      .string();
}

// Largest per-channel difference between our crop and PIL's (H x W x 3
// uint8 .npy); -1 when the shapes differ. Every test image, CMYK included,
// must give 0.
int crop_difference(const RgbImage& crop, const testing::NpyArray& expected) {
  if (expected.dtype != "|u1" || expected.shape.size() != 3 ||
      expected.shape[0] != crop.height || expected.shape[1] != crop.width ||
      expected.shape[2] != 3) {
    return -1;
  }
  int worst = 0;
  for (std::size_t i = 0; i < crop.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<int>(crop.pixels[i]) -
                                     static_cast<int>(expected.data[i])));
  }
  return worst;
}

TransformSpec spec_for(const std::string& variant) {
  TransformSpec spec;
  spec.resize_size = variant == "v1" ? 256 : 232;
  return spec;
}

}  // namespace

TEST_CASE("resize and crop geometry follows torchvision", "[preprocess]") {
  // 500x375 to short side 232: long side int(232 * 500 / 375) = 309;
  // offsets round(85 / 2) = 42 (half to even) and round(8 / 2) = 4.
  CropGeometry g = plan_resize_crop(500, 375, 232, 224);
  CHECK(g.resized_width == 309);
  CHECK(g.resized_height == 232);
  CHECK(g.crop_left == 42);
  CHECK(g.crop_top == 4);
  // Portrait, V1: 375x500 -> 256x341; offsets 16 and round(117 / 2) = 58.
  g = plan_resize_crop(375, 500, 256, 224);
  CHECK(g.resized_width == 256);
  CHECK(g.resized_height == 341);
  CHECK(g.crop_left == 16);
  CHECK(g.crop_top == 58);
  // round(3 / 2) = 2, round(5 / 2) = 2: halves go to even.
  CHECK(plan_resize_crop(227, 300, 227, 224).crop_left == 2);
  CHECK(plan_resize_crop(229, 300, 229, 224).crop_left == 2);
  // A crop larger than the image pads: left gets (224 - 200) / 2 = 12.
  g = plan_resize_crop(300, 200, 200, 224);
  CHECK(g.resized_width == 300);
  CHECK(g.crop_top == -12);
  CHECK(g.crop_left == 38);
  // Odd padding: 150 - 101 = 49 -> 24 before, 25 after.
  g = plan_resize_crop(101, 101, 101, 150);
  CHECK(g.crop_left == -24);
  CHECK(g.crop_top == -24);
  // Very wide: the long side is truncated, not rounded.
  g = plan_resize_crop(2000, 60, 232, 224);
  CHECK(g.resized_width == static_cast<int>(232.0 * 2000 / 60));
}

TEST_CASE("a resize to the same size changes nothing", "[preprocess]") {
  RgbImage image;
  image.width = 5;
  image.height = 4;
  for (int i = 0; i < 60; ++i)
    image.pixels.push_back(static_cast<std::uint8_t>(i * 4));
  for (Interpolation mode : {Interpolation::kNearest, Interpolation::kBilinear,
                             Interpolation::kBicubic}) {
    CHECK(pil_resize(image, 5, 4, mode).pixels == image.pixels);
  }
}

TEST_CASE("normalization is torch's float32 arithmetic", "[preprocess]") {
  RgbImage crop;
  crop.width = 2;
  crop.height = 1;
  crop.pixels = {0, 128, 255, 17, 200, 3};
  TransformSpec spec;
  float chw[6];
  normalize_to_chw(crop, spec, chw);
  const float expected_r0 = (0.0f / 255.0f - 0.485f) / 0.229f;
  const float expected_g1 = (200.0f / 255.0f - 0.456f) / 0.224f;
  CHECK(chw[0] == expected_r0);  // R plane, x = 0
  CHECK(chw[1] == (17.0f / 255.0f - 0.485f) / 0.229f);
  CHECK(chw[3] == expected_g1);  // G plane, x = 1
  CHECK(chw[4] == (255.0f / 255.0f - 0.406f) / 0.225f);
}

TEST_CASE("uint8 crops equal PIL's, V1 and V2", "[preprocess][oracle]") {
  const auto& images = manifest().at("images");
  REQUIRE(images.size() >= 20);
  for (const auto& image : images) {
    const std::string name = base_name(image);
    const RgbImage decoded =
        decode_image_file(fixture(image.at("file").get<std::string>()));
    CHECK(decoded.width == image.at("size")[0].get<int>());
    CHECK(decoded.height == image.at("size")[1].get<int>());
    for (const std::string variant : {"v1", "v2"}) {
      INFO(name << " " << variant);
      const RgbImage crop = resize_center_crop(decoded, spec_for(variant));
      const auto expected =
          load_npy(fixture("ref/" + name + "." + variant + ".crop.npy"));
      const int difference = crop_difference(crop, expected);
      CHECK(difference == 0);
    }
  }
}

TEST_CASE("model inputs equal weights.transforms() exactly",
          "[preprocess][oracle]") {
  for (const auto& image : manifest().at("images")) {
    const std::string name = base_name(image);
    const RgbImage decoded =
        decode_image_file(fixture(image.at("file").get<std::string>()));
    for (const std::string variant : {"v1", "v2"}) {
      INFO(name << " " << variant);
      std::vector<float> tensor(3 * 224 * 224);
      preprocess(decoded, spec_for(variant), tensor.data());
      const auto expected =
          load_npy(fixture("ref/" + name + "." + variant + ".tensor.npy"))
              .floats();
      const testing::Difference difference = testing::compare(tensor, expected);
      CHECK(difference.max_abs == 0.0);
    }
  }
}

TEST_CASE("bicubic and nearest crops equal PIL's", "[preprocess][oracle]") {
  for (const auto& image : manifest().at("images")) {
    const std::string name = base_name(image);
    const RgbImage decoded =
        decode_image_file(fixture(image.at("file").get<std::string>()));
    for (const auto& [mode, suffix] :
         {std::pair{Interpolation::kBicubic, "bicubic"},
          std::pair{Interpolation::kNearest, "nearest"}}) {
      INFO(name << " " << suffix);
      TransformSpec spec;
      spec.resize_size = 232;
      spec.interpolation = mode;
      const RgbImage crop = resize_center_crop(decoded, spec);
      const int difference = crop_difference(
          crop, load_npy(fixture("ref/" + name + "." + suffix + ".crop.npy")));
      CHECK(difference == 0);
    }
  }
}

TEST_CASE(
    "crops larger than the resized image are zero-padded as torchvision does",
    "[preprocess][oracle]") {
  for (const auto& image : manifest().at("images")) {
    const std::string name = base_name(image);
    const RgbImage decoded =
        decode_image_file(fixture(image.at("file").get<std::string>()));
    for (const auto& [resize, crop_size] :
         {std::pair{200, 224}, std::pair{101, 150}}) {
      INFO(name << " resize " << resize << " crop " << crop_size);
      TransformSpec spec;
      spec.resize_size = resize;
      spec.crop_size = crop_size;
      const RgbImage crop = resize_center_crop(decoded, spec);
      const int difference = crop_difference(
          crop,
          load_npy(fixture("ref/" + name + ".r" + std::to_string(resize) + "c" +
                           std::to_string(crop_size) + ".crop.npy")));
      CHECK(difference == 0);
    }
  }
}

TEST_CASE("EXIF orientation: ignored like PIL, or applied like exif_transpose",
          "[preprocess][oracle]") {
  TransformSpec spec;
  spec.resize_size = 232;
  DecodeOptions apply;
  apply.apply_exif_orientation = true;
  int rotated_images = 0;
  for (const auto& image : manifest().at("images")) {
    const std::string name = base_name(image);
    INFO(name);
    const auto path = fixture(image.at("file").get<std::string>());
    const RgbImage ignored = decode_image_file(path);
    const RgbImage applied = decode_image_file(path, apply);
    CHECK(crop_difference(
              resize_center_crop(applied, spec),
              load_npy(fixture("ref/" + name + ".exif.crop.npy"))) == 0);
    if (name.rfind("exif_", 0) == 0 ||
        name.find("_exif") != std::string::npos) {
      ++rotated_images;
      CHECK(applied.pixels != ignored.pixels);
    }
  }
  CHECK(rotated_images == 8);
}
