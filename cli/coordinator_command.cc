// `shardex coordinator`: its flags and the long-running server process.
#include <signal.h>

#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/job_flags.h"
#include "cli/shared_flags.h"
#include "common/file_util.h"
#include "common/sd_notify.h"
#include "common/state_dir.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// What the coordinator's flags fill in; finished by Finish() after parsing.
struct CoordinatorFlags {
  CoordinatorCommand cmd;
  bool no_speculation = false;

  void Finish() {
    cmd.server.scheduler.speculation.enabled = !no_speculation;
    BlobStoreLimits& store = cmd.server.store;
    if (store.max_upload_bytes == 0) {  // not given: the store's cap
      store.max_upload_bytes = store.max_store_bytes;
    }
  }
};

// A count limit: at least 1, at most 2^40.
void AddCountLimit(CLI::App* cmd, const std::string& name, uint64_t* value,
                   const std::string& help) {
  cmd->add_option(name, *value, help)
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
}

// A positive size: "4MiB", "512k", "1G" or plain bytes.
void AddSizeLimit(CLI::App* cmd, const std::string& name, uint64_t* bytes,
                  const std::string& help, const std::string& default_text) {
  cmd->add_option_function<std::string>(
         name,
         [bytes, name](const std::string& s) {
           *bytes = ParseBytes(name, s).value_or(0);
         },
         help)
      ->check(CLI::Validator(
          [name](std::string& s) -> std::string {
            absl::StatusOr<uint64_t> b = ParseBytes(name, s);
            if (b.ok() && *b > 0) return "";
            return "'" + s + "' is not a size like 4MiB, 512k or 1000";
          },
          "SIZE"))
      ->default_str(default_text);
}

void AddSchedulingFlags(CLI::App* cmd, CoordinatorCommand& c) {
  cmd->add_option("--listen", c.server.listen,
                  "address to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--port-file", c.port_file,
                  "write the bound port to this file");
  Scheduler::Options& scheduler = c.server.scheduler;
  AddDurationOption(cmd, "--heartbeat-timeout", &scheduler.heartbeat_timeout,
                    "drop workers silent this long");
  cmd->add_option("--max-attempts", scheduler.max_attempts,
                  "failed attempts before a shard fails its job")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_flag("--allow-commands", scheduler.allow_commands,
                "accept command jobs, which run programs on the workers");
  cmd->add_option("--max-shards", scheduler.max_shards_per_job,
                  "largest shard count a job may ask for")
      ->capture_default_str();
}

// Limits on what clients and workers make the coordinator hold
// (docs/operations.md, "Limits").
void AddLimitFlags(CLI::App* cmd, Scheduler::Options& limits) {
  AddCountLimit(cmd, "--max-jobs", &limits.max_jobs_in_flight,
                "jobs queued or running at once; more submits are refused");
  AddCountLimit(cmd, "--max-job-records", &limits.max_job_records,
                "ended jobs kept for status; older ones are forgotten (the "
                "state directory keeps them)");
  AddCountLimit(cmd, "--max-attempt-log", &limits.max_attempt_log,
                "attempts kept in each job's shard log (status --shards, the "
                "dashboard); later ones are only counted");
  AddCountLimit(cmd, "--max-watch-streams", &limits.max_watch_streams,
                "WatchJob streams open at once");
  AddCountLimit(cmd, "--max-worker-sessions", &limits.max_worker_sessions,
                "worker sessions open at once");
  AddSizeLimit(cmd, "--max-held-bytes", &limits.max_held_bytes,
               "memory for job specs, shard state and results; beyond it "
               "submits are refused and old ended jobs forgotten",
               "2GiB");
  AddSizeLimit(cmd, "--max-result-bytes", &limits.max_result_bytes,
               "largest shard result (and job result) the coordinator "
               "holds; larger ones fail",
               "32MiB");
  AddSizeLimit(cmd, "--max-spec-bytes", &limits.max_spec_bytes,
               "largest job description (arguments, command, inputs)",
               "256KiB");
  AddSizeLimit(cmd, "--max-argv-bytes", &limits.commands.max_argv_bytes,
               "largest command-job argv, and --reduce-command", "128KiB");
}

