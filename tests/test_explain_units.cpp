// explain's parts without a model: the map, its normalisation and box, the
// crop's region, the overlay's pixels on a hand-computed case, the overlay
// file names, and how records carry explanations in each format. The maps
// against torchvision are tests/test_explain.cpp's.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "image/heatmap.h"
#include "image/preprocess.h"
#include "run/explain.h"
#include "run/overlay_files.h"
#include "run/record_json.h"
#include "run/record_writer.h"

using namespace resnet_cli;

namespace {

bool same_box(const PixelBox& a, const PixelBox& b) {
  return a.left == b.left && a.top == b.top && a.right == b.right &&
         a.bottom == b.bottom;
}

Record explained_record() {
  Record record;
  record.path = "cat.jpg";
  record.predictions = {{1, 7, "cat", 0.75}, {2, 2, "dog", 0.25}};
  Explanation explanation;
  explanation.image_width = 500;
  explanation.image_height = 375;
  explanation.crop = {38, 0, 462, 375};
  ClassMap map;
  map.rank = 1;
  map.index = 7;
  map.label = "cat";
  map.rows = 2;
  map.columns = 2;
  map.grid = {0.0f, 0.25f, 1.0f, 0.5f};
  map.box = PixelBox{38, 187, 462, 375};
  map.overlay = "out/cat.jpg.png";
  explanation.maps.push_back(map);
  ClassMap none = map;
  none.rank = 2;
  none.index = 2;
  none.label = "dog";
  none.grid = {0, 0, 0, 0};
  none.box.reset();
  none.overlay.clear();
  explanation.maps.push_back(none);
  record.explanation = explanation;
  return record;
}

}  // namespace

TEST_CASE("explain: the map is fc's row over the channels", "[explain]") {
  // 2 channels of 3 cells.
  const float maps[] = {1, 2, 3, 10, 20, 30};
  const float weight[] = {0.5f, -0.25f};
  float out[3];
  class_activation_map(maps, 2, 3, weight, out);
  CHECK(out[0] == 0.5f - 2.5f);
  CHECK(out[1] == 1.0f - 5.0f);
  CHECK(out[2] == 1.5f - 7.5f);
}

