#include "coordinator/worker_table.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace shardex {
namespace {

constexpr size_t kMaxRegisterTextBytes = 256;  // Register.host, .version

}  // namespace

void ConnectedWorker::Hold(uint64_t job_id, uint64_t shard, uint32_t attempt,
                           bool command) {
  HeldAttempt& held = running[{job_id, shard}];
  if (held.command) --running_commands;  // replaced
  held = HeldAttempt{attempt, command};
  if (command) ++running_commands;
  NoteFullness();
}

void ConnectedWorker::Release(uint64_t job_id, uint64_t shard) {
  auto it = running.find({job_id, shard});
  if (it != running.end()) Erase(it);
}

bool ConnectedWorker::ReleaseAttempt(uint64_t job_id, uint64_t shard,
                                     uint32_t attempt) {
  auto it = running.find({job_id, shard});
  if (it == running.end() || it->second.attempt != attempt) return false;
  Erase(it);
  return true;
}

void ConnectedWorker::Erase(HeldMap::iterator it) {
  if (it->second.command) --running_commands;
  running.erase(it);
  NoteFullness();
}

bool ConnectedWorker::Full() const {
  return running.size() - running_commands >= reg.slots() &&
         running_commands >= reg.processes();
}

void ConnectedWorker::NoteFullness() {
  if (not_full_ == nullptr) return;
  if (Full()) {
    not_full_->erase(id);
  } else {
    not_full_->insert(id);
  }
}

size_t ConnectedWorker::ReleaseJob(uint64_t job_id) {
  std::vector<uint64_t> shards;
  for (const auto& [key, held] : running) {
    if (key.first == job_id) shards.push_back(key.second);
  }
  for (uint64_t shard : shards) Release(job_id, shard);
  return shards.size();
}

shardex::v1::WorkerInfo ConnectedWorker::Info() const {
  shardex::v1::WorkerInfo info;
  info.set_worker_id(id);
  info.set_host(reg.host());
  info.set_slots(reg.slots());
  info.set_pid(reg.pid());
  info.set_version(reg.version());
  info.set_peer(peer);
  info.set_running(running.size());
  info.set_processes(reg.processes());
  info.set_completed(completed);
  info.set_connected_unix_ms(absl::ToUnixMillis(connected));
  info.set_last_heartbeat_unix_ms(absl::ToUnixMillis(last_seen));
  info.set_jobs_known(jobs_known);
  info.set_draining(draining);
  info.set_cpu_utilization(host.cpu_utilization());
  info.set_memory_total_bytes(host.memory_total_bytes());
  info.set_memory_available_bytes(host.memory_available_bytes());
  info.set_load1(host.load1());
  return info;
}

WorkerTable::WorkerTable(const SchedulerOptions& options) : options_(options) {}

absl::StatusOr<uint64_t> WorkerTable::OpenSession(
    std::shared_ptr<WorkerLink> link, absl::Time now) {
  if (sessions_ >= options_.max_worker_sessions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many worker sessions: ", sessions_,
                     " open, the coordinator's limit (raise it with "
                     "--max-worker-sessions)"));
  }
  ++sessions_;
  const uint64_t id = next_session_id_++;
  pending_[id] = PendingSession{now, std::move(link)};
  return id;
}

void WorkerTable::CloseSession(uint64_t session) {
  if (sessions_ > 0) --sessions_;
  pending_.erase(session);
}

bool WorkerTable::ClaimSession(uint64_t session) {
  return pending_.erase(session) > 0;
}

std::vector<std::shared_ptr<WorkerLink>> WorkerTable::TakeSilentSessions(
    absl::Time now) {
  // Sessions that never registered hold a place under
  // max_worker_sessions: not for longer than a silent worker would.
  std::vector<std::shared_ptr<WorkerLink>> silent;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.opened > options_.heartbeat_timeout) {
      silent.push_back(std::move(it->second.link));
      pending_.erase(it++);
    } else {
      ++it;
    }
  }
  return silent;
}

absl::Status CheckRegister(const shardex::v1::Register& reg,
                           const SchedulerOptions& options) {
  const uint32_t max_slots = options.max_worker_slots;
  if (reg.slots() == 0) {
    return absl::InvalidArgumentError("register.slots: must be at least 1");
  }
  for (const auto& [field, n] :
       {std::pair{"register.slots", reg.slots()},
        std::pair{"register.processes", reg.processes()}}) {
    if (n > max_slots) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", n,
                       " is more than the coordinator's limit of ", max_slots));
    }
  }
  for (const auto& [field, text] :
       {std::pair{"register.host", &reg.host()},
        std::pair{"register.version", &reg.version()}}) {
    if (text->size() > kMaxRegisterTextBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", text->size(),
                                                     " bytes, more than ",
                                                     kMaxRegisterTextBytes));
    }
  }
  // Attempts a worker can hold: its slots of each kind, each fed ahead by
  // up to max_prefetch; twice that allows for a change of options.
  const uint64_t can_hold =
      2 * (uint64_t{reg.slots()} + reg.processes() + 2 * options.max_prefetch);
  if (static_cast<uint64_t>(reg.running_size()) > can_hold) {
    return absl::InvalidArgumentError(
        absl::StrCat("register.running: ", reg.running_size(),
                     " attempts, more than a worker with ", reg.slots(),
                     " slots and ", reg.processes(), " processes can hold"));
  }
  return absl::OkStatus();
}

ConnectedWorker& WorkerTable::Add(const shardex::v1::Register& reg,
                                  std::string peer,
                                  std::shared_ptr<WorkerLink> link,
                                  absl::Time now) {
  const uint64_t id = next_worker_id_++;
  ConnectedWorker& w = workers_[id];
  w.id = id;
  w.reg = reg;
  w.reg.clear_running();
  w.peer = std::move(peer);
  w.link = std::move(link);
  w.connected = w.last_seen = now;
  w.not_full_ = &not_full_;
  w.NoteFullness();
  return w;
}

void WorkerTable::Remove(uint64_t id) {
  workers_.erase(id);
  not_full_.erase(id);
}

ConnectedWorker* WorkerTable::Find(uint64_t id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

std::vector<uint64_t> WorkerTable::Silent(absl::Time now) const {
  std::vector<uint64_t> silent;
  for (const auto& [id, w] : workers_) {
    if (now - w.last_seen > options_.heartbeat_timeout) silent.push_back(id);
  }
  return silent;
}

uint64_t WorkerTable::TotalSlots() const {
  uint64_t slots = 0;
  for (const auto& [id, w] : workers_) slots += w.reg.slots();
  return slots;
}

}  // namespace shardex
