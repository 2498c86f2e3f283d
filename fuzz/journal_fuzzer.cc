// journal_fuzzer: a coordinator restarting on a fuzzed state directory.
// The state is opened with OpenSqliteJournal, loaded, and handed to
// Scheduler::Recover, which keeps ended jobs and re-plans unfinished ones
// from their journaled specs (and reduces those whose shards were all
// accepted). Then a worker may connect, every job is listed, unfinished
// ones may be cancelled, and a new job is submitted. Nothing may crash,
// hang or allocate without bound, and job ids must stay unique.
//
// Input: byte 0 is a set of flags, the rest depends on kRawDatabase:
//   kRawDatabase set:   the rest is written as <state>/state.db as is (so
//                       SQLite and the journal's schema checks see corrupt
//                       files, foreign schemas, odd column types...).
//   kRawDatabase clear: the rest is a list of journal records, written
//                       through the journal itself (so the database is
//                       well-formed and its rows are fuzzed):
//     op byte % 6 == 0  job created:  id, request_id blob, submit_ms id,
//                                     JobSpec blob
//                   1   shard accepted: job id, shard id, payload blob
//                                     (one row per shard, older files)
//                   2   job ended:    job id, JobStatus blob
//                   3   commit what came so far (Append + Sync)
//                   4   job forgotten: job id
//                   5   shards accepted (one row per result batch, as the
//                       scheduler writes): job id, a count byte (% 16),
//                       then per entry a kind byte: % 3 == 0 a plain
//                       entry (shard id, payload blob), 1 an adaptive
//                       job's ranged entry (shard id, begin id, end id,
//                       payload blob), 2 raw bytes (blob) spliced in as
//                       they are, so the codec sees torn entries
//     id:   one byte below 0xf0, else the next 8 bytes (little-endian)
//     blob: a 2-byte little-endian length, then that many bytes
//   kAddWorker:  a worker connects after recovery (resumed shards are
//                dispatched to it).
//   kCancelAll:  every unfinished job is cancelled after recovery.
//
// Specs are sanitized as they come out of Load (fuzz_env.h): the
// database bytes are not touched, but no output_dir, input, --out or
// reduce command escapes the sandbox.
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler.h"
#include "coordinator/shard_batch_codec.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_env.h"
#include "fuzz/null_link.h"
#include "proto/shardex.pb.h"

namespace shardex {
namespace fuzz {
namespace {

constexpr uint8_t kRawDatabase = 1;
constexpr uint8_t kAddWorker = 2;
constexpr uint8_t kCancelAll = 4;

// Reads the structured input; short reads yield what is left (or zeros).
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }

  uint8_t Byte() { return empty() ? 0 : data_[pos_++]; }

  uint64_t Id() {
    const uint8_t b = Byte();
    if (b < 0xf0) return b;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(Byte()) << (8 * i);
    return v;
  }

  std::string Blob() {
    size_t len = Byte();
    len |= static_cast<size_t>(Byte()) << 8;
    len = std::min(len, size_ - std::min(pos_, size_));
    std::string out(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return out;
  }

 private:
  const uint8_t* const data_;
  const size_t size_;
  size_t pos_ = 0;
};

// The data of a kShardsAccepted record (op 5 above).
std::string ShardBatch(Reader& in) {
  std::string batch;
  const int entries = in.Byte() % 16;
  for (int i = 0; i < entries; ++i) {
    switch (in.Byte() % 3) {
      case 0: {
        const uint64_t shard = in.Id();
        AppendShardEntry(shard, in.Blob(), &batch);
        break;
      }
      case 1: {
        const uint64_t shard = in.Id();
        const uint64_t begin = in.Id();
        const uint64_t end = in.Id();
        AppendRangedShardEntry(shard, begin, end, in.Blob(), &batch);
        break;
      }
      case 2:
        batch += in.Blob();
        break;
    }
  }
  return batch;
}

// Writes the records through a real journal, committing at every op 3 and
// at the end, then closes it (releasing the directory's lock).
void WriteRecords(Reader& in, const std::string& state_dir) {
  absl::StatusOr<std::unique_ptr<Journal>> journal =
      OpenSqliteJournal(state_dir);
  FUZZ_CHECK(journal.ok(), "opening a fresh state dir: %s",
             journal.status().ToString().c_str());
  FUZZ_CHECK((*journal)->Load().ok(), "loading a fresh state dir");
  std::vector<JournalRecord> batch;
  auto commit = [&] {
    (*journal)->Append(std::move(batch));
    batch.clear();
    (*journal)->Sync().IgnoreError();  // e.g. a duplicate job id
  };
  while (!in.empty()) {
    const uint8_t op = in.Byte() % 6;
    if (op == 3) {
      commit();
      continue;
    }
    JournalRecord& r = batch.emplace_back();
    r.job_id = in.Id();
    switch (op) {
      case 4:
        r.kind = JournalRecord::Kind::kJobForgotten;
        break;
      case 0:
        r.kind = JournalRecord::Kind::kJobCreated;
        r.request_id = in.Blob();
        r.submit_unix_ms = static_cast<int64_t>(in.Id());
        r.data = in.Blob();
        break;
      case 1:
        r.kind = JournalRecord::Kind::kShardAccepted;
        r.shard = in.Id();
        r.data = in.Blob();
        break;
      case 2:
        r.kind = JournalRecord::Kind::kJobEnded;
        r.data = in.Blob();
        break;
      case 5:
        r.kind = JournalRecord::Kind::kShardsAccepted;
        r.data = ShardBatch(in);
        break;
    }
  }
  commit();
}

// The journal Recover sees: the real one, with every loaded spec's paths
// mapped into the sandbox. Remembers the job ids it loaded.
class SanitizingJournal : public Journal {
 public:
  explicit SanitizingJournal(Journal* inner) : inner_(inner) {}

