// The server's memory, bounded whatever clients send: request bodies
// (--body-memory) and image decodes (--decode-memory) each draw on a budget
// of bytes, so that the server's peak is its memory when idle plus these
// budgets (README: Serving, "Memory").
//
// BodyBudget never waits: it answers at once, on the event loop, whether a
// body may grow. DecodeGate makes a decode wait, first come first served,
// until both a decode thread and the bytes its image needs are free.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace resnet_cli::server {

class BodyBudget {
 public:
  explicit BodyBudget(std::size_t capacity) : capacity_(capacity) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // Bytes held against the budget; given back when destroyed. Move-only.
  class Lease {
   public:
    Lease() = default;
    explicit Lease(BodyBudget* budget) : budget_(budget) {}
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { release(); }

    // Holds `bytes` in all (never less than now); false, holding what it
    // held, when the budget has no room for the difference.
    bool grow_to(std::size_t bytes);
    std::size_t bytes() const { return bytes_; }
    void release();

   private:
    BodyBudget* budget_ = nullptr;
    std::size_t bytes_ = 0;
  };

  Lease lease() { return Lease(this); }
  std::size_t capacity() const { return capacity_; }
  std::size_t in_use() const;

 private:
  bool take(std::size_t bytes);
  void give_back(std::size_t bytes);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::size_t used_ = 0;
};

class DecodeGate {
 public:
  // At most `threads` decodes at once, holding at most `capacity` bytes.
  DecodeGate(int threads, std::size_t capacity);
  DecodeGate(const DecodeGate&) = delete;
  DecodeGate& operator=(const DecodeGate&) = delete;

  // A decode's right to run; released when destroyed. Move-only.
  class Ticket {
   public:
    Ticket(DecodeGate* gate, std::size_t bytes) : gate_(gate), bytes_(bytes) {}
    Ticket(Ticket&& other) noexcept : gate_(other.gate_), bytes_(other.bytes_) {
      other.gate_ = nullptr;
    }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() { release(); }
    void release();

   private:
    DecodeGate* gate_;
    std::size_t bytes_;
  };

  // Waits, in arrival order, until a thread and `bytes` are free. The caller
  // checks that `bytes` fits capacity() first: a larger request would wait
  // for ever, so it is given the whole budget instead.
  Ticket enter(std::size_t bytes);

  std::size_t capacity() const { return capacity_; }
  std::size_t in_use() const;
  // Decodes waiting in enter().
  std::size_t waiting() const;

 private:
  void leave(std::size_t bytes);

  const int threads_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::uint64_t> waiting_;  // tickets, in arrival order
  std::uint64_t next_ticket_ = 0;
  int running_ = 0;
  std::size_t used_ = 0;
};

}  // namespace resnet_cli::server
