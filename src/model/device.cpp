#include "model/device.h"

#include "base/error.h"
#include "base/text.h"

namespace resnet_cli {

std::string DeviceSpec::name() const {
  return cuda ? "cuda:" + std::to_string(index) : "cpu";
}

DeviceSpec parse_device(const std::string& text) {
  const std::string lower = detail::ascii_lower(text);
  DeviceSpec spec;
  if (lower == "cpu") return spec;
  spec.cuda = true;
  if (lower == "cuda") return spec;
  const std::string prefix = "cuda:";
  const std::string digits =
      lower.rfind(prefix, 0) == 0 ? lower.substr(prefix.size()) : "";
  if (digits.empty() || digits.size() > 3 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ErrorKind::kUsage,
                "unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
  }
  spec.index = std::stoi(digits);
  return spec;
}

}  // namespace resnet_cli
