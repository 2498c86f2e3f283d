// `shardex worker`: its flags and the long-running worker process.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cli/client_config.h"
#include "cli/commands.h"
#include "cli/enroll.h"
#include "cli/exit_codes.h"
#include "cli/job_flags.h"
#include "cli/pki_commands.h"
#include "cli/shared_flags.h"
#include "common/file_util.h"
#include "common/pki.h"
#include "common/sd_notify.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// How often a worker with a built-in-CA certificate checks whether to
// renew it (it renews with a third of its life left: 8 h of 24 h): a tenth
// of the certificate's life, within [1 s, 10 min].
absl::Duration RenewCheckInterval(const ClientConfig& identity) {
  absl::StatusOr<std::string> pem = ReadFile(identity.tls.cert);
  absl::StatusOr<CertInfo> info =
      pem.ok() ? InspectCertificate(*pem) : pem.status();
  if (!info.ok()) return absl::Minutes(10);
  return std::clamp((info->not_after - info->not_before) / 10, absl::Seconds(1),
                    absl::Minutes(10));
}

struct WorkerFlags {
  WorkerOptions options;
  std::string token_file;
  std::string join;       // --join TOKEN: enrol first
  std::string join_file;  // --join-file FILE: enrol once, token from FILE
  std::string identity_dir = WorkerIdentityDir();
  CLI::Option* coordinator_flag = nullptr;
  // Set when the worker uses an identity from the built-in CA.
  std::optional<ClientConfig> identity;
};

// --join-file: the token for a first start under a service manager
// (deploy/systemd passes a LoadCredential= file, so the token is never on
// a command line or in the journal). Read only while --identity-dir holds
// no identity; every later start uses that identity and ignores the file.
absl::Status ReadJoinFile(WorkerFlags* flags) {
  if (flags->join_file.empty() || !flags->join.empty()) return absl::OkStatus();
  absl::StatusOr<std::optional<ClientConfig>> enrolled =
      ReadClientConfig(flags->identity_dir);
  if (!enrolled.ok() || enrolled->has_value()) return enrolled.status();
  absl::StatusOr<std::string> file = ReadFile(flags->join_file);
  const absl::string_view token =
      file.ok() ? absl::StripAsciiWhitespace(*file) : "";
  if (token.empty()) {
    // systemd's fallback for a missing credential is an empty file.
    return absl::FailedPreconditionError(absl::StrCat(
        "--join-file ", flags->join_file, ": ",
        file.ok() ? "empty" : file.status().message(), "; ",
        flags->identity_dir,
        " holds no identity yet, so this worker needs a join token there "
        "(`shardex token create --role worker` on the coordinator's host)"));
  }
  flags->join = std::string(token);
  return absl::OkStatus();
}

// --join: enrol with the coordinator and keep the identity. Otherwise an
// identity from an earlier --join supplies the address (unless
// --coordinator or $SHARDEX_COORDINATOR does) and the certificates (unless
// --tls-* or $SHARDEX_TLS_* do).
absl::Status ResolveIdentity(WorkerFlags* flags) {
  WorkerOptions& worker = flags->options;
  std::optional<ClientConfig> config;
  if (absl::Status st = ReadJoinFile(flags); !st.ok()) return st;
  if (!flags->join.empty()) {
    EnrollOptions enroll;
    enroll.coordinator = worker.coordinator;
    enroll.join_token = ReadJoinFlag(flags->join);
    enroll.role = "worker";
    enroll.name = worker.host;
    enroll.dir = flags->identity_dir;
    absl::StatusOr<ClientConfig> joined = Enroll(enroll);
    if (!joined.ok()) return joined.status();
    LOG(INFO) << "joined " << joined->coordinator << "; identity in "
              << flags->identity_dir;
    config = *std::move(joined);
  } else {
    absl::StatusOr<std::optional<ClientConfig>> read =
        ReadClientConfig(flags->identity_dir);
    if (!read.ok()) return read.status();
    config = *std::move(read);
  }
  if (ApplyConfig(config, flags->coordinator_flag->count() > 0,
                  &worker.coordinator, &worker.tls)) {
    flags->identity = config;
  }
  return absl::OkStatus();
}

// Renews the worker's certificate in the background; a renewed one is used
// from the next (re)connection on. Stops when `stop` is notified.
std::thread StartRenewal(ClientConfig identity, absl::Notification* stop) {
  return std::thread([identity = std::move(identity), stop] {
    do {
      absl::StatusOr<bool> renewed =
          RenewIfDue(identity, absl::Now(), absl::Seconds(10));
      if (!renewed.ok()) {
        LOG(WARNING) << "certificate renewal: " << renewed.status().message();
      } else if (*renewed) {
        LOG(INFO) << "renewed the worker certificate " << identity.tls.cert;
      }
    } while (!stop->WaitForNotificationWithTimeout(
        RenewCheckInterval(identity)));
  });
}

}  // namespace