  absl::StatusOr<std::vector<JournaledJob>> Load() override {
    absl::StatusOr<std::vector<JournaledJob>> jobs = inner_->Load();
    if (!jobs.ok()) return jobs;
    for (JournaledJob& job : *jobs) {
      SanitizeSpec(job.spec);
      ids_.insert(job.id);
    }
    return jobs;
  }
  void Append(std::vector<JournalRecord> records) override {
    inner_->Append(std::move(records));
  }
  absl::Status Sync() override { return inner_->Sync(); }

  const std::set<uint64_t>& ids() const { return ids_; }

 private:
  Journal* const inner_;
  std::set<uint64_t> ids_;
};

void Restart(const std::string& state_dir, uint8_t flags) {
  absl::StatusOr<std::unique_ptr<Journal>> opened =
      OpenSqliteJournal(state_dir);
  if (!opened.ok()) {  // not a database, a newer schema, ...
    if (Verbose()) {
      std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    }
    return;
  }
  SanitizingJournal journal(opened->get());

  Scheduler::Options options;
  options.max_shards_per_job = MaxShardsPerJob();
  options.allow_commands = true;
  options.commands.scratch_dir = Sandbox().scratch;
  FakeClock clock;
  Scheduler scheduler(options, &clock, &journal);
  const absl::Status recovered_status = scheduler.Recover();
  if (Verbose()) {
    std::fprintf(stderr, "recover: %s\n",
                 recovered_status.ToString().c_str());
  }
  if (!recovered_status.ok()) return;

  const std::vector<v1::JobStatus> recovered = scheduler.ListJobs();
  FUZZ_CHECK(recovered.size() == journal.ids().size(),
             "%zu distinct job ids journaled, %zu jobs recovered",
             journal.ids().size(), recovered.size());

  std::shared_ptr<NullLink> link;
  absl::StatusOr<uint64_t> worker = absl::NotFoundError("none");
  if (flags & kAddWorker) {
    link = std::make_shared<NullLink>();
    v1::Register reg;
    reg.set_host("fuzz");
    reg.set_slots(3);
    reg.set_processes(2);
    worker = scheduler.AddWorker(reg, "fuzz:1", link);
    FUZZ_CHECK(worker.ok(), "AddWorker: %s",
               worker.status().ToString().c_str());
    scheduler.ListWorkers();
  }
  // Every listed job can be looked up by the id it is listed under.
  for (const v1::JobStatus& job : recovered) {
    absl::StatusOr<v1::JobStatus> got = scheduler.GetJob(job.job_id());
    FUZZ_CHECK(got.ok(), "GetJob(%llu): %s",
               static_cast<unsigned long long>(job.job_id()),
               got.status().ToString().c_str());
  }
  if (flags & kCancelAll) {
    for (const v1::JobStatus& job : recovered) {
      scheduler.Cancel(job.job_id()).IgnoreError();  // ended ones refuse
    }
  }

  // A new job after the restart gets an id of its own.
  v1::JobSpec spec;
  spec.set_kernel("sleep");
  (*spec.mutable_args())["ms"] = "0";
  absl::StatusOr<v1::JobStatus> fresh = scheduler.Submit(spec);
  if (fresh.ok()) {
    FUZZ_CHECK(journal.ids().count(fresh->job_id()) == 0,
               "new job got id %llu of a recovered job",
               static_cast<unsigned long long>(fresh->job_id()));
    FUZZ_CHECK(scheduler.ListJobs().size() == recovered.size() + 1,
               "%zu jobs after one submit to %zu",
               scheduler.ListJobs().size(), recovered.size());
  }
  if (worker.ok()) scheduler.RemoveWorker(*worker);
  if (Verbose()) {
    for (const v1::JobStatus& job : scheduler.ListJobs()) {
      std::fprintf(stderr, "job: %s\n", job.ShortDebugString().c_str());
    }
  }
  // ~Scheduler runs the queued reductions (and journals their ends) before
  // `journal` goes away.
}

}  // namespace
}  // namespace fuzz
}  // namespace shardex

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardex;
  const fuzz::SandboxDirs& sb = fuzz::Sandbox();
  if (size == 0) return -1;
  const uint8_t flags = data[0];
  RemoveTree(sb.state).IgnoreError();
  if (flags & fuzz::kRawDatabase) {
    if (mkdir(sb.state.c_str(), 0700) != 0) std::abort();
    absl::Status st = WriteFileAtomically(
        sb.state + "/state.db",
        absl::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    FUZZ_CHECK(st.ok(), "%s", st.ToString().c_str());
  } else {
    fuzz::Reader in(data + 1, size - 1);
    fuzz::WriteRecords(in, sb.state);
  }
  fuzz::Restart(sb.state, flags);
  fuzz::ResetOutputs();
  return 0;
}