TEST_CASE("explain: pytorch-grad-cam's normalisation", "[explain]") {
  std::vector<float> grid = {-1.0f, 0.5f, 2.0f, 1.0f};
  normalize_activation_map(grid);
  // ReLU: 0, 0.5, 2, 1; minus 0; divided by 2 + 1e-7.
  CHECK(grid[0] == 0.0f);
  CHECK(grid[1] == static_cast<float>(0.5 / (2 + 1e-7)));
  CHECK(grid[2] == static_cast<float>(2 / (2 + 1e-7)));
  CHECK(grid[3] == static_cast<float>(1 / (2 + 1e-7)));
  std::vector<float> negative = {-3.0f, -1.0f};
  normalize_activation_map(negative);
  CHECK(negative == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("explain: the crop's region undoes resize and center crop",
          "[explain]") {
  TransformSpec transform;  // resize 256, crop 224
  // 500x375 -> 341x256, crop at (58, 16).
  const CropGeometry g = plan_resize_crop(500, 375, 256, 224);
  REQUIRE(g.resized_width == 341);
  REQUIRE(g.crop_left == 58);
  REQUIRE(g.crop_top == 16);
  const ImageRegion region = crop_region(500, 375, transform);
  CHECK(region.left == 58 * 500.0 / 341);
  CHECK(region.right == 282 * 500.0 / 341);
  CHECK(region.top == 16 * 375.0 / 256);
  CHECK(region.bottom == 240 * 375.0 / 256);
  CHECK(same_box(pixel_box(region, 500, 375), PixelBox{85, 23, 414, 352}));
  // Past the image (a crop that pads) is clipped.
  CHECK(same_box(pixel_box({-3.5, -0.2, 10.2, 9.0}, 10, 8),
                 PixelBox{0, 0, 10, 8}));
}

TEST_CASE("explain: the box bounds the cells above half the maximum",
          "[explain]") {
  // 3x3 over a region of 30x30 pixels starting at (10, 20).
  const ImageRegion region{10, 20, 40, 50};
  std::vector<float> grid = {0.1f, 0.2f, 0.0f,   //
                             0.0f, 1.0f, 0.6f,   //
                             0.5f, 0.3f, 0.0f};  // 0.5 is not above half
  const auto box = half_max_box(grid, 3, 3, region, 100, 100);
  REQUIRE(box);
  CHECK(same_box(*box, PixelBox{20, 30, 40, 40}));
  // Clipped to the image.
  const auto clipped = half_max_box(grid, 3, 3, region, 35, 35);
  REQUIRE(clipped);
  CHECK(same_box(*clipped, PixelBox{20, 30, 35, 35}));
  CHECK_FALSE(half_max_box({0, 0, 0, 0}, 2, 2, region, 100, 100));
}

TEST_CASE("explain: overlay pixels, inside the crop and out", "[explain]") {
  // A 4x2 image, the region its left 2x2, a 1x2 grid (0 and 1).
  RgbImage image;
  image.width = 4;
  image.height = 2;
  image.pixels = {10, 20, 30, 11, 21, 31, 200, 100, 50, 255, 255, 255,
                  0,  0,  0,  1,  1,  1,  7,   8,   9,  254, 254, 254};
  const float grid[] = {0.0f, 1.0f};
  const RgbImage out =
      heatmap_overlay(image, HeatmapGrid{grid, 1, 2}, ImageRegion{0, 0, 2, 2});
  REQUIRE(out.width == 4);
  REQUIRE(out.height == 2);
  // Pixel 0's centre is cell 0's centre: value 0, viridis[0]; pixel 1's is
  // cell 1's: viridis[255]; each averaged with the pixel, halves up.
  const auto& low = viridis()[0];
  const auto& high = viridis()[255];
  CHECK(out.pixels[0] == (low[0] + 10 + 1) / 2);
  CHECK(out.pixels[1] == (low[1] + 20 + 1) / 2);
  CHECK(out.pixels[5] == (high[2] + 31 + 1) / 2);
  CHECK(out.pixels[12] == (low[0] + 0 + 1) / 2);
  // Outside: dimmed by half, halves up.
  CHECK(std::vector<int>(out.pixels.begin() + 6, out.pixels.begin() + 12) ==
        std::vector<int>{100, 50, 25, 128, 128, 128});
  CHECK(std::vector<int>(out.pixels.begin() + 18, out.pixels.end()) ==
        std::vector<int>{4, 4, 5, 127, 127, 127});
  // matplotlib's viridis ends.
  CHECK(low == std::array<std::uint8_t, 3>{68, 1, 84});
  CHECK(high == std::array<std::uint8_t, 3>{253, 231, 37});
  CHECK(heatmap_index(0.999) == 254);
  CHECK(heatmap_index(1.5) == 255);
  CHECK(heatmap_index(-0.1) == 0);
}

TEST_CASE("explain: overlay files are named after the input", "[explain]") {
  CHECK(overlay_path("out", "photos/cat.jpg", 1) == "out/photos/cat.jpg.png");
  CHECK(overlay_path("out", "photos/cat.jpg", 3) ==
        "out/photos/cat.jpg.top3.png");
  CHECK(overlay_path("out", "/abs/./x.png", 1) == "out/abs/x.png.png");
  CHECK(overlay_path("out", "../up/x.jpg", 1) == "out/up/x.jpg.png");
  CHECK(overlay_path("out", "-", 1) == "out/stdin.png");
}

TEST_CASE("explain: records carry it in JSON, text, CSV and TSV",
          "[explain][records]") {
  const Record record = explained_record();
  const nlohmann::json json = nlohmann::json::parse(record_json(record));
  const nlohmann::json& explain = json.at("explain");
  CHECK(explain["width"] == 500);
  CHECK(explain["height"] == 375);
  CHECK(explain["exif_applied"] == false);
  CHECK(explain["crop"] ==
        nlohmann::json(
            {{"left", 38}, {"top", 0}, {"right", 462}, {"bottom", 375}}));
  REQUIRE(explain["maps"].size() == 2);
  const nlohmann::json& first = explain["maps"][0];
  CHECK(first["rank"] == 1);
  CHECK(first["index"] == 7);
  CHECK(first["label"] == "cat");
  CHECK(first["grid"] == nlohmann::json::parse("[[0.0, 0.25], [1.0, 0.5]]"));
  CHECK(first["box"]["top"] == 187);
  CHECK(first["overlay"] == "out/cat.jpg.png");
  CHECK(explain["maps"][1]["box"].is_null());
  CHECK_FALSE(explain["maps"][1].contains("overlay"));

  std::ostringstream text;
  make_text_writer(OutputType::kProbability, text)->write(record);
  CHECK_THAT(text.str(),
             Catch::Contains("  explain (crop 38,0 to 462,375 of 500x375):\n"
                             "    rank 1  cat  box 38,187 to 462,375  overlay "
                             "out/cat.jpg.png\n"
                             "    rank 2  dog  box none (map is 0)\n"));

  WriterOptions options;
  options.format = OutputFormat::kCsv;
  options.topk = 1;
  options.explain_topk = 2;
  options.explain_overlays = true;
  Record failed;
  failed.path = "bad.jpg";
  failed.error = RecordError{ErrorKind::kDecode, "bad.jpg: broken"};
  std::ostringstream csv;
  const auto writer = make_record_writer(options, csv);
  writer->write(record);
  writer->write(failed);
  writer->finish();
  CHECK(csv.str() ==
        "path,status,error_kind,error_message,index_1,label_1,score_1,"
        "crop_left,crop_top,crop_right,crop_bottom,explain_index_1,"
        "box_left_1,box_top_1,box_right_1,box_bottom_1,overlay_1,"
        "explain_index_2,box_left_2,box_top_2,box_right_2,box_bottom_2,"
        "overlay_2,kind,frame,time\r\n"
        "cat.jpg,ok,,,7,cat,0.75,38,0,462,375,7,38,187,462,375,"
        "out/cat.jpg.png,2,,,,,,image,,\r\n"
        "bad.jpg,error,decode,bad.jpg: broken,,,,,,,,,,,,,,,,,,,,image,,\r\n");
}
