#include "cli/output.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
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
  // Adaptive shards are cut as the job runs: there is no shard count up
  // front, so progress is measured in units of the job's range.
  const bool by_units = s.adaptive() && s.units_total() > 0;
  const uint64_t done = by_units ? s.units_done() : s.shards_succeeded();
  const uint64_t total = by_units ? s.units_total() : s.shards_total();
  if (first_ == absl::InfinitePast()) {
    first_ = now;
    first_done_ = done;
  }
  const double secs = absl::ToDoubleSeconds(now - first_);
  const double rate = secs > 0.2 ? (done - first_done_) / secs : 0;
  std::string eta = "--";
  if (rate > 0 && done < total) {
    eta = absl::StrFormat("%.0fs", (total - done) / rate);
  }
  const double pct = total ? 100.0 * done / total : 0.0;
  const std::string shards =
      by_units ? absl::StrFormat("%d shards done (adaptive)",
                                 s.shards_succeeded())
               : absl::StrFormat("%d/%d shards", done, total);
  const std::string speed =
      by_units ? "" : absl::StrFormat("  %.1f shards/s", rate);
  absl::FPrintF(out_, "\r\033[K[job %d] %s  %s  %.0f%%%s  ETA %s  (%d running%s)",
                s.job_id(), StateName(s.state()), shards, pct, speed, eta,
                s.shards_running(),
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
  if (s.adaptive()) {
    absl::StrAppend(&out, "sizing:   adaptive (cut as it ran), ",
                    s.units_done(), "/", s.units_total(), " units done, ",
                    s.splits(), " running shards split\n");
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

std::string FormatCpu(const v1::WorkerInfo& w) {
  if (w.memory_total_bytes() == 0) return "-";  // no heartbeat yet
  return absl::StrFormat("%.0f%%", 100 * w.cpu_utilization());
}

std::string FormatMemory(const v1::WorkerInfo& w) {
  if (w.memory_total_bytes() == 0) return "-";
  const double gib = 1024.0 * 1024 * 1024;
  const uint64_t used =
      w.memory_total_bytes() -
      std::min(w.memory_available_bytes(), w.memory_total_bytes());
  return absl::StrFormat("%.1f/%.1fG", used / gib,
                         w.memory_total_bytes() / gib);
}

std::string FormatWorkerTable(const std::vector<v1::WorkerInfo>& workers) {
  std::string out = absl::StrFormat(
      "%-7s %-20s %-6s %-8s %-10s %-5s %-12s %-6s %-8s %-22s %-8s %s\n",
      "WORKER", "HOST", "SLOTS", "RUNNING", "COMPLETED", "CPU", "MEM", "LOAD1",
      "PID", "PEER", "VERSION", "STATE");
  for (const auto& w : workers) {
    std::string state = w.draining() ? "draining" : "ready";
    if (w.quarantined_jobs_size() > 0) {
      absl::StrAppend(&state, ", quarantined for job ",
                      absl::StrJoin(w.quarantined_jobs(), ","));
    }
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-7d %-20s %-6d %-8d %-10d %-5s %-12s %-6s %-8d %-22s %-8s %s\n",
            w.worker_id(), w.host(), w.slots(), w.running(), w.completed(),
            FormatCpu(w), FormatMemory(w),
            w.memory_total_bytes() == 0 ? "-"
                                        : absl::StrFormat("%.2f", w.load1()),
            w.pid(), w.peer(), w.version(), state));
  }
  return out;
}

// ---------------------------------------------------------------- shard log

namespace {

// Seconds the attempt ran: as the worker measured it, else wall time from
// start to end; "-" while it runs.
std::string RuntimeText(const v1::AttemptRecord& a) {
  if (a.runtime_us() > 0) return absl::StrFormat("%.3fs", a.runtime_us() / 1e6);
  if (a.end_unix_ms() == 0) return "-";
  return absl::StrFormat("%.3fs",
                         (a.end_unix_ms() - a.start_unix_ms()) / 1000.0);
}

std::string StartText(const v1::AttemptRecord& a) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                          absl::FromUnixMillis(a.start_unix_ms()),
                          absl::UTCTimeZone());
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  out += "\"";
  return out;
}

std::string CsvField(absl::string_view s) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(s);
  }
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

}  // namespace

