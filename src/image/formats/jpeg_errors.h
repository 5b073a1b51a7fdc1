// libjpeg's error handling, shared by the JPEG decoder and encoder: errors
// keep their message and jump back to the setjmp of the libjpeg call
// instead of exiting the process. Internal to the image module.
#pragma once

// clang-format off
#include <cstdio>  // libjpeg's header needs FILE and size_t first
#include <jpeglib.h>
// clang-format on

#include <csetjmp>

namespace resnet_cli::detail {

struct JpegErrorManager {
  jpeg_error_mgr manager;  // first: libjpeg's err pointer points at it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// Keeps the message and jumps back to the setjmp.
inline void jpeg_error_to_jump(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

}  // namespace resnet_cli::detail
