#include "bench/sim_cluster.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace shardex {

// ------------------------------------------------------------------ mailbox

void SimCluster::Mailbox::Post(uint32_t worker,
                               v1::CoordinatorMessage message) {
  absl::MutexLock lock(&mu_);
  items_.emplace_back(worker, std::move(message));
}

void SimCluster::Mailbox::Closed(uint32_t worker, const absl::Status& reason) {
  absl::MutexLock lock(&mu_);
  if (closed_.ok()) {
    closed_ = absl::InternalError(absl::StrCat(
        "the scheduler closed simulated worker ", worker, ": ",
        reason.ToString(), " (a simulation bug: workers heartbeat)"));
  }
}

std::vector<std::pair<uint32_t, v1::CoordinatorMessage>>
SimCluster::Mailbox::Take() {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint32_t, v1::CoordinatorMessage>> items;
  items.swap(items_);
  return items;
}

absl::Status SimCluster::Mailbox::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

class SimCluster::SimLink : public WorkerLink {
 public:
  SimLink(std::shared_ptr<Mailbox> mailbox, uint32_t worker)
      : mailbox_(std::move(mailbox)), worker_(worker) {}
  void Send(v1::CoordinatorMessage message) override {
    mailbox_->Post(worker_, std::move(message));
  }
  void Close(const absl::Status& reason) override {
    mailbox_->Closed(worker_, reason);
  }

 private:
  const std::shared_ptr<Mailbox> mailbox_;
  const uint32_t worker_;
};

// ------------------------------------------------------------------ workers

bool SimCluster::LaterFirst::operator()(const Finish& a,
                                        const Finish& b) const {
  return std::tie(a.at, a.worker) > std::tie(b.at, b.worker);
}

SimCluster::SimCluster(std::vector<absl::Duration> run_times, uint32_t slots,
                       std::string payload)
    : slots_(slots), payload_(std::move(payload)) {
  workers_.resize(run_times.size());
  for (size_t i = 0; i < run_times.size(); ++i) {
    workers_[i].run_time = run_times[i];
  }
}

std::shared_ptr<WorkerLink> SimCluster::Link(uint32_t i) {
  return std::make_shared<SimLink>(mailbox_, i);
}

absl::Status SimCluster::closed() const { return mailbox_->closed(); }

void SimCluster::Deliver(absl::Time now) {
  for (auto& [i, msg] : mailbox_->Take()) {
    Worker& w = workers_[i];
    if (msg.has_assignments()) {
      for (const v1::ShardTask& t : msg.assignments().tasks()) {
        w.waiting.push_back(t.ref());
      }
    } else if (msg.has_cancel()) {
      Cancel(w, msg.cancel());
    }  // Registered; nothing else is sent for a job of fixed shards
    StartWaiting(i, now);
  }
}

// A cancelled attempt stops without a result (worker/executor.h).
void SimCluster::Cancel(Worker& w, const v1::CancelShards& cancel) {
  for (const v1::ShardRef& ref : cancel.shards()) {
    if (w.running.erase(KeyOf(ref)) > 0) {
      --w.busy;
      continue;
    }
    auto it = std::find_if(
        w.waiting.begin(), w.waiting.end(),
        [&](const v1::ShardRef& r) { return KeyOf(r) == KeyOf(ref); });
    if (it != w.waiting.end()) w.waiting.erase(it);
  }
  for (uint64_t job : cancel.job_ids()) {
    for (auto it = w.running.begin(); it != w.running.end();) {
      if (std::get<0>(*it) == job) {
        w.running.erase(it++);
      } else {
        ++it;
      }
    }
    w.busy = w.running.size();
    w.waiting.erase(
        std::remove_if(w.waiting.begin(), w.waiting.end(),
                       [&](const v1::ShardRef& r) { return r.job_id() == job; }),
        w.waiting.end());
  }
}

void SimCluster::StartWaiting(uint32_t i, absl::Time at) {
  Worker& w = workers_[i];
  while (w.busy < slots_ && !w.waiting.empty()) {
    const ShardRefKey key = KeyOf(w.waiting.front());
    w.waiting.pop_front();
    if (!w.running.insert(key).second) continue;  // sent twice
    ++w.busy;
    finishes_.push({at + w.run_time, i, key});
  }
}

absl::Time SimCluster::NextFinish() const {
  return finishes_.empty() ? absl::InfiniteFuture() : finishes_.top().at;
}

std::vector<std::pair<uint32_t, v1::ResultBatch>> SimCluster::TakeFinished(
    absl::Time now) {
  std::vector<std::pair<uint32_t, v1::ResultBatch>> batches;
  absl::flat_hash_map<uint32_t, size_t> index;  // worker -> batches[index]
  while (!finishes_.empty() && finishes_.top().at <= now) {
    const Finish f = finishes_.top();
    finishes_.pop();
    Worker& w = workers_[f.worker];
    if (w.running.erase(f.key) == 0) continue;  // cancelled meanwhile
    --w.busy;
    auto [it, added] = index.try_emplace(f.worker, batches.size());
    if (added) batches.emplace_back(f.worker, v1::ResultBatch());
    v1::ShardResult* r = batches[it->second].second.add_results();
    *r->mutable_ref() = RefOf(f.key);
    r->set_ok(true);
    r->set_payload(payload_);
    r->set_runtime_us(absl::ToInt64Microseconds(w.run_time));
    StartWaiting(f.worker, f.at);
  }
  return batches;
}

}  // namespace shardex
