#include "base/error.h"

namespace resnet_cli {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kPermissionDenied:
      return "permission_denied";
    case ErrorKind::kNotAFile:
      return "not_a_file";
    case ErrorKind::kEmptyFile:
      return "empty_file";
    case ErrorKind::kUnsupportedFormat:
      return "unsupported_format";
    case ErrorKind::kDecode:
      return "decode";
    case ErrorKind::kTooLarge:
      return "too_large";
    case ErrorKind::kSymlinkLoop:
      return "symlink_loop";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kUsage:
      return "usage";
    case ErrorKind::kWeights:
      return "weights";
    case ErrorKind::kDownload:
      return "download";
    case ErrorKind::kCheckpoint:
      return "checkpoint";
    case ErrorKind::kModel:
      return "model";
    case ErrorKind::kDevice:
      return "device";
    case ErrorKind::kOutput:
      return "output";
    case ErrorKind::kMerge:
      return "merge";
  }
  return "unknown";
}

bool is_input_error(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
    case ErrorKind::kPermissionDenied:
    case ErrorKind::kNotAFile:
    case ErrorKind::kEmptyFile:
    case ErrorKind::kUnsupportedFormat:
    case ErrorKind::kDecode:
    case ErrorKind::kTooLarge:
    case ErrorKind::kSymlinkLoop:
    case ErrorKind::kIo:
      return true;
    default:
      return false;
  }
}

}  // namespace resnet_cli