std::string OutcomeName(v1::AttemptOutcome outcome) {
  std::string name = v1::AttemptOutcome_Name(outcome);
  if (absl::StartsWith(name, "ATTEMPT_")) name = name.substr(8);
  if (name == "OUTCOME_UNSPECIFIED") name = "unknown";
  return absl::AsciiStrToLower(name);
}

std::string FormatAttemptTable(const std::vector<v1::AttemptRecord>& attempts,
                               uint64_t dropped) {
  std::string out = absl::StrFormat(
      "%-7s %-8s %-7s %-20s %-24s %-10s %-11s %-5s %s\n", "SHARD", "ATTEMPT",
      "WORKER", "HOST", "START", "RUNTIME", "OUTCOME", "EXIT", "BYTES");
  bool any_speculative = false;
  for (const v1::AttemptRecord& a : attempts) {
    any_speculative |= a.speculative();
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-7d %-8s %-7d %-20s %-24s %-10s %-11s %-5s %d\n", a.shard(),
            absl::StrCat(a.attempt(), a.speculative() ? "*" : ""),
            a.worker_id(), a.host(), StartText(a), RuntimeText(a),
            absl::AsciiStrToUpper(OutcomeName(a.outcome())),
            a.has_exit_code() ? absl::StrCat(a.exit_code()) : "-",
            a.bytes_out()));
  }
  if (any_speculative) out += "* a speculative backup of a slow attempt\n";
  if (dropped > 0) {
    absl::StrAppend(&out, dropped,
                    " later attempts not kept (the coordinator's cap on "
                    "attempts kept per job)\n");
  }
  for (const v1::AttemptRecord& a : attempts) {
    if (a.outcome() != v1::ATTEMPT_FAILED || a.error().empty()) continue;
    absl::StrAppend(&out, "\nshard ", a.shard(), " attempt ", a.attempt(),
                    " on worker ", a.worker_id(), " (", a.host(), ") failed",
                    a.has_exit_code() ? absl::StrCat(" with exit code ",
                                                     a.exit_code())
                                      : "",
                    ":\n");
    for (absl::string_view line : absl::StrSplit(
             absl::StripTrailingAsciiWhitespace(a.error()), '\n')) {
      absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  return out;
}

std::string AttemptsToJson(const std::vector<v1::AttemptRecord>& attempts) {
  std::string out = "[";
  for (size_t i = 0; i < attempts.size(); ++i) {
    const v1::AttemptRecord& a = attempts[i];
    absl::StrAppend(
        &out, i == 0 ? "\n" : ",\n", "{\"shard\":", a.shard(),
        ",\"attempt\":", a.attempt(), ",\"worker_id\":", a.worker_id(),
        ",\"host\":", JsonString(a.host()),
        ",\"start_unix_ms\":", a.start_unix_ms(),
        ",\"end_unix_ms\":", a.end_unix_ms(),
        ",\"runtime_us\":", a.runtime_us(),
        ",\"outcome\":", JsonString(OutcomeName(a.outcome())),
        ",\"exit_code\":",
        a.has_exit_code() ? absl::StrCat(a.exit_code()) : "null",
        ",\"bytes_out\":", a.bytes_out(),
        ",\"speculative\":", a.speculative() ? "true" : "false",
        ",\"error\":", JsonString(a.error()), "}");
  }
  out += attempts.empty() ? "]\n" : "\n]\n";
  return out;
}

std::string AttemptsToCsv(const std::vector<v1::AttemptRecord>& attempts) {
  std::string out =
      "shard,attempt,worker_id,host,start_unix_ms,end_unix_ms,runtime_us,"
      "outcome,exit_code,bytes_out,speculative,error\n";
  for (const v1::AttemptRecord& a : attempts) {
    absl::StrAppend(
        &out, a.shard(), ",", a.attempt(), ",", a.worker_id(), ",",
        CsvField(a.host()), ",", a.start_unix_ms(), ",", a.end_unix_ms(), ",",
        a.runtime_us(), ",", OutcomeName(a.outcome()), ",",
        a.has_exit_code() ? absl::StrCat(a.exit_code()) : "", ",",
        a.bytes_out(), ",", a.speculative() ? "true" : "false", ",",
        CsvField(a.error()), "\n");
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
