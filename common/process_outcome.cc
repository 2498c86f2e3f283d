#include "common/process_outcome.h"

#include <signal.h>
#include <string.h>

#include "absl/strings/str_cat.h"

namespace shardex {

using absl::StrCat;
using Kind = ProcessOutcome::Kind;

namespace {

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? StrCat("SIG", abbrev) : StrCat("signal ", sig);
}

std::string CpuLimitText(const ResourceLimits& limits) {
  return limits.cpu_seconds != 0
             ? StrCat("CPU time limit of ", limits.cpu_seconds, " s exceeded")
             : "CPU time limit exceeded";
}

std::string FileSizeLimitText(const ResourceLimits& limits) {
  return limits.file_size_bytes != 0
             ? StrCat("file size limit of ", limits.file_size_bytes,
                      " bytes exceeded")
             : "file size limit exceeded";
}

std::string DescribeSignal(const ProcessOutcome& o) {
  const ResourceLimits& limits = o.limits;
  if (o.signal == SIGXCPU) return StrCat(CpuLimitText(limits), " (SIGXCPU)");
  if (o.signal == SIGXFSZ) {
    return StrCat(FileSizeLimitText(limits), " (SIGXFSZ)");
  }
  // A child that ignores SIGXCPU is SIGKILLed a second later (hard limit).
  if (o.signal == SIGKILL && limits.cpu_seconds != 0 &&
      o.cpu >= absl::Seconds(limits.cpu_seconds)) {
    return StrCat(CpuLimitText(limits), " (SIGKILL at the hard limit)");
  }
  std::string text =
      StrCat("killed by signal ", o.signal, " (", SignalName(o.signal), ")");
  if (limits.address_space_bytes != 0 &&
      (o.signal == SIGSEGV || o.signal == SIGABRT)) {
    absl::StrAppend(&text, AddressSpaceNote(limits));
  }
  return text;
}

// A shell reports a command that died of signal N as exit code 128+N, so
// name the limit behind the two signals that say which one was hit.
std::string DescribeExit(const ProcessOutcome& o) {
  std::string text = StrCat("exit code ", o.exit_code);
  if (o.exit_code == 128 + SIGXCPU && o.limits.cpu_seconds != 0) {
    absl::StrAppend(&text, " (a shell's 128+SIGXCPU: ", CpuLimitText(o.limits),
                    ")");
  } else if (o.exit_code == 128 + SIGXFSZ && o.limits.file_size_bytes != 0) {
    absl::StrAppend(&text, " (a shell's 128+SIGXFSZ: ",
                    FileSizeLimitText(o.limits), ")");
  }
  if (o.exit_code != 0 && o.limits.address_space_bytes != 0) {
    absl::StrAppend(&text, AddressSpaceNote(o.limits));
  }
  return text;
}

}  // namespace

std::string AddressSpaceNote(const ResourceLimits& limits) {
  return StrCat(" (address-space limit ", limits.address_space_bytes,
                " bytes was set)");
}

std::string ProcessOutcome::Describe() const {
  switch (kind) {
    case Kind::kExited:
      return DescribeExit(*this);
    case Kind::kSignaled:
      return DescribeSignal(*this);
    case Kind::kTimedOut:
      return StrCat("timed out after ", absl::FormatDuration(timeout));
    case Kind::kOutputTooLarge:
      return StrCat(overflowed, " exceeded the output cap of ",
                    max_output_bytes, " bytes");
    case Kind::kCancelled:
      return "cancelled";
  }
  return "unknown outcome";
}

}  // namespace shardex
