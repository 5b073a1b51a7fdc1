// What of the CUDA path runs without a GPU: reading --device, the pipeline's
// plan for a device, and the pipeline feeding a device's batch queue (the
// pinned-buffer slots, submitted and collected in order while decoders fill
// the next), with the CPU stand-in queue and a model that sums its input.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "base/error.h"
#include "image/decode.h"
#include "image/png_encode.h"
#include "image/preprocess.h"
#include "model/batch_queue.h"
#include "model/device.h"
#include "model/model.h"
#include "run/pipeline.h"
#include "run/session.h"
#include "test_support.h"

using namespace resnet_cli;

TEST_CASE("device: --device reads cpu, cuda and cuda:N in any case") {
  CHECK_FALSE(parse_device("cpu").cuda);
  CHECK_FALSE(parse_device("CPU").cuda);
  CHECK(parse_device("cuda").cuda);
  CHECK(parse_device("cuda").index == 0);
  CHECK(parse_device("Cuda:3").index == 3);
  CHECK(parse_device("cuda:12").name() == "cuda:12");
  CHECK(parse_device("cpu").name() == "cpu");
  for (const std::string bad : {"gpu", "cuda:", "cuda:x", "cuda:1234",
                                "cuda:-1", "cuda0", " cpu", ""}) {
    INFO(bad);
    try {
      parse_device(bad);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kUsage);
      CHECK(std::string(e.what()).find("'" + bad + "'") != std::string::npos);
    }
  }
}

TEST_CASE(
    "On CUDA the plan is one feeding thread, batches of 64, every core "
    "decoding") {
  ModelOptions model;
  model.device = "cuda:1";
  PipelineOptions plan = plan_pipeline(PlanOptions{}, model, false, 16);
  CHECK(plan.workers == 1);
  CHECK(plan.batch_size == 64);
  CHECK(plan.batch_size == kCudaBatchSize);
  CHECK(plan.decode_threads == 16);
  // One image runs alone; a given batch size and thread count win.
  CHECK(plan_pipeline(PlanOptions{}, model, true, 16).batch_size == 1);
  PlanOptions given;
  given.batch_size = 128;
  given.decode_threads = 5;
  plan = plan_pipeline(given, model, false, 16);
  CHECK(plan.batch_size == 128);
  CHECK(plan.decode_threads == 5);
  // The CPU's plan is unchanged: one single-threaded worker per thread.
  model.device = "cpu";
  plan = plan_pipeline(PlanOptions{}, model, false, 16);
  CHECK(plan.workers == 16);
  CHECK(plan.batch_size == 2);
  model.device = "tpu";
  CHECK_THROWS_AS(plan_pipeline(PlanOptions{}, model, false, 16), Error);
}

namespace {

// A model whose "logits" are the sum of each image's floats and its first
// float, taking a while per pass, so that a slot written while in flight
// or an image put in another's row shows in the outputs.
class SummingModel final : public Model {
 public:
  void bind_thread(int) const override {}
  std::int64_t num_classes() const override { return 2; }
  std::int64_t feature_size() const override { return 2; }
  std::string architecture() const override { return "summing"; }
  std::string device() const override { return "stand-in"; }
  Precision precision() const override { return Precision::kFloat32; }
  void forward(const float* input, std::int64_t batch, std::int64_t height,
               std::int64_t width, float* logits) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const std::int64_t floats = 3 * height * width;
    for (std::int64_t i = 0; i < batch; ++i) {
      const float* image = input + i * floats;
      logits[2 * i] = std::accumulate(image, image + floats, 0.0f);
      logits[2 * i + 1] = image[0];
    }
    ++passes;
  }
  void features(const float* input, std::int64_t batch, std::int64_t height,
                std::int64_t width, float* out) const override {
    forward(input, batch, height, width, out);
  }
  std::unique_ptr<BatchQueue> open_batch_queue(
      const BatchShape& shape) const override {
    ++queues;
    return make_host_batch_queue(*this, shape, 3);
  }
  // Never called: the pipeline under test does not explain.
  void forward_with_feature_maps(const float*, std::int64_t, std::int64_t,
                                 std::int64_t, float*, float*) const override {
    throw std::logic_error("not a feature-map model");
  }
  std::vector<float> classifier_weight() const override { return {}; }
  mutable std::atomic<int> passes{0};
  mutable std::atomic<int> queues{0};
};

