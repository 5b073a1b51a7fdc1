#include "base/temporary_files.h"

#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>

namespace resnet_cli {

namespace {

// A slot is free (0), being filled or emptied (1), or holds a path (2). Only
// lock-free atomics and fixed buffers: a signal handler reads them.
constexpr int kSlots = 16;
struct Slot {
  std::atomic<int> state{0};
  char path[PATH_MAX];
};
Slot g_slots[kSlots];

static_assert(std::atomic<int>::is_always_lock_free);

}  // namespace

TemporaryFileRegistration::TemporaryFileRegistration(const std::string& path) {
  if (path.size() >= PATH_MAX) return;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(2);
    slot_ = i;
    return;
  }
}

TemporaryFileRegistration::~TemporaryFileRegistration() {
  if (slot_ >= 0) g_slots[slot_].state.store(0);
}

void remove_registered_temporaries() noexcept {
  for (Slot& slot : g_slots) {
    if (slot.state.load() == 2) ::unlink(slot.path);
  }
}

}  // namespace resnet_cli
