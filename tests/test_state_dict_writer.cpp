// write_state_dict read back by checkpoint.h (Python's reading of the same
// format is checked by the train tests, against torch.load).
#include <catch2/catch.hpp>
#include <cstring>
#include <numeric>

#include "base/error.h"
#include "base/file_util.h"
#include "test_support.h"
#include "weights/checkpoint.h"
#include "weights/state_dict_writer.h"

using namespace resnet_cli;

namespace {

std::vector<float> ramp(std::size_t count, float start) {
  std::vector<float> values(count);
  std::iota(values.begin(), values.end(), start);
  return values;
}

StateDictEntry entry(std::string name, pickle::ScalarType type,
                     std::vector<std::int64_t> sizes, const void* data) {
  StateDictEntry out;
  out.name = std::move(name);
  out.type = type;
  out.sizes = std::move(sizes);
  out.data = data;
  return out;
}

}  // namespace

TEST_CASE("a written state_dict reads back: names, order, types, shapes, bytes",
          "[checkpoint]") {
  // Sizes that take each integer opcode: 1 byte, 2 bytes, 4 bytes.
  const std::vector<float> conv = ramp(4 * 3 * 3 * 3, 0.5F);
  const std::vector<float> wide = ramp(70000, -3.0F);
  const std::vector<float> bias = ramp(300, 1.0F);
  const std::int64_t batches = 123456789012;  // past 32 bits
  const std::vector<StateDictEntry> entries = {
      entry("layer1.0.conv1.weight", pickle::ScalarType::kFloat32, {4, 3, 3, 3},
            conv.data()),
      entry("fc.weight", pickle::ScalarType::kFloat32, {2, 35000}, wide.data()),
      entry("fc.bias", pickle::ScalarType::kFloat32, {300}, bias.data()),
      entry("bn1.num_batches_tracked", pickle::ScalarType::kInt64, {},
            &batches)};
  const auto dir = testing::temp_dir("state-dict-writer");
  const auto path = dir / "model.pth";
  AtomicFile file(path);
  write_state_dict(file, entries);
  file.commit();

  const Checkpoint checkpoint(path);
  CHECK(checkpoint.format() == "zip");
  REQUIRE(checkpoint.tensors().size() == entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const CheckpointTensor& tensor = checkpoint.tensors()[i];
    const StateDictEntry& entry = entries[i];
    INFO(entry.name);
    CHECK(tensor.name == entry.name);
    CHECK(tensor.type == entry.type);
    CHECK(tensor.sizes == entry.sizes);
    CHECK(tensor.storage_offset == 0);
    CHECK(tensor.storage_numel == static_cast<std::int64_t>(numel(entry)));
    std::int64_t stride = 1;
    for (std::size_t d = tensor.sizes.size(); d-- > 0;) {
      CHECK(tensor.strides[d] == stride);
      stride *= tensor.sizes[d];
    }
    const StorageBytes bytes = checkpoint.read_storage(tensor.storage_key);
    const std::size_t size = numel(entry) * pickle::element_size(entry.type);
    REQUIRE(bytes.size == size);
    CHECK(std::memcmp(bytes.data, entry.data, size) == 0);
  }
  // The same entries give the same bytes (no timestamps).
  const auto again = dir / "again.pth";
  AtomicFile second(again);
  write_state_dict(second, entries);
  second.commit();
  CHECK(testing::read_file(again) == testing::read_file(path));
}

TEST_CASE("a state_dict over the zip format's 4 GiB is refused before writing",
          "[checkpoint]") {
  // The size check comes before any data is read, so no 4 GiB buffer is
  // needed: the entry's pointer is never followed.
  const float nothing = 0;
  const std::vector<StateDictEntry> entries = {entry(
      "fc.weight", pickle::ScalarType::kFloat32, {1 << 20, 1 << 10}, &nothing)};
  const auto path = testing::temp_dir("state-dict-huge") / "model.pth";
  AtomicFile file(path);
  try {
    write_state_dict(file, entries);
    FAIL("wrote a 4 GiB state_dict");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kOutput);
    CHECK_THAT(e.what(),
               Catch::Contains(path.string()) && Catch::Contains("4 GiB"));
  }
  CHECK(file.stream().tellp() == 0);
}

TEST_CASE("a quantized state_dict reads back with its scales and zero points",
          "[checkpoint]") {
  const std::vector<std::int8_t> weight = {-128, -1, 0, 1, 5, 127};
  const std::vector<std::uint8_t> activations = {0, 7, 255, 128};
  const std::vector<float> bias = {0.5F, -1.5F, 2.0F};
  StateDictQuantization per_channel;
  per_channel.per_channel = true;
  per_channel.scales = {0.25, 0.125, 1.0 / 3};
  per_channel.zero_points = {0, 0, 0};
  StateDictQuantization per_tensor;
  per_tensor.scale = 0.0390625;
  per_tensor.zero_point = 128;
  StateDictEntry conv =
      entry("conv.weight", pickle::ScalarType::kQInt8, {3, 2}, weight.data());
  conv.quantization = &per_channel;
  StateDictEntry act =
      entry("act", pickle::ScalarType::kQUInt8, {2, 2}, activations.data());
  act.quantization = &per_tensor;
  StateDictEntry dtype;
  dtype.name = "fc._packed_params.dtype";
  dtype.dtype = "qint8";
  StateDictEntry packed;
  packed.name = "fc._packed_params._packed_params";
  packed.tuple.push_back(conv);
  packed.tuple.push_back(
      entry("bias", pickle::ScalarType::kFloat32, {3}, bias.data()));
  const auto path = testing::temp_dir("quantized-writer") / "q.pth";
  AtomicFile file(path);
  write_state_dict(file, {conv, act, dtype, packed},
                   {{"fc", 3}, {"fc._packed_params", 3}});
  file.commit();

  const Checkpoint checkpoint(path);
  CHECK(checkpoint.is_quantized());
  const CheckpointTensor* read = checkpoint.find("conv.weight");
  REQUIRE(read);
  CHECK(read->type == pickle::ScalarType::kQInt8);
  REQUIRE(read->quantization);
  CHECK(read->quantization->scheme == pickle::QScheme::kPerChannelAffine);
  CHECK(read->quantization->scales == per_channel.scales);
  CHECK(read->quantization->zero_points == std::vector<double>{0, 0, 0});
  const StorageBytes bytes = checkpoint.read_storage(read->storage_key);
  CHECK(std::memcmp(bytes.data, weight.data(), weight.size()) == 0);
  const CheckpointTensor* per = checkpoint.find("act");
  REQUIRE(per);
  CHECK(per->quantization->scheme == pickle::QScheme::kPerTensorAffine);
  CHECK(per->quantization->scale == 0.0390625);
  CHECK(per->quantization->zero_point == 128);
  REQUIRE(checkpoint.find_dtype("fc._packed_params.dtype"));
  CHECK(checkpoint.find_dtype("fc._packed_params.dtype")->dtype == "qint8");
  // The packed tuple reads as the two tensors of older files' names.
  REQUIRE(checkpoint.find("fc._packed_params.weight"));
  CHECK(checkpoint.find("fc._packed_params.weight")->quantization);
  REQUIRE(checkpoint.find("fc._packed_params.bias"));
  CHECK(checkpoint.find("fc._packed_params.bias")->sizes ==
        std::vector<std::int64_t>{3});
}