Subcommand AddWorkerCommand(CLI::App& app, const GlobalOptions&) {
  auto flags = std::make_shared<WorkerFlags>();
  WorkerOptions& worker = flags->options;
  worker.coordinator = DefaultCoordinator();
  CLI::App* cmd = app.add_subcommand("worker", "run a worker");
  flags->coordinator_flag =
      cmd->add_option("--coordinator", worker.coordinator,
                      "coordinator address host:port")
          ->capture_default_str();
  AddAccessFlags(cmd, &flags->token_file, &worker.tls);
  cmd->add_option("--join", flags->join,
                  "enrol with a join token from `shardex token create --role "
                  "worker` (\"-\": read it from stdin); later runs need no "
                  "flags");
  cmd->add_option("--join-file", flags->join_file,
                  "as --join with the token in FILE, but only while "
                  "--identity-dir holds no identity (for service managers; "
                  "the file may stay or go after the first start)");
  cmd->add_option("--identity-dir", flags->identity_dir,
                  "where --join keeps this worker's key, certificates and "
                  "coordinator address")
      ->capture_default_str();
  cmd->add_option("--threads", worker.threads,
                  "shards run at once (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--processes", worker.processes,
                  "command shards run at once (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--scratch-dir", worker.scratch_dir,
                  "where command shards get their working directories, "
                  "with the cache of staged files in DIR/cache (default: "
                  "$TMPDIR or /tmp, cache in $TMPDIR/shardex-worker-UID)");
  cmd->add_option("--name", worker.host,
                  "name shown in `shardex workers` (default: hostname)");
  cmd->add_option_function<std::string>(
         "--cache-bytes",
         [&worker](const std::string& s) {
           worker.cache_bytes = ParseBytes("--cache-bytes", s).value_or(0);
         },
         "cap on the cache of staged files in the scratch dir; the least "
         "recently used files no running job needs are evicted first")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            absl::StatusOr<uint64_t> b = ParseBytes("--cache-bytes", s);
            if (b.ok() && *b > 0) return "";
            return "'" + s + "' is not a size like 10G, 512MiB or 1000";
          },
          "SIZE"))
      ->default_str("10G");
  AddDurationOption(cmd, "--drain-timeout", &worker.drain_timeout,
                    "on SIGTERM, how long running shards may finish before "
                    "they are handed back to the coordinator");
  return {cmd, [flags] {
            if (!LoadToken(flags->token_file, &flags->options.token)) {
              return static_cast<int>(kExitUsage);
            }
            if (absl::Status st = ResolveIdentity(flags.get()); !st.ok()) {
              return Fail(st);
            }
            if (!flags->identity.has_value()) return RunWorker(flags->options);
            // As RunWorker does, before any thread starts: only its signal
            // thread may take SIGINT/SIGTERM.
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGINT);
            sigaddset(&set, SIGTERM);
            pthread_sigmask(SIG_BLOCK, &set, nullptr);
            absl::Notification stop;
            std::thread renewal = StartRenewal(*flags->identity, &stop);
            const int code = RunWorker(flags->options);
            stop.Notify();
            renewal.join();
            return code;
          }};
}

int RunWorker(const WorkerOptions& options) {
  // The first SIGINT/SIGTERM drains (finish or hand back the shards held,
  // then exit 0); another one stops at once. Signals are blocked before the
  // Worker starts its pool threads, so only this thread takes them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Worker worker(options);
  std::atomic<bool> exiting{false};
  std::thread signals([&] {
    for (int count = 0;; ++count) {
      int signo = 0;
      sigwait(&set, &signo);
      if (exiting.load()) return;
      if (count == 0) {
        LOG(INFO) << "signal " << signo << ": draining for up to "
                  << options.drain_timeout << " (signal again to stop now)";
        NotifyServiceManager(absl::StrCat(
            "STOPPING=1\nSTATUS=draining: running shards have up to ",
            absl::FormatDuration(options.drain_timeout), " to finish"));
        worker.Drain(options.drain_timeout);
      } else {
        LOG(INFO) << "signal " << signo << ": stopping now";
        NotifyServiceManager("STATUS=stopping now, handing shards back");
        worker.Stop();
      }
    }
  });
  // Type=notify (deploy/systemd): ready once the run loop starts, not once
  // the coordinator answers. The loop itself dials and redials with backoff,
  // so a coordinator that is down or restarting is a state the worker
  // waits out, not a failed start (which would make systemd restart it and
  // give up after StartLimitBurst, and order boot behind the network).
  NotifyServiceManager(absl::StrCat("READY=1\nSTATUS=working for ",
                                    options.coordinator));
  absl::Status st = worker.Run();
  exiting.store(true);
  pthread_kill(signals.native_handle(), SIGTERM);  // wakes sigwait
  signals.join();
  if (!st.ok()) return Fail(st);
  return kExitOk;
}

}  // namespace shardex