void AddStateAndSecurityFlags(CLI::App* cmd, CoordinatorOptions& server) {
  server.state_dir = DefaultStateDir();
  cmd->add_option("--state-dir", server.state_dir,
                  "where jobs and accepted results are kept (SQLite); a "
                  "restart resumes them")
      ->capture_default_str();
  cmd->add_option("--token-file", server.token_file,
                  "the access token every call must present; created (mode "
                  "0600) if absent (default: <state-dir>/token)");
  cmd->add_option("--tls-cert", server.tls.cert,
                  "server certificate (PEM); turns TLS on");
  cmd->add_option("--tls-key", server.tls.key, "private key of --tls-cert");
  cmd->add_option("--tls-ca", server.tls.ca,
                  "CA (PEM) whose client certificates are required from "
                  "workers and clients (mutual TLS)");
  cmd->add_flag("--insecure", server.insecure,
                "allow listening beyond loopback without TLS");
  // The built-in PKI (docs/security.md, "Built-in PKI").
  using BuiltinCa = CoordinatorOptions::BuiltinCa;
  cmd->add_flag_callback(
      "--builtin-ca", [&server] { server.builtin_ca = BuiltinCa::kOn; },
      "serve TLS and join-token enrolment with the CA in <state-dir>/pki "
      "even on loopback (beyond loopback it is the default unless "
      "--tls-cert or --insecure)");
  cmd->add_flag_callback(
      "--no-builtin-ca", [&server] { server.builtin_ca = BuiltinCa::kOff; },
      "never use the built-in CA");
  AddDurationOption(cmd, "--cert-ttl", &server.issued_cert_ttl,
                    "lifetime of the worker and client certificates the "
                    "built-in CA issues (renewed with a third left)");
  cmd->add_option("--advertise", server.advertise,
                  "host names and IP addresses workers and clients dial, for "
                  "the built-in CA's server certificate (default: the listen "
                  "host, this host's name, localhost, 127.0.0.1, ::1)")
      ->delimiter(',');
}

// The store of staged files and the --shared-fs mode (docs/staging.md).
void AddStoreFlags(CLI::App* cmd, CoordinatorOptions& server) {
  AddSizeLimit(cmd, "--max-store-bytes", &server.store.max_store_bytes,
               "disk for files uploaded with jobs (<state-dir>/store), "
               "partial uploads included; files no remembered job needs are "
               "collected to make room",
               "64GiB");
  server.store.max_upload_bytes = 0;  // Finish(): the store's cap
  AddSizeLimit(cmd, "--max-upload-bytes", &server.store.max_upload_bytes,
               "largest single file a job may upload (default: "
               "--max-store-bytes)",
               "--max-store-bytes");
  cmd->add_flag("--shared-fs", server.shared_fs,
                "accept jobs whose input files were not uploaded, using "
                "their paths as they are (every host sees the same files)");
}

void AddSpeculationFlags(CLI::App* cmd, CoordinatorFlags& flags) {
  Scheduler::Options& scheduler = flags.cmd.server.scheduler;
  Scheduler::Options::Speculation& speculation = scheduler.speculation;
  cmd->add_flag("--no-speculation", flags.no_speculation,
                "never start backup attempts for stragglers");
  cmd->add_option("--speculation-after", speculation.after,
                  "fraction of a job's shards done before stragglers get "
                  "backups")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--speculation-slowdown", speculation.slowdown,
                  "a straggler runs this many times longer than the median "
                  "shard")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  AddDurationOption(cmd, "--speculation-min-runtime", &speculation.min_runtime,
                    "never back up a shard running less than this");
  cmd->add_option("--quarantine-after", scheduler.quarantine_after,
                  "a worker failing this many different shards of a job gets "
                  "no more of them")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
}

