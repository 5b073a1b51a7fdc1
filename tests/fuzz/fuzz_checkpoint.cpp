// libFuzzer target: the checkpoint reader. The first byte chooses between
// the bare unpickler (the rest is a pickle) and the whole reader (the rest
// is a file: zip, legacy or anything). Any failure must be resnet_cli::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/error.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"
#include "weights/pickle.h"

namespace {

const std::string& scratch_file() {
  static const std::string path =
      (std::filesystem::temp_directory_path() /
       ("resnet-cli-fuzz-" + std::to_string(::getpid()) + ".pth"))
          .string();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t* body = data + 1;
  const std::size_t body_size = size - 1;
  try {
    if (data[0] & 1) {
      resnet_cli::pickle::unpickle(body, body_size, "fuzz");
      return 0;
    }
    {
      std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(body),
                static_cast<std::streamsize>(body_size));
    }
    const resnet_cli::Checkpoint checkpoint(scratch_file());
    try {
      resnet_cli::check_resnet50_state_dict(checkpoint);
    } catch (const resnet_cli::Error&) {
    }
    for (const auto& tensor : checkpoint.tensors()) {
      checkpoint.read_storage(tensor.storage_key);
    }
  } catch (const resnet_cli::Error&) {
  }
  return 0;
}
