// The temporary files the library is writing (a download's .partial file, an
// output's temporary name), known process-wide so that the front end's signal
// handler can remove them before the process dies. The library installs no
// signal handler itself.
#pragma once

#include <string>

namespace resnet_cli {

// Registers `path` for as long as it lives. Registration is best effort: when
// the path is too long or every slot is taken, the file is not removed on a
// signal (it is still removed by its owner's destructor).
class TemporaryFileRegistration {
 public:
  explicit TemporaryFileRegistration(const std::string& path);
  ~TemporaryFileRegistration();
  TemporaryFileRegistration(const TemporaryFileRegistration&) = delete;
  TemporaryFileRegistration& operator=(const TemporaryFileRegistration&) =
      delete;

 private:
  int slot_ = -1;
};

// Unlinks every registered file. Async-signal-safe: for a signal handler.
void remove_registered_temporaries() noexcept;

}  // namespace resnet_cli
