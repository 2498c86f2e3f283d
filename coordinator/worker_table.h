// WorkerTable: the connected workers and the sessions not registered yet.
//
// A worker stream opens a session (OpenSession, capped at
// max_worker_sessions); its Register makes it a ConnectedWorker (Add), which
// lives until its stream ends or it misses heartbeats (Remove). Each
// ConnectedWorker records the attempts it holds (`running`, with Hold/Release)
// and the jobs whose JobDefinition it was sent (`jobs_sent`): those are the
// workers told when a job ends. Which worker should run what is Placement's
// question; the Scheduler asks it with this table's read-only view (workers()).
// The table also keeps, in step with Hold and Release, the ids of the
// workers that are not Full(): while no job prefetches, those are the only
// ones Dispatch needs to visit.
//
// Thread-safety: none. Owned by the Scheduler and used only under its lock.
#ifndef SHARDEX_COORDINATOR_WORKER_TABLE_H_
#define SHARDEX_COORDINATOR_WORKER_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/shard_ref_key.h"
#include "coordinator/scheduler_options.h"
#include "coordinator/worker_link.h"
#include "proto/shardex.pb.h"

namespace shardex {

// An attempt a worker holds.
struct HeldAttempt {
  uint32_t attempt = 0;
  bool command = false;  // in a process slot rather than a thread slot
};

// A registered worker as the coordinator sees it (worker/worker.h's Worker
// is the worker process's side of the session).
struct ConnectedWorker {
  uint64_t id = 0;
  shardex::v1::Register reg;  // without `running`
  std::string peer;
  std::shared_ptr<WorkerLink> link;
  // (job, shard) -> the attempt this worker holds. Changed only through
  // Hold and the Release calls, which keep running_commands and the
  // table's NotFull() set in step.
  using HeldMap = absl::flat_hash_map<ShardKey, HeldAttempt>;
  HeldMap running;
  uint64_t running_commands = 0;  // of `running`, those of command jobs
  absl::flat_hash_set<uint64_t> jobs_sent;  // JobDefinitions it has
  absl::Time connected;
  absl::Time last_seen;
  // Job definitions the worker says it holds (its last Heartbeat).
  uint64_t jobs_known = 0;
  // Its host's CPU, memory and load (its last Heartbeat's fields).
  shardex::v1::Heartbeat host;
  uint64_t completed = 0;
  bool draining = false;

  // Records that it holds `attempt` of (job, shard), replacing another.
  void Hold(uint64_t job_id, uint64_t shard, uint32_t attempt, bool command);
  void Release(uint64_t job_id, uint64_t shard);
  // Releases (job, shard) if the attempt it holds is `attempt` (one lookup:
  // once per result); returns whether it did.
  bool ReleaseAttempt(uint64_t job_id, uint64_t shard, uint32_t attempt);
  // Releases every attempt of `job_id`; returns how many it held.
  size_t ReleaseJob(uint64_t job_id);
  // It holds at least as many attempts as it has slots, of each kind: it
  // can take more only from a job whose shards are short enough to fetch
  // ahead (placement::Prefetches).
  bool Full() const;
  // What ListWorkers reports (quarantines are the jobs' to add).
  shardex::v1::WorkerInfo Info() const;

 private:
  friend class WorkerTable;

  // Release's one step, keeping running_commands in step with `running`.
  void Erase(HeldMap::iterator it);
  // Adds it to, or removes it from, its table's set of workers not Full().
  void NoteFullness();

  // The table's set, once WorkerTable::Add made it a member; else null.
  absl::btree_set<uint64_t>* not_full_ = nullptr;
};

// Workers by id, in the order they registered.
using WorkerMap = std::map<uint64_t, ConnectedWorker>;

// INVALID_ARGUMENT naming the field for a Register no worker would send
// (slots, text sizes, more running attempts than it could hold).
absl::Status CheckRegister(const shardex::v1::Register& reg,
                           const SchedulerOptions& options);

class WorkerTable {
 public:
  explicit WorkerTable(const SchedulerOptions& options);

  // ---- Sessions.
  // RESOURCE_EXHAUSTED beyond max_worker_sessions.
  absl::StatusOr<uint64_t> OpenSession(std::shared_ptr<WorkerLink> link,
                                       absl::Time now);
  void CloseSession(uint64_t session);
  // The session registers: false if it was closed for staying silent.
  bool ClaimSession(uint64_t session);
  // Sessions open longer than heartbeat_timeout without a Register: no
  // longer pending; their links, to close.
  std::vector<std::shared_ptr<WorkerLink>> TakeSilentSessions(absl::Time now);

  // ---- Workers.
  ConnectedWorker& Add(const shardex::v1::Register& reg, std::string peer,
                       std::shared_ptr<WorkerLink> link, absl::Time now);
  ConnectedWorker* Find(uint64_t id);
  void Remove(uint64_t id);
  // Ids of the workers that are not Full(), in registration order.
  const absl::btree_set<uint64_t>& NotFull() const { return not_full_; }
  // Workers silent for longer than heartbeat_timeout.
  std::vector<uint64_t> Silent(absl::Time now) const;
  // Thread slots of every worker: the cluster size for default shard counts.
  uint64_t TotalSlots() const;

  const WorkerMap& workers() const { return workers_; }
  WorkerMap& workers() { return workers_; }

 private:
  // A session not registered yet: closed if it stays silent too long.
  struct PendingSession {
    absl::Time opened;
    std::shared_ptr<WorkerLink> link;
  };

  const SchedulerOptions& options_;
  uint64_t next_worker_id_ = 1;
  uint64_t next_session_id_ = 1;
  WorkerMap workers_;
  absl::btree_set<uint64_t> not_full_;
  // Open sessions, and those of them not registered yet.
  uint64_t sessions_ = 0;
  absl::flat_hash_map<uint64_t, PendingSession> pending_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_WORKER_TABLE_H_
