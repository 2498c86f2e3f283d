#include "client/stager.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shardex {

namespace {

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
    const v1::BlobStat& stat = (*stats)[i];
    report.files++;
    report.bytes += blob.size;
    if (stat.stored()) {
      report.already_stored++;
      continue;
    }
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
    if (!st.ok()) {
      bar.Clear();
      return st;
    }
    report.uploaded++;
  }
  bar.Clear();
  absl::FPrintF(err, "%s\n", FormatStageSummary(report));
  std::fflush(err);
  return report;
}

}  // namespace shardex
