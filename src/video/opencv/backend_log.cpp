#include "video/opencv/backend_log.h"

extern "C" {
#include <libavutil/log.h>
}

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <opencv2/core/utils/logger.hpp>

namespace resnet_cli::detail {

namespace {

thread_local std::string t_partial;  // a message still without its newline
thread_local std::string t_last;     // the last complete error line

// OpenCV's backend sets FFmpeg's level to AV_LOG_ERROR on every open but
// leaves the callback alone, so this one stays; it filters by level itself
// (av_log's own filter lives in the default callback).
void on_message(void* /*context*/, int level, const char* format,
                va_list arguments) {
  if (level > AV_LOG_ERROR) return;
  char line[512];
  std::vsnprintf(line, sizeof line, format, arguments);
  t_partial += line;
  if (t_partial.empty() || t_partial.back() != '\n') return;
  while (!t_partial.empty() &&
         (t_partial.back() == '\n' || t_partial.back() == ' ' ||
          t_partial.back() == '.')) {
    t_partial.pop_back();
  }
  if (!t_partial.empty()) t_last = t_partial;
  t_partial.clear();
}

}  // namespace

void capture_backend_messages() {
  static std::once_flag once;
  std::call_once(once, [] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    av_log_set_callback(on_message);
  });
}

void clear_backend_message() {
  t_partial.clear();
  t_last.clear();
}

std::string last_backend_message() { return t_last; }

}  // namespace resnet_cli::detail