// A plaintext port answering only gRPC health checks, for probes that
// cannot do TLS or carry the token (coordinator/health_server.h).
void AddHealthListenFlag(CLI::App* cmd, CoordinatorOptions& server) {
  cmd->add_option("--health-listen", server.health_listen,
                  "also serve grpc.health.v1.Health alone, in plaintext and "
                  "without a token, on this host:port (for Kubernetes gRPC "
                  "probes); it tells only SERVING or NOT_SERVING");
}

// The HTTP port of Prometheus' /metrics (coordinator/metrics_endpoint.h).
void AddMetricsFlags(CLI::App* cmd, CoordinatorOptions& server) {
  cmd->add_option("--http-listen", server.http_listen,
                  "serve Prometheus metrics at /metrics on this host:port "
                  "(e.g. 127.0.0.1:7480); it needs the token like the gRPC "
                  "port, and beyond loopback the same TLS (HTTPS)");
  cmd->add_flag("--metrics-no-auth", server.metrics_no_auth,
                "serve /metrics without the token (scrape-only: counts, no "
                "job or worker ids)");
}

// Blocks SIGINT and SIGTERM in every thread started after this call, and
// returns a thread that calls `on_signal` when one arrives. Signals are
// taken synchronously, so the handler may do anything.
std::thread HandleStopSignals(std::function<void(int)> on_signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, on_signal] {
    int signo = 0;
    sigwait(&set, &signo);
    on_signal(signo);
  });
}

}  // namespace

Subcommand AddCoordinatorCommand(CLI::App& app, const GlobalOptions&) {
  auto flags = std::make_shared<CoordinatorFlags>();
  CLI::App* cmd = app.add_subcommand("coordinator", "run a coordinator");
  AddSchedulingFlags(cmd, flags->cmd);
  AddLimitFlags(cmd, flags->cmd.server.scheduler);
  AddStateAndSecurityFlags(cmd, flags->cmd.server);
  AddStoreFlags(cmd, flags->cmd.server);
  AddSpeculationFlags(cmd, *flags);
  AddHealthListenFlag(cmd, flags->cmd.server);
  AddMetricsFlags(cmd, flags->cmd.server);
  return {cmd, [flags] {
            flags->Finish();
            return RunCoordinator(flags->cmd);
          }};
}

int RunCoordinator(const CoordinatorCommand& cmd) {
  std::unique_ptr<CoordinatorServer> server;
  absl::Notification started;
  std::thread signals = HandleStopSignals([&](int signo) {
    started.WaitForNotification();
    LOG(INFO) << "signal " << signo << ": shutting down";
    NotifyServiceManager(
        "STOPPING=1\nSTATUS=shutting down: ending calls, flushing the "
        "journal");
    if (server != nullptr) server->Shutdown();
  });
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> s =
      CoordinatorServer::Start(cmd.server, Clock::Real());
  if (!s.ok()) {
    std::cerr << "shardex: " << s.status().message() << "\n";
    signals.detach();
    return kExitUsage;
  }
  server = std::move(s).value();
  started.Notify();
  LOG(INFO) << "coordinator listening on port " << server->port();
  if (!cmd.port_file.empty()) {
    // Atomically, so that a reader polling for the file sees it whole.
    absl::Status written = WriteFileAtomically(
        cmd.port_file, absl::StrCat(server->port(), "\n"));
    if (!written.ok()) LOG(ERROR) << "--port-file: " << written;
  }
  // Type=notify (deploy/systemd): `systemctl start` returns now, when
  // clients and workers can connect and the port file is there.
  NotifyServiceManager(
      absl::StrCat("READY=1\nSTATUS=serving on port ", server->port()));
  server->Wait();
  signals.join();
  return kExitOk;
}

}  // namespace shardex
