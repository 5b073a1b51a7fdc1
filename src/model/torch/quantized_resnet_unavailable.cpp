// load_quantized_model in a build without the int8 engine (a pip wheel's
// LibTorch, or no libdnnl-dev; src/model/CMakeLists.txt says why): a
// quantized checkpoint is one line naming the file and the reason, exit 3.
#include "base/error.h"
#include "model/torch/quantized_resnet.h"
#include "weights/checkpoint.h"

namespace resnet_cli::detail {

std::unique_ptr<Model> load_quantized_model(const Checkpoint& checkpoint,
                                            const ArchSpec&,
                                            const ModelOptions&) {
  throw Error(ErrorKind::kDevice,
              checkpoint.path().string() +
                  " is quantized (int8), and this build of resnet-cli has no "
                  "int8 engine (it needs Debian's LibTorch and oneDNN's "
                  "libdnnl-dev)");
}

}  // namespace resnet_cli::detail
