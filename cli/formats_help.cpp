#include "formats_help.h"

namespace resnet_cli::cli {

std::string format_extensions(const ImageFormat& format) {
  std::string text;
  for (const std::string& extension : format.extensions) {
    text += (text.empty() ? "" : ", ") + extension;
  }
  return text;
}

std::string formats_help() {
  std::string text =
      "Formats (read by content, never by extension; folders are scanned for "
      "these extensions unless --ext): ";
  bool first = true;
  for (const ImageFormat* format : image_formats()) {
    text += std::string(first ? "" : ", ") + format->name + " (" +
            format_extensions(*format) + ")";
    first = false;
  }
  return text + ".";
}

}  // namespace resnet_cli::cli
