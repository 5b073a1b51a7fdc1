// FFmpeg's messages, which OpenCV's backend would print to stderr, taken
// instead (internal to the video module): the last error line each thread
// saw, for the error record of the input it was reading.
#pragma once

#include <string>

namespace resnet_cli::detail {

// Installs the capture (once) and silences OpenCV's own logging. Call it
// before the first VideoCapture or libavformat call.
void capture_backend_messages();

// Forgets what this thread saw.
void clear_backend_message();

// The last error line FFmpeg logged on this thread, trimmed; "" if none.
std::string last_backend_message();

}  // namespace resnet_cli::detail
