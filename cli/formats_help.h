// The formats resnet-cli reads, in --help's footer and the man page: made
// from the table of image formats (image/image_format.h), so that a new
// format is named in both.
#pragma once

#include <string>

#include "image/image_format.h"

namespace resnet_cli::cli {

// "Formats (read by content, never by extension; folders are scanned for
// these extensions unless --ext): JPEG (jpg, jpeg, ...), PNG (png, apng), ..."
std::string formats_help();

// One format's extensions, comma-separated: "jpg, jpeg, jpe, jfif, mpo".
std::string format_extensions(const ImageFormat& format);

}  // namespace resnet_cli::cli
