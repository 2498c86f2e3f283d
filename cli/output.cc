#include "cli/output.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace shardex {

namespace {

double ElapsedSeconds(const v1::JobStatus& s) {
  if (s.start_time_unix_ms() == 0) return 0;
  const int64_t end =
      s.end_time_unix_ms() != 0 ? s.end_time_unix_ms()
                                : absl::ToUnixMillis(absl::Now());
  return (end - s.start_time_unix_ms()) / 1000.0;
}

std::string KernelLine(const v1::JobSpec& spec) {
  std::vector<std::string> parts = {spec.kernel()};
  for (const auto& [k, v] : spec.args()) {
    parts.push_back(absl::StrCat("--", k, " ", v));
  }
  return absl::StrJoin(parts, " ");
}

// What the job runs. GetJob and SubmitJob answers carry the spec; WatchJob
// updates and ListJobs entries carry only the coordinator's one-line
// `summary`.
std::string JobLine(const v1::JobStatus& s) {
  return s.has_spec() ? KernelLine(s.spec()) : s.summary();
}

}  // namespace

std::string StateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  if (absl::StartsWith(name, "JOB_")) name = name.substr(4);
  return absl::AsciiStrToLower(name);
}

void ProgressLine::Update(const v1::JobStatus& s, absl::Time now) {
  const uint64_t done = s.shards_succeeded();
  if (first_ == absl::InfinitePast()) {
    first_ = now;
    first_done_ = done;
  }
  const double secs = absl::ToDoubleSeconds(now - first_);
  const double rate = secs > 0.2 ? (done - first_done_) / secs : 0;
  std::string eta = "--";
  if (rate > 0 && done < s.shards_total()) {
    eta = absl::StrFormat("%.0fs", (s.shards_total() - done) / rate);
  }
  const double pct =
      s.shards_total() ? 100.0 * done / s.shards_total() : 0.0;
  absl::FPrintF(out_,
                "\r\033[K[job %d] %s  %d/%d shards  %.0f%%  %.1f shards/s  "
                "ETA %s  (%d running%s)",
                s.job_id(), StateName(s.state()), done, s.shards_total(), pct,
                rate, eta, s.shards_running(),
                s.retries() ? absl::StrCat(", ", s.retries(), " retries") : "");
  fflush(out_);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!drawn_) return;
  absl::FPrintF(out_, "\r\033[K");
  fflush(out_);
  drawn_ = false;
}

std::string FormatOutcome(const v1::JobStatus& s) {
  std::string line = absl::StrFormat(
      "job %d %s: %d/%d shards in %.2f s (%d retries)", s.job_id(),
      StateName(s.state()), s.shards_succeeded(), s.shards_total(),
      ElapsedSeconds(s), s.retries());
  if (!s.error().empty()) absl::StrAppend(&line, ": ", s.error());
  if (s.state() == v1::JOB_SUCCEEDED && s.result().details_size() > 0) {
    std::vector<std::string> details;
    for (const auto& [k, v] : s.result().details()) {
      details.push_back(absl::StrCat(k, "=", v));
    }
    std::sort(details.begin(), details.end());  // proto maps are unordered
    absl::StrAppend(&line, "; ", absl::StrJoin(details, " "));
  }
  return line;
}

std::string FormatJob(const v1::JobStatus& s) {
  std::string out = absl::StrFormat(
      "job:      %d\n"
      "kernel:   %s\n"
      "state:    %s\n"
      "shards:   %d total, %d succeeded, %d running, %d queued, %d failed, "
      "%d cancelled\n"
      "retries:  %d\n"
      "elapsed:  %.2f s\n",
      s.job_id(), JobLine(s), StateName(s.state()), s.shards_total(),
      s.shards_succeeded(), s.shards_running(), s.shards_queued(),
      s.shards_failed(), s.shards_cancelled(), s.retries(), ElapsedSeconds(s));
  if (s.state() == v1::JOB_SUCCEEDED) {
    absl::StrAppend(&out, "result:   ", s.result().value(), "\n");
    for (const auto& [k, v] : s.result().details()) {
      absl::StrAppend(&out, "  ", k, ": ", v, "\n");
    }
  }
  if (s.speculative_attempts() > 0 || s.discarded_results() > 0) {
    absl::StrAppend(&out, "extra:    ", s.speculative_attempts(),
                    " speculative attempts, ", s.discarded_results(),
                    " late or duplicate results discarded\n");
  }
  if (s.result_mismatches() > 0) {
    absl::StrAppend(&out, "WARNING:  ", s.result_mismatches(),
                    " late results differed from the accepted ones; first: ",
                    s.mismatch(), "\n");
  }
  if (s.quarantined_workers_size() > 0) {
    absl::StrAppend(&out, "quarantined workers: ",
                    absl::StrJoin(s.quarantined_workers(), ", "), "\n");
  }
  if (!s.error().empty()) absl::StrAppend(&out, "error:    ", s.error(), "\n");
  return out;
}

std::string FormatJobTable(const std::vector<v1::JobStatus>& jobs) {
  std::string out = absl::StrFormat("%-6s %-10s %-14s %-10s %s\n", "JOB",
                                    "STATE", "SHARDS", "ELAPSED", "KERNEL");
  for (const auto& s : jobs) {
    absl::StrAppend(
        &out,
        absl::StrFormat("%-6d %-10s %-14s %-10s %s\n", s.job_id(),
                        StateName(s.state()),
                        absl::StrCat(s.shards_succeeded(), "/", s.shards_total()),
                        absl::StrFormat("%.2fs", ElapsedSeconds(s)),
                        JobLine(s)));
  }
  return out;
}

std::string FormatWorkerTable(const std::vector<v1::WorkerInfo>& workers) {
  std::string out = absl::StrFormat(
      "%-7s %-20s %-6s %-8s %-10s %-8s %-22s %-8s %s\n", "WORKER", "HOST",
      "SLOTS", "RUNNING", "COMPLETED", "PID", "PEER", "VERSION", "STATE");
  for (const auto& w : workers) {
    std::string state = w.draining() ? "draining" : "ready";
    if (w.quarantined_jobs_size() > 0) {
      absl::StrAppend(&state, ", quarantined for job ",
                      absl::StrJoin(w.quarantined_jobs(), ","));
    }
    absl::StrAppend(
        &out,
        absl::StrFormat("%-7d %-20s %-6d %-8d %-10d %-8d %-22s %-8s %s\n",
                        w.worker_id(), w.host(), w.slots(), w.running(),
                        w.completed(), w.pid(), w.peer(), w.version(), state));
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace shardex
