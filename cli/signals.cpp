#include "signals.h"

#include <time.h>

#include <iterator>

#include "base/temporary_files.h"

namespace resnet_cli::cli {

namespace {

constexpr int kFatalSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<bool> g_interrupted{false};
struct sigaction g_previous_sigint {};

extern "C" void remove_temporaries_and_reraise(int signal_number) {
  remove_registered_temporaries();
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(signal_number, &fallback, nullptr);
  ::raise(signal_number);
}

// The first SIGINT stops the run; the next one goes to the handler before.
extern "C" void set_interrupted(int) {
  g_interrupted = true;
  ::sigaction(SIGINT, &g_previous_sigint, nullptr);
}

}  // namespace

void remove_temporaries_on_fatal_signals() {
  for (int signal_number : kFatalSignals) {
    struct sigaction current {};
    ::sigaction(signal_number, nullptr, &current);
    if (current.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal_number, &action, nullptr);
  }
}

GracefulInterrupt::GracefulInterrupt() {
  g_interrupted = false;
  struct sigaction action {};
  action.sa_handler = set_interrupted;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a read of --files-from on a terminal returns, so the
  // input ends there.
  action.sa_flags = 0;
  ::sigaction(SIGINT, nullptr, &g_previous_sigint);
  ::sigaction(SIGINT, &action, nullptr);
}

GracefulInterrupt::~GracefulInterrupt() {
  ::sigaction(SIGINT, &g_previous_sigint, nullptr);
}

const std::atomic<bool>& GracefulInterrupt::stop_flag() const {
  return g_interrupted;
}

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_);
}

void StopSignals::on_signal(std::function<void()> on_stop) {
  waiter_ = std::thread([this, on_stop = std::move(on_stop)] {
    // Polled, so that the destructor can end the wait without a signal.
    const timespec tick{0, 100'000'000};
    while (!done_) {
      if (::sigtimedwait(&signals_, nullptr, &tick) > 0) {
        received_ = true;
        on_stop();
        return;
      }
    }
  });
}

StopSignals::~StopSignals() {
  done_ = true;
  if (waiter_.joinable()) waiter_.join();
  ::pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

}  // namespace resnet_cli::cli
