// Signals: resnet-cli's only handlers. The library installs none; it
// registers its temporary files (temporary_files.h) and polls a stop flag.
#pragma once

#include <signal.h>

#include <atomic>

namespace resnet_cli::cli {

// For the whole process: SIGINT, SIGTERM and SIGHUP remove the library's
// registered temporary files (a download's .partial, an output's temporary),
// then end the process as the signal would have. A signal the process
// ignores (nohup) stays ignored.
void remove_temporaries_on_fatal_signals();

// While it lives, the first SIGINT only sets stop_flag(): a run starts
// nothing new, writes what is in flight and exits 130. A second SIGINT acts
// as before (removes temporaries, ends the process).
class GracefulInterrupt {
 public:
  GracefulInterrupt();
  ~GracefulInterrupt();
  GracefulInterrupt(const GracefulInterrupt&) = delete;
  GracefulInterrupt& operator=(const GracefulInterrupt&) = delete;

  const std::atomic<bool>& stop_flag() const;
  bool interrupted() const { return stop_flag().load(); }
};

}  // namespace resnet_cli::cli
