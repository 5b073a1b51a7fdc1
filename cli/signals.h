// Signals: resnet-cli's only handlers. The library installs none; it
// registers its temporary files (temporary_files.h) and polls a stop flag.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

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

// For a server: while it lives, SIGINT and SIGTERM are blocked in every
// thread the calling thread starts afterwards (construct it before starting
// any), and the first of them runs `on_stop` on a thread of its own, where
// it may take locks and join threads as no signal handler may.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  void on_signal(std::function<void()> on_stop);
  bool received() const { return received_.load(); }

 private:
  sigset_t signals_{};
  sigset_t previous_mask_{};
  std::atomic<bool> done_{false};
  std::atomic<bool> received_{false};
  std::thread waiter_;
};

}  // namespace resnet_cli::cli
