#include "client/stager.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shardex {

namespace {

// A broken upload stream is resumed this many times in all, waiting
// kUploadRetryWait longer before each.
constexpr int kUploadAttempts = 5;
constexpr absl::Duration kUploadRetryWait = absl::Milliseconds(200);

// One blob to send, from the first staged file with its content.
struct Blob {
  std::string sha256;
  std::string path;
  uint64_t size = 0;
};

std::vector<Blob> DistinctBlobs(const v1::JobSpec& spec) {
  std::vector<Blob> blobs;
  std::map<std::string, bool> seen;
  for (const v1::StagedFile& f : spec.staged()) {
    if (!seen.emplace(f.sha256(), true).second) continue;
    blobs.push_back({f.sha256(), f.path(), f.size()});
  }
  return blobs;
}

// Redraws "shardex: uploading 'PATH' 3.0/10.0 MiB" on a terminal.
class UploadBar {
 public:
  UploadBar(FILE* err, bool on) : err_(err), on_(on) {}
  ~UploadBar() { Clear(); }
  void Show(const Blob& blob, uint64_t sent) {
    if (!on_) return;
    absl::FPrintF(err_, "\r\033[Kshardex: uploading '%s' %.1f/%.1f MiB",
                  blob.path, sent / 1048576.0, blob.size / 1048576.0);
    std::fflush(err_);
    drawn_ = true;
  }
  void Clear() {
    if (!drawn_) return;
    std::fputs("\r\033[K", err_);
    std::fflush(err_);
    drawn_ = false;
  }

 private:
  FILE* const err_;
  const bool on_;
  bool drawn_ = false;
};

bool IsTransient(const absl::Status& st) {
  return st.code() == absl::StatusCode::kUnavailable ||
         st.code() == absl::StatusCode::kDeadlineExceeded;
}

// Sends `blob` from where `stat` says the coordinator's copy ends. A stream
// that breaks (a coordinator restart, a network blip) is resumed from the
// coordinator's new received_bytes, up to kUploadAttempts times.
absl::Status UploadOne(StoreClient& store, const Blob& blob, v1::BlobStat stat,
                       FILE* err, UploadBar& bar) {
  for (int attempt = 1;; ++attempt) {
    uint64_t offset = stat.received_bytes();
    if (offset > blob.size) offset = 0;  // not this content's partial copy
    if (offset > 0) {
      bar.Clear();
      absl::FPrintF(err, "shardex: resuming upload of '%s' at %d of %d bytes\n",
                    blob.path, offset, blob.size);
      std::fflush(err);
    }
    bar.Show(blob, offset);
    absl::Status st =
        store.Upload(blob.path, blob.sha256, blob.size, offset,
                     [&](uint64_t sent) { bar.Show(blob, sent); });
    if (st.ok() || !IsTransient(st) || attempt >= kUploadAttempts) return st;
    absl::SleepFor(kUploadRetryWait * attempt);
    absl::StatusOr<std::vector<v1::BlobStat>> again =
        store.StatBlobs({blob.sha256});  // retried like every unary call
    if (!again.ok()) return again.status();
    stat = (*again)[0];
    if (stat.stored()) return absl::OkStatus();
  }
}

}  // namespace

std::string FormatStageSummary(const StageReport& r) {
  return absl::StrCat("shardex: staged ", r.files, " files (", r.bytes,
                      " bytes): ", r.uploaded, " uploaded, ", r.already_stored,
                      " already stored");
}

absl::StatusOr<StageReport> UploadStaged(StoreClient& store,
                                         const v1::JobSpec& spec, FILE* err,
                                         bool progress_bar) {
  const std::vector<Blob> blobs = DistinctBlobs(spec);
  StageReport report;
  if (blobs.empty()) return report;
  std::vector<std::string> ids;
  for (const Blob& b : blobs) ids.push_back(b.sha256);
  absl::StatusOr<std::vector<v1::BlobStat>> stats = store.StatBlobs(ids);
  if (!stats.ok()) return stats.status();
  UploadBar bar(err, progress_bar);
  for (size_t i = 0; i < blobs.size(); ++i) {
    const Blob& blob = blobs[i];
    report.files++;
    report.bytes += blob.size;
    if ((*stats)[i].stored()) {
      report.already_stored++;
      continue;
    }
    absl::Status st = UploadOne(store, blob, (*stats)[i], err, bar);
    bar.Clear();
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat("uploading '", blob.path,
                                                  "': ", st.message()));
    }
    report.uploaded++;
  }
  absl::FPrintF(err, "%s\n", FormatStageSummary(report));
  std::fflush(err);
  return report;
}

}  // namespace shardex
