#include "image/npy.h"

#include <string>

#include "base/file_util.h"

namespace resnet_cli {

void write_npy_float32(const std::filesystem::path& path,
                       const std::vector<std::int64_t>& shape,
                       const float* data) {
  std::string shape_text = "(";
  std::size_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    shape_text += std::to_string(shape[i]);
    shape_text += shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : "");
    count *= static_cast<std::size_t>(shape[i]);
  }
  shape_text += ")";
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Magic, version 1.0, header length; the header is padded with spaces and
  // ends in '\n' so that the data starts on a 64-byte boundary.
  const std::size_t preamble = 10;
  const std::size_t total = preamble + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  AtomicFile file(path);
  file.write(bytes);
  file.write(data, count * sizeof(float));
  file.commit();
}

}  // namespace resnet_cli
