#include "coordinator/attempt_log.h"

#include <algorithm>
#include <limits>

namespace shardex {
namespace {

namespace v1 = ::shardex::v1;

template <typename T>
T Saturate(uint64_t v) {
  return static_cast<T>(std::min<uint64_t>(v, std::numeric_limits<T>::max()));
}

}  // namespace

uint32_t AttemptLog::WorkerIndex(uint64_t worker_id, absl::string_view host) {
  auto [it, inserted] = worker_index_.try_emplace(worker_id, workers_.size());
  if (inserted) workers_.emplace_back(worker_id, std::string(host));
  return it->second;
}

uint32_t AttemptLog::Start(uint64_t shard, uint32_t attempt,
                           uint64_t worker_id, absl::string_view host,
                           absl::Time start, bool speculative) {
  if (entries_.size() >= max_entries_) {
    ++dropped_;
    return kNotLogged;
  }
  Entry& e = entries_.emplace_back();
  e.shard = shard;
  e.attempt = attempt;
  e.worker = WorkerIndex(worker_id, host);
  e.start_ms = absl::ToUnixMillis(start);
  if (speculative) e.flags |= kSpeculative;
  return static_cast<uint32_t>(entries_.size() - 1);
}

void AttemptLog::End(uint32_t index, const Ending& ending) {
  if (index >= entries_.size()) return;  // kNotLogged
  Entry& e = entries_[index];
  if (e.flags & kEnded) return;
  e.flags |= kEnded;
  e.outcome = static_cast<uint8_t>(ending.outcome);
  const int64_t end_ms = absl::ToUnixMillis(ending.end);
  e.end_delta_ms = Saturate<uint32_t>(
      static_cast<uint64_t>(std::max<int64_t>(0, end_ms - e.start_ms)));
  e.runtime_us = ending.runtime_us;
  e.bytes_out = Saturate<uint32_t>(ending.bytes_out);
  if (ending.exit_code.has_value()) {
    e.flags |= kHasExitCode;
    e.exit_code = *ending.exit_code;
  }
  if (ending.outcome == v1::ATTEMPT_FAILED && !ending.error.empty()) {
    absl::string_view error = ending.error;
    if (error.size() > kMaxErrorBytes) {
      error = error.substr(error.size() - kMaxErrorBytes);
      // Start at a character, not inside one: records are UTF-8.
      while (!error.empty() && (static_cast<unsigned char>(error[0]) & 0xC0) == 0x80) {
        error.remove_prefix(1);
      }
    }
    errors_[index] = std::string(error);
  }
}

void AttemptLog::ExpectLate(uint32_t index) {
  if (index >= entries_.size()) return;
  late_[{entries_[index].shard, entries_[index].attempt}] = index;
}

bool AttemptLog::Late(uint64_t shard, uint32_t attempt, absl::Time end,
                      uint64_t runtime_us, uint64_t bytes_out) {
  auto it = late_.find(std::make_pair(shard, attempt));
  if (it == late_.end()) return false;
  Entry& e = entries_[it->second];
  late_.erase(it);
  e.outcome = v1::ATTEMPT_DISCARDED;
  e.runtime_us = runtime_us;
  e.bytes_out = Saturate<uint32_t>(bytes_out);
  const int64_t end_ms = absl::ToUnixMillis(end);
  e.end_delta_ms = Saturate<uint32_t>(
      static_cast<uint64_t>(std::max<int64_t>(0, end_ms - e.start_ms)));
  return true;
}

v1::AttemptRecord AttemptLog::Record(uint32_t index) const {
  const Entry& e = entries_[index];
  v1::AttemptRecord r;
  r.set_shard(e.shard);
  r.set_attempt(e.attempt);
  r.set_worker_id(workers_[e.worker].first);
  r.set_host(workers_[e.worker].second);
  r.set_start_unix_ms(e.start_ms);
  if (e.flags & kEnded) r.set_end_unix_ms(e.start_ms + e.end_delta_ms);
  r.set_runtime_us(e.runtime_us);
  r.set_outcome(static_cast<v1::AttemptOutcome>(e.outcome));
  if (e.flags & kHasExitCode) r.set_exit_code(e.exit_code);
  r.set_bytes_out(e.bytes_out);
  r.set_speculative((e.flags & kSpeculative) != 0);
  if (auto it = errors_.find(index); it != errors_.end()) {
    r.set_error(it->second);
  }
  return r;
}

v1::ListAttemptsResponse AttemptLog::Page(uint64_t start, uint32_t max_count,
                                          uint64_t max_bytes) const {
  v1::ListAttemptsResponse page;
  const uint64_t last =
      std::min<uint64_t>(entries_.size(), start + uint64_t{max_count});
  uint64_t end = start;
  uint64_t bytes = 0;
  for (; end < last; ++end) {
    v1::AttemptRecord r = Record(static_cast<uint32_t>(end));
    bytes += r.ByteSizeLong() + 4;  // and its tag and length
    if (bytes > max_bytes && page.attempts_size() > 0) break;
    *page.add_attempts() = std::move(r);
  }
  page.set_next(std::max(start, end));
  page.set_total(entries_.size());
  page.set_more(end < entries_.size());
  page.set_dropped(dropped_);
  return page;
}

uint64_t AttemptLog::bytes() const {
  uint64_t n = sizeof(*this) + entries_.capacity() * sizeof(Entry);
  for (const auto& [id, host] : workers_) n += 32 + host.size();
  for (const auto& [i, error] : errors_) n += 48 + error.size();
  return n;
}

std::string AttemptLog::Serialize() const {
  return Page(0, Saturate<uint32_t>(entries_.size())).SerializeAsString();
}

void AttemptLog::Add(const v1::AttemptRecord& r) {
  const uint32_t index =
      Start(r.shard(), r.attempt(), r.worker_id(), r.host(),
            absl::FromUnixMillis(r.start_unix_ms()), r.speculative());
  if (index == kNotLogged || r.outcome() == v1::ATTEMPT_RUNNING) return;
  Ending ending;
  ending.outcome = r.outcome();
  ending.end = absl::FromUnixMillis(r.end_unix_ms());
  ending.runtime_us = r.runtime_us();
  if (r.has_exit_code()) ending.exit_code = r.exit_code();
  ending.bytes_out = r.bytes_out();
  ending.error = r.error();
  End(index, ending);
}

bool AttemptLog::Parse(absl::string_view bytes) {
  v1::ListAttemptsResponse all;
  if (!all.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  AttemptLog parsed(max_entries_);
  for (const v1::AttemptRecord& r : all.attempts()) parsed.Add(r);
  parsed.dropped_ += all.dropped();
  *this = std::move(parsed);
  return true;
}

}  // namespace shardex
