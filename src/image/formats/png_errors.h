// libpng's error and warning callbacks, shared by the PNG decoder and
// encoder. Internal to the image module.
#pragma once

#include <png.h>

#include <cstdio>

namespace resnet_cli::detail {

// Where libpng's last error message goes; the error pointer of a png_struct.
struct PngErrorSink {
  char message[256] = "";
};

// Keeps the message and jumps back to the setjmp of the libpng call.
inline void png_error_to_sink(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngErrorSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof sink->message, "%s", message);
  png_longjmp(png, 1);
}

// libpng's warnings are never printed.
inline void png_ignore_warning(png_structp, png_const_charp) {}

}  // namespace resnet_cli::detail
