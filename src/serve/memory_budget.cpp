#include "serve/memory_budget.h"

#include <algorithm>
#include <utility>

namespace resnet_cli::server {

BodyBudget::Lease::Lease(Lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

BodyBudget::Lease& BodyBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool BodyBudget::Lease::grow_to(std::size_t bytes) {
  if (bytes <= bytes_) return true;
  if (!budget_ || !budget_->take(bytes - bytes_)) return false;
  bytes_ = bytes;
  return true;
}

void BodyBudget::Lease::release() {
  if (budget_ && bytes_ > 0) budget_->give_back(bytes_);
  bytes_ = 0;
}

std::size_t BodyBudget::in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_;
}

bool BodyBudget::take(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > capacity_ - used_) return false;
  used_ += bytes;
  return true;
}

void BodyBudget::give_back(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  used_ -= bytes;
}

DecodeGate::DecodeGate(int threads, std::size_t capacity)
    : threads_(std::max(1, threads)), capacity_(capacity) {}

DecodeGate::Ticket DecodeGate::enter(std::size_t bytes) {
  bytes = std::min(bytes, capacity_);
  std::unique_lock<std::mutex> lock(mutex_);
  const std::uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  // First come, first served: a large image is not passed for ever by
  // small ones.
  changed_.wait(lock, [&] {
    return waiting_.front() == ticket && running_ < threads_ &&
           bytes <= capacity_ - used_;
  });
  waiting_.pop_front();
  ++running_;
  used_ += bytes;
  lock.unlock();
  changed_.notify_all();  // the next in line may fit too
  return Ticket(this, bytes);
}

void DecodeGate::Ticket::release() {
  if (gate_) gate_->leave(bytes_);
  gate_ = nullptr;
}

std::size_t DecodeGate::in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_;
}

std::size_t DecodeGate::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_.size();
}

void DecodeGate::leave(std::size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    used_ -= bytes;
  }
  changed_.notify_all();
}

}  // namespace resnet_cli::server
