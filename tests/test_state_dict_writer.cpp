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

}  // namespace

TEST_CASE("a written state_dict reads back: names, order, types, shapes, bytes",
          "[checkpoint]") {
  // Sizes that take each integer opcode: 1 byte, 2 bytes, 4 bytes.
  const std::vector<float> conv = ramp(4 * 3 * 3 * 3, 0.5F);
  const std::vector<float> wide = ramp(70000, -3.0F);
  const std::vector<float> bias = ramp(300, 1.0F);
  const std::int64_t batches = 123456789012;  // past 32 bits
  const std::vector<StateDictEntry> entries = {
      {"layer1.0.conv1.weight",
       pickle::ScalarType::kFloat32,
       {4, 3, 3, 3},
       conv.data()},
      {"fc.weight", pickle::ScalarType::kFloat32, {2, 35000}, wide.data()},
      {"fc.bias", pickle::ScalarType::kFloat32, {300}, bias.data()},
      {"bn1.num_batches_tracked", pickle::ScalarType::kInt64, {}, &batches}};
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
  const std::vector<StateDictEntry> entries = {{"fc.weight",
                                                pickle::ScalarType::kFloat32,
                                                {1 << 20, 1 << 10},
                                                &nothing}};
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
