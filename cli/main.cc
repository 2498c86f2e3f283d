// shardex: one binary for the coordinator, the workers and the client.
// This file owns every flag: it parses the command line with CLI11 into the
// option structs of cli/commands.h and runs one command.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/job_flags.h"
#include "common/version.h"
#include "common/state_dir.h"
#include "common/tls.h"
#include "common/token.h"
#include "glog/logging.h"
#include "kernels/kernel.h"

namespace shardex {
namespace {

constexpr char kDefaultCoordinator[] = "127.0.0.1:7473";

std::string DefaultCoordinator() {
  const char* env = std::getenv("SHARDEX_COORDINATOR");
  return env != nullptr && *env != '\0' ? env : kDefaultCoordinator;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "shardex";
}

// Parses "3s", "500ms", "1m" (absl duration syntax).
CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        absl::Duration d;
        if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration()) {
          return "'" + s + "' is not a positive duration like 500ms or 3s";
        }
        return "";
      },
      "DURATION");
}

absl::Duration ToDuration(const std::string& s) {
  absl::Duration d;
  absl::ParseDuration(s, &d);
  return d;
}

int Main(int argc, char** argv) {
  CLI::App app{"shardex: split CPU-bound jobs into shards and run them on a "
               "cluster of workers."};
  app.footer(kExitCodeHelp);
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "log level of coordinator and worker processes")
      ->check(CLI::IsMember({"info", "warning", "error"}));

  // Flags every program that dials the coordinator shares (CLI, worker).
  auto add_access_flags = [](CLI::App* sub, std::string* token_file,
                             TlsFiles* tls) {
    sub->add_option("--token-file", *token_file,
                    "the coordinator's access token (default: "
                    "$SHARDEX_TOKEN_FILE, else <default state dir>/token)");
    sub->add_option("--tls-ca", tls->ca,
                    "CA certificate (PEM) that signed the coordinator's; "
                    "turns TLS on");
    sub->add_option("--tls-cert", tls->cert,
                    "client certificate (PEM) for a mutual-TLS coordinator");
    sub->add_option("--tls-key", tls->key, "private key of --tls-cert");
  };

  ClientOptions client;
  client.coordinator = DefaultCoordinator();
  std::string client_token_file;
  std::string deadline = "10s";
  auto add_client_flags = [&](CLI::App* sub) {
    sub->add_option("--coordinator", client.coordinator,
                    "coordinator address host:port (env SHARDEX_COORDINATOR)")
        ->capture_default_str();
    add_access_flags(sub, &client_token_file, &client.tls);
    sub->add_option("--rpc-timeout", deadline, "deadline of each call")
        ->check(DurationValidator())
        ->capture_default_str();
  };

  // coordinator
  CoordinatorCommand coord;
  std::string heartbeat_timeout = "3s";
  CLI::App* coordinator_cmd =
      app.add_subcommand("coordinator", "run a coordinator");
  coordinator_cmd->add_option("--listen", coord.server.listen,
                              "address to listen on (port 0: any free port)")
      ->capture_default_str();
  coordinator_cmd->add_option("--port-file", coord.port_file,
                              "write the bound port to this file");
  coordinator_cmd->add_option("--heartbeat-timeout", heartbeat_timeout,
                              "drop workers silent this long")
      ->check(DurationValidator())
      ->capture_default_str();
  coordinator_cmd->add_option("--max-attempts",
                              coord.server.scheduler.max_attempts,
                              "failed attempts before a shard fails its job")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  coordinator_cmd->add_flag(
      "--allow-commands", coord.server.scheduler.allow_commands,
      "accept command jobs, which run programs on the workers");
  coordinator_cmd->add_option("--max-shards",
                              coord.server.scheduler.max_shards_per_job,
                              "largest shard count a job may ask for")
      ->capture_default_str();
  // Limits on what clients and workers make the coordinator hold
  // (docs/operations.md, "Limits").
  Scheduler::Options& limits = coord.server.scheduler;
  coordinator_cmd->add_option("--max-jobs", limits.max_jobs_in_flight,
                              "jobs queued or running at once; more submits "
                              "are refused")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  coordinator_cmd->add_option("--max-job-records", limits.max_job_records,
                              "ended jobs kept for status; older ones are "
                              "forgotten (the state directory keeps them)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  coordinator_cmd->add_option("--max-watch-streams", limits.max_watch_streams,
                              "WatchJob streams open at once")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  coordinator_cmd->add_option("--max-worker-sessions",
                              limits.max_worker_sessions,
                              "worker sessions open at once")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  auto add_bytes_option = [&](const std::string& name, uint64_t* bytes,
                              const std::string& help,
                              const std::string& default_text) {
    coordinator_cmd
        ->add_option_function<std::string>(
            name, [bytes, name](const std::string& s) {
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
  };
  add_bytes_option("--max-held-bytes", &limits.max_held_bytes,
                   "memory for job specs, shard state and results; beyond "
                   "it submits are refused and old ended jobs forgotten",
                   "2GiB");
  add_bytes_option("--max-result-bytes", &limits.max_result_bytes,
                   "largest shard result (and job result) the coordinator "
                   "holds; larger ones fail", "32MiB");
  add_bytes_option("--max-spec-bytes", &limits.max_spec_bytes,
                   "largest job description (arguments, command, inputs)",
                   "256KiB");
  add_bytes_option("--max-argv-bytes", &limits.commands.max_argv_bytes,
                   "largest command-job argv, and --reduce-command",
                   "128KiB");
  coord.server.state_dir = DefaultStateDir();
  coordinator_cmd->add_option("--state-dir", coord.server.state_dir,
                              "where jobs and accepted results are kept "
                              "(SQLite); a restart resumes them")
      ->capture_default_str();
  coordinator_cmd->add_option("--token-file", coord.server.token_file,
                              "the access token every call must present; "
                              "created (mode 0600) if absent (default: "
                              "<state-dir>/token)");
  coordinator_cmd->add_option("--tls-cert", coord.server.tls.cert,
                              "server certificate (PEM); turns TLS on");
  coordinator_cmd->add_option("--tls-key", coord.server.tls.key,
                              "private key of --tls-cert");
  coordinator_cmd->add_option("--tls-ca", coord.server.tls.ca,
                              "CA (PEM) whose client certificates are "
                              "required from workers and clients (mutual "
                              "TLS)");
  coordinator_cmd->add_flag("--insecure", coord.server.insecure,
                            "allow listening beyond loopback without TLS");
  Scheduler::Options::Speculation& speculation =
      coord.server.scheduler.speculation;
  bool no_speculation = false;
  std::string speculation_min_runtime = "1s";
  coordinator_cmd->add_flag("--no-speculation", no_speculation,
                            "never start backup attempts for stragglers");
  coordinator_cmd->add_option("--speculation-after", speculation.after,
                              "fraction of a job's shards done before "
                              "stragglers get backups")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  coordinator_cmd->add_option("--speculation-slowdown", speculation.slowdown,
                              "a straggler runs this many times longer than "
                              "the median shard")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  coordinator_cmd->add_option("--speculation-min-runtime",
                              speculation_min_runtime,
                              "never back up a shard running less than this")
      ->check(DurationValidator())
      ->capture_default_str();
  coordinator_cmd->add_option("--quarantine-after",
                              coord.server.scheduler.quarantine_after,
                              "a worker failing this many different shards of "
                              "a job gets no more of them")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();

  // worker
  WorkerOptions worker;
  worker.coordinator = DefaultCoordinator();
  CLI::App* worker_cmd = app.add_subcommand("worker", "run a worker");
  worker_cmd->add_option("--coordinator", worker.coordinator,
                         "coordinator address host:port")
      ->capture_default_str();
  std::string worker_token_file;
  add_access_flags(worker_cmd, &worker_token_file, &worker.tls);
  worker_cmd->add_option("--threads", worker.threads,
                         "shards run at once (default: every core)")
      ->check(CLI::Range(1, 4096));
  worker_cmd->add_option("--processes", worker.processes,
                         "command shards run at once (default: every core)")
      ->check(CLI::Range(1, 4096));
  worker_cmd->add_option("--scratch-dir", worker.scratch_dir,
                         "where command shards get their working directories "
                         "(default: $TMPDIR or /tmp)");
  worker_cmd->add_option("--name", worker.host,
                         "name shown in `shardex workers` (default: hostname)");
  worker_cmd
      ->add_option_function<std::string>(
          "--drain-timeout",
          [&worker](const std::string& s) {
            worker.drain_timeout = ToDuration(s);
          },
          "on SIGTERM, how long running shards may finish before they are "
          "handed back to the coordinator")
      ->check(DurationValidator())
      ->default_str("30s");

  // submit
  SubmitCommand submit;
  JobFlags submit_job;
  CLI::App* submit_cmd = app.add_subcommand(
      "submit",
      "submit a job (a kernel, or a command after --) and follow it to its "
      "end");
  submit_cmd->fallthrough();
  add_client_flags(submit_cmd);
  submit_cmd->add_flag("--detach", submit.detach,
                       "print the job id and return at once");
  submit_cmd->add_flag("--json", submit.wait.json, "print JSON");
  submit_job.Register(submit_cmd);

  // status / watch / cancel
  uint64_t job_id = 0;
  bool json = false;
  auto add_job_command = [&](const std::string& name, const std::string& help) {
    CLI::App* sub = app.add_subcommand(name, help);
    add_client_flags(sub);
    sub->add_option("JOB", job_id, "job id")->required();
    sub->add_flag("--json", json, "print JSON");
    return sub;
  };
  CLI::App* status_cmd = add_job_command("status", "show a job");
  CLI::App* watch_cmd = add_job_command("watch", "follow a job to its end");
  CLI::App* cancel_cmd = add_job_command("cancel", "cancel a job");
  CLI::App* jobs_cmd = app.add_subcommand("jobs", "list jobs");
  add_client_flags(jobs_cmd);
  jobs_cmd->add_flag("--json", json, "print JSON");
  CLI::App* workers_cmd = app.add_subcommand("workers", "list workers");
  add_client_flags(workers_cmd);
  workers_cmd->add_flag("--json", json, "print JSON");

  // local
  LocalCommand local;
  local.cluster.threads = 1;
  CLI::App* local_cmd = app.add_subcommand(
      "local", "run a job on a private cluster of worker processes here");
  local_cmd->fallthrough();
  local_cmd->add_option("--workers", local.cluster.workers,
                        "worker processes to start")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  local_cmd->add_option("--threads", local.cluster.threads,
                        "threads per worker")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  local_cmd->add_flag("--json", local.wait.json, "print JSON");
  local_cmd->add_option("--state-dir", local.cluster.state_dir,
                        "keep the coordinator's state here (default: a "
                        "private temporary directory)");
  JobFlags local_job;
  local_job.Register(local_cmd);

  // A command job's program follows `--`; keep it away from the parser.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> command = SplitAtDoubleDash(args);
  submit_job.SetCommand(command);
  local_job.SetCommand(command);
  std::vector<const char*> cargs;
  for (const std::string& a : args) cargs.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string message = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      for (auto [cmd, job] : {std::pair{submit_cmd, &submit_job},
                              std::pair{local_cmd, &local_job}}) {
        if (cmd->parsed()) {
          message = std::string(job->Build(app.remaining()).status().message());
        }
      }
    }
    std::cerr << "shardex: " << message << "\n";
    std::cerr << "Run with --help for usage.\n";
    return kExitUsage;
  }

  for (auto [cmd, job, spec] :
       {std::tuple{submit_cmd, &submit_job, &submit.job},
        std::tuple{local_cmd, &local_job, &local.job}}) {
    if (!cmd->parsed()) continue;
    absl::StatusOr<shardex::v1::JobSpec> built = job->Build(cmd->remaining());
    if (!built.ok()) {
      std::cerr << "shardex: " << built.status().message()
                << "\nRun with --help for usage.\n";
      return kExitUsage;
    }
    *spec = *std::move(built);
  }

  FLAGS_logtostderr = true;
  FLAGS_minloglevel = log_level == "info" ? 0 : log_level == "warning" ? 1 : 2;
  google::InitGoogleLogging(argv[0]);
  client.deadline = ToDuration(deadline);

  // The token comes from a file, never from the command line.
  auto load_token = [](const std::string& flag, std::string* token) {
    const std::string path = flag.empty() ? DefaultTokenFile() : flag;
    if (path.empty()) return true;  // calls will say how to pass one
    absl::StatusOr<std::string> read = ReadTokenFile(path);
    if (!read.ok()) {
      std::cerr << "shardex: " << read.status().message() << "\n";
      return false;
    }
    *token = *std::move(read);
    return true;
  };
  if (!local_cmd->parsed() && !coordinator_cmd->parsed()) {
    const bool ok = worker_cmd->parsed()
                        ? load_token(worker_token_file, &worker.token)
                        : load_token(client_token_file, &client.token);
    if (!ok) return kExitUsage;
  }

  if (coordinator_cmd->parsed()) {
    coord.server.scheduler.heartbeat_timeout = ToDuration(heartbeat_timeout);
    speculation.enabled = !no_speculation;
    speculation.min_runtime = ToDuration(speculation_min_runtime);
    return RunCoordinator(coord);
  }
  if (worker_cmd->parsed()) return RunWorker(worker);
  if (submit_cmd->parsed()) {
    submit.client = client;
    return RunSubmit(submit);
  }
  if (status_cmd->parsed()) return RunStatus(client, job_id, json);
  if (watch_cmd->parsed()) return RunWatch(client, job_id, WaitOptions{json});
  if (cancel_cmd->parsed()) return RunCancel(client, job_id, json);
  if (jobs_cmd->parsed()) return RunJobs(client, json);
  if (workers_cmd->parsed()) return RunWorkers(client, json);
  if (local_cmd->parsed()) {
    local.cluster.self_exe = SelfExe();
    // The private cluster stays quiet unless asked; errors still show.
    if (log_level == "info") FLAGS_minloglevel = 2;
    local.cluster.log_level = log_level == "info" ? "error" : log_level;
    return RunLocal(local);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace shardex

int main(int argc, char** argv) { return shardex::Main(argc, argv); }