// `count` small PNGs of different colours and sizes in `root`.
std::vector<std::string> write_images(const std::filesystem::path& root,
                                      int count) {
  std::vector<std::string> paths;
  for (int i = 0; i < count; ++i) {
    RgbImage image;
    image.width = 10 + i % 7;
    image.height = 9 + i % 5;
    image.pixels.resize(static_cast<std::size_t>(image.width) * image.height *
                        3);
    for (std::size_t p = 0; p < image.pixels.size(); ++p) {
      image.pixels[p] = static_cast<std::uint8_t>((i * 37 + p * 11) % 256);
    }
    char file[32];
    std::snprintf(file, sizeof file, "img%03d.png", i);
    const auto path = root / file;
    std::ofstream(path, std::ios::binary)
        << detail::encode_png(image, path.string());
    paths.push_back(path.string());
  }
  return paths;
}

struct FolderRun {
  PipelineStats stats;
  std::vector<Record> records;
};

// Embeddings (resized to 8, cropped to 6) of every image in `root`, through
// the pipeline and the model's batch queue.
FolderRun run_folder(const std::filesystem::path& root, const Model& model,
                     int batch_size, int decode_threads) {
  ClassifyJob job;
  job.model = &model;
  job.transform.resize_size = 8;
  job.transform.crop_size = 6;
  job.output_type = OutputType::kEmbedding;
  const std::vector<std::string> no_labels;
  job.labels = &no_labels;
  PipelineOptions options;
  options.batch_size = batch_size;
  options.decode_threads = decode_threads;
  InputOptions input;
  input.paths = {root.string()};
  InputScanner scanner(input);
  FolderRun run;
  const std::atomic<bool> stop{false};
  run.stats = run_pipeline(
      scanner, job, options,
      [&](Record&& record) { run.records.push_back(std::move(record)); }, stop);
  return run;
}

}  // namespace

TEST_CASE(
    "The pipeline feeds a device queue in order: every image in its own row, "
    "none overwritten in flight") {
  const auto root = testing::temp_dir("device-pipeline");
  const std::vector<std::string> paths = write_images(root, 41);
  SummingModel model;
  const auto [stats, records] = run_folder(root, model, 4, 3);

  CHECK(model.queues == 1);
  REQUIRE(records.size() == paths.size());
  CHECK(stats.ok == paths.size());
  CHECK(stats.batches == static_cast<std::uint64_t>(model.passes.load()));
  CHECK(stats.batches >= paths.size() / 4);
  std::vector<float> expected(3 * 6 * 6);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    INFO(paths[i]);
    CHECK(records[i].path == paths[i]);
    REQUIRE_FALSE(records[i].error);
    TransformSpec transform;
    transform.resize_size = 8;
    transform.crop_size = 6;
    preprocess(decode_image_input(paths[i], DecodeOptions{}), transform,
               expected.data());
    REQUIRE(records[i].embedding.size() == 2);
    CHECK(records[i].embedding[0] ==
          std::accumulate(expected.begin(), expected.end(), 0.0f));
    CHECK(records[i].embedding[1] == expected[0]);
  }
}

TEST_CASE("A broken image in the device pipeline is its own error record") {
  const auto root = testing::temp_dir("device-broken");
  write_images(root, 9);
  std::ofstream(root / "img004.png", std::ios::binary) << "not a png";
  SummingModel model;
  const auto [stats, records] = run_folder(root, model, 64, 2);
  REQUIRE(records.size() == 9);
  CHECK(stats.failed == 1);
  CHECK(records[4].error);
  CHECK(records[5].embedding.size() == 2);
}

TEST_CASE("The stand-in queue refuses what a device queue must never see") {
  SummingModel model;
  BatchShape shape;
  shape.max_batch = 2;
  shape.height = shape.width = 2;
  const auto queue = make_host_batch_queue(model, shape, 3);
  REQUIRE(queue->slots() == 3);
  CHECK(queue->outputs_per_image() == 2);
  std::fill(queue->input(0), queue->input(0) + 24, 1.0f);
  std::fill(queue->input(1), queue->input(1) + 24, 2.0f);
  queue->submit(0, 2);
  CHECK_THROWS_AS(queue->submit(0, 1), std::logic_error);  // in flight
  CHECK_THROWS_AS(queue->submit(2, 3), std::logic_error);  // past max_batch
  queue->submit(1, 1);
  CHECK_THROWS_AS(queue->collect(1), std::logic_error);  // not the oldest
  const float* first = queue->collect(0);
  CHECK(first[0] == 12.0f);
  CHECK(first[2] == 12.0f);
  CHECK(queue->collect(1)[0] == 24.0f);
  CHECK_THROWS_AS(queue->collect(1), std::logic_error);  // nothing in flight
}
