// Reading torch.save checkpoints written by the oracle, good and hostile.
#include <catch2/catch.hpp>
#include <cstring>
#include <set>

#include "base/error.h"
#include "test_support.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"

using namespace resnet_cli;
using testing::checkpoint_fixture;
using testing::fixture;

namespace {

// A float32 tensor's values in C order, read through its strides.
std::vector<float> values_of(const Checkpoint& checkpoint,
                             const std::string& name) {
  const CheckpointTensor* tensor = checkpoint.find(name);
  REQUIRE(tensor);
  REQUIRE(tensor->type == pickle::ScalarType::kFloat32);
  const StorageBytes bytes = checkpoint.read_storage(tensor->storage_key);
  std::vector<float> storage(bytes.size / sizeof(float));
  std::memcpy(storage.data(), bytes.data, bytes.size);
  std::size_t count = 1;
  for (std::int64_t size : tensor->sizes)
    count *= static_cast<std::size_t>(size);
  std::vector<float> out;
  std::vector<std::int64_t> index(tensor->sizes.size(), 0);
  for (std::size_t n = 0; n < count; ++n) {
    std::int64_t offset = tensor->storage_offset;
    for (std::size_t d = 0; d < index.size(); ++d)
      offset += index[d] * tensor->strides[d];
    out.push_back(storage.at(static_cast<std::size_t>(offset)));
    for (std::size_t d = index.size(); d-- > 0;) {
      if (++index[d] < tensor->sizes[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

std::string load_error(const std::filesystem::path& path) {
  try {
    const Checkpoint checkpoint(path);
    check_resnet50_state_dict(checkpoint);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kCheckpoint);
    return e.what();
  }
  FAIL("loaded " << path);
  return "";
}

void check_values(const Checkpoint& checkpoint) {
  for (const std::string key :
       {"conv1.weight", "bn1.running_mean", "bn1.running_var",
        "layer4.2.bn3.running_var", "fc.weight", "fc.bias"}) {
    INFO(key);
    const auto expected =
        testing::load_npy(fixture("ref/param_" + key + ".npy")).floats();
    CHECK(values_of(checkpoint, key) == expected);
  }
}

}  // namespace

TEST_CASE("reads torch.save's zip format, strides and shared storages",
          "[checkpoint][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("zip"));
  CHECK(checkpoint.format() == "zip");
  CHECK_NOTHROW(check_resnet50_state_dict(checkpoint));
  CHECK(checkpoint_num_classes(checkpoint) == 1000);
  // Every torchvision key, num_batches_tracked included, in module order.
  const auto specs = resnet50_parameter_specs(1000);
  REQUIRE(checkpoint.tensors().size() == specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    CHECK(checkpoint.tensors()[i].name == specs[i].name);
    CHECK(checkpoint.tensors()[i].sizes == specs[i].shape);
  }
  // The fixture saves fc.weight transposed and bn1's statistics as two views
  // of one storage.
  const CheckpointTensor* fc = checkpoint.find("fc.weight");
  CHECK(fc->strides == std::vector<std::int64_t>{1, 1000});
  const CheckpointTensor* mean = checkpoint.find("bn1.running_mean");
  const CheckpointTensor* var = checkpoint.find("bn1.running_var");
  CHECK(mean->storage_key == var->storage_key);
  CHECK(var->storage_offset == 64);
  CHECK(checkpoint.find("bn1.num_batches_tracked")->type ==
        pickle::ScalarType::kInt64);
  check_values(checkpoint);
}

TEST_CASE("reads the legacy (pre-1.6) format", "[checkpoint][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("legacy"));
  CHECK(checkpoint.format() == "legacy");
  CHECK_NOTHROW(check_resnet50_state_dict(checkpoint));
  check_values(checkpoint);
}

TEST_CASE(
    "reads {'model': state_dict, 'args': Namespace} with module. prefixes",
    "[checkpoint][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("wrapped"));
  CHECK_NOTHROW(check_resnet50_state_dict(checkpoint));
  CHECK(checkpoint.find("module.conv1.weight") == nullptr);
  check_values(checkpoint);
}

TEST_CASE("reads float16 checkpoints", "[checkpoint][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("half"));
  CHECK_NOTHROW(check_resnet50_state_dict(checkpoint));
  CHECK(checkpoint.find("conv1.weight")->type == pickle::ScalarType::kFloat16);
  CHECK(checkpoint.find("bn1.num_batches_tracked")->type ==
        pickle::ScalarType::kInt64);
}

TEST_CASE("the class count comes from fc.weight", "[checkpoint][oracle]") {
  const Checkpoint checkpoint(checkpoint_fixture("ten_classes"));
  CHECK_NOTHROW(check_resnet50_state_dict(checkpoint));
  CHECK(checkpoint_num_classes(checkpoint) == 10);
}

TEST_CASE("a ResNet18 state_dict is refused with the offending keys",
          "[checkpoint][oracle]") {
  const std::string message = load_error(checkpoint_fixture("resnet18"));
  CHECK_THAT(message, Catch::Contains("resnet18.pth"));
  CHECK_THAT(message, Catch::Contains("it looks like ResNet18"));
  CHECK_THAT(message, Catch::Contains("missing keys: layer1.0.conv3.weight"));
  CHECK_THAT(message,
             Catch::Contains("shape mismatch: layer1.0.conv1.weight is "
                             "[64, 64, 3, 3] in the file, ResNet50 needs "
                             "[64, 64, 1, 1]"));
  CHECK_THAT(message, Catch::Contains("(and 160 more)"));
}

TEST_CASE("pickles that would run code are refused and do not run",
          "[checkpoint][oracle]") {
  const auto marker =
      fixture(testing::manifest().at("checkpoints").at("evil_marker"));
  std::filesystem::remove(marker);
  CHECK_THAT(load_error(checkpoint_fixture("evil_os_system")),
             Catch::Contains("refusing global 'os.system'"));
  CHECK_THAT(load_error(checkpoint_fixture("evil_torch_save")),
             Catch::Contains("refusing global 'posix.system'"));
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("broken files name the file and the reason", "[checkpoint][oracle]") {
  CHECK_THAT(
      load_error(checkpoint_fixture("truncated")),
      Catch::Contains("truncated.pth: not a readable torch.save zip archive"));
  CHECK_THAT(load_error(checkpoint_fixture("not_a_zip")),
             Catch::Contains("not_a_zip.pth: not a PyTorch checkpoint"));
  CHECK_THAT(load_error(checkpoint_fixture("empty")),
             Catch::Contains("empty.pth: file is empty"));
  CHECK_THAT(load_error(fixture("checkpoints/no_such_file.pth")),
             Catch::Contains("no_such_file.pth: no such file"));
  CHECK_THAT(load_error(fixture("checkpoints")),
             Catch::Contains("is a directory"));
}

TEST_CASE("the zip directory is read natively: zip64 archives, comments and "
          "compressed records",
          "[checkpoint][oracle]") {
  // Python's zipfile rewrites the fixture's records: once as zip64 (every
  // size and offset in the zip64 extra fields and end records) with an
  // archive comment, once deflated, which torch.save never writes.
  const auto dir = testing::temp_dir("zip_variants");
  const std::string script =
      "import sys, zipfile\n"
      "src, dst64, dstz = sys.argv[1:4]\n"
      "with zipfile.ZipFile(src) as s, zipfile.ZipFile(dst64, 'w', "
      "zipfile.ZIP_STORED, allowZip64=True) as d:\n"
      "    for info in s.infolist():\n"
      "        with d.open(info.filename, 'w', force_zip64=True) as f:\n"
      "            f.write(s.read(info))\n"
      "    d.comment = b'x' * 300\n"
      "with zipfile.ZipFile(src) as s, zipfile.ZipFile(dstz, 'w', "
      "zipfile.ZIP_DEFLATED) as d:\n"
      "    for info in s.infolist():\n"
      "        d.writestr(info.filename, s.read(info))\n";
  testing::write_text(dir / "rewrite.py", script);
  const auto result = testing::run_command(
      std::string(RESNET_CLI_TEST_PYTHON) + " '" +
      (dir / "rewrite.py").string() + "' '" +
      checkpoint_fixture("zip").string() + "' '" +
      (dir / "zip64.pth").string() + "' '" + (dir / "deflated.pth").string() +
      "'");
  REQUIRE(result.exit_code == 0);

  const Checkpoint zip64(dir / "zip64.pth");
  CHECK(zip64.format() == "zip");
  check_resnet50_state_dict(zip64);
  check_values(zip64);

  CHECK_THAT(load_error(dir / "deflated.pth"),
             Catch::Contains("deflated.pth: record 'data.pkl' is compressed "
                             "(zip method 8)"));
}
