// The staging tests' fixture and helpers (tests/staging_fixture.h), and the
// main() of every staging test binary.
#include "tests/staging_fixture.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/channel.h"
#include "common/file_util.h"
#include "common/tls.h"
#include "common/token.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "proto/shardex.grpc.pb.h"
#include "proto/shardex.pb.h"

namespace shardex {
namespace staging {

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

std::string Tc() {
  for (const char* p : {"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "tc";
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string Sha256Of(const std::string& path) {
  return Shell("sha256sum '" + path + "' | cut -c1-64").substr(0, 64);
}

uint64_t WriteText(const std::string& path, uint64_t bytes, uint32_t seed) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return 0;
  uint64_t x = seed * 2654435761u + 1;
  auto next = [&x]() {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(x >> 33);
  };
  std::string buf;
  uint64_t written = 0, lines = 0;
  while (written + buf.size() < bytes) {
    const int words = 1 + next() % 12;
    for (int i = 0; i < words; ++i) {
      if (i > 0) buf.push_back(next() % 5 == 0 ? '\t' : ' ');
      const uint32_t r = next();
      if (r % 211 == 0) {
        buf += "needle7";
      } else {
        absl::StrAppend(&buf, "w", r % 5003);
      }
    }
    buf.push_back('\n');
    ++lines;
    if (buf.size() >= kMiB) {
      fwrite(buf.data(), 1, buf.size(), f);
      written += buf.size();
      buf.clear();
    }
  }
  fwrite(buf.data(), 1, buf.size(), f);
  fclose(f);
  return lines;
}

StagedLine ParseStagedLine(const std::string& err) {
  static const std::regex re(
      "shardex: staged ([0-9]+) files? \\(([0-9]+) bytes\\): ([0-9]+) "
      "uploaded, ([0-9]+) already stored");
  std::smatch m;
  StagedLine s;
  if (!std::regex_search(err, m, re)) return s;
  s.found = true;
  (void)absl::SimpleAtoi(m[1].str(), &s.files);
  (void)absl::SimpleAtoi(m[2].str(), &s.bytes);
  (void)absl::SimpleAtoi(m[3].str(), &s.uploaded);
  (void)absl::SimpleAtoi(m[4].str(), &s.stored);
  return s;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// ------------------------------------------------------------ StagingTest

void StagingTest::SetUp() {
  ASSERT_NO_FATAL_FAILURE(CreateHosts(4));
  if (hosts_ == nullptr) return;  // skipped
  ASSERT_NO_FATAL_FAILURE(MakeCertificates(dir_ + "/pki"));
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  for (int h : {kB, kC}) ASSERT_NO_FATAL_FAILURE(StartWorker(h));
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(2));
}

void StagingTest::TearDown() {
  if (hosts_ == nullptr) return;
  // Undo any shaping first (the namespaces go anyway; this is tidiness).
  for (int h : shaped_) (void)Unshape(h);
  // The paths are computed while the hosts still exist.
  std::vector<std::string> bulky = big_files_;
  bulky.push_back(CoordinatorState() + "/store");
  for (int h = 0; h < hosts_->size(); ++h) {
    bulky.push_back(hosts_->local_backing_dir(h) + "/scratch");
  }
  StopAndDestroyHosts();
  // The data files, the store and the caches: up to a few hundred MiB.
  // Logs stay when the test failed; everything goes when it passed.
  if (HasFailure()) {
    for (const std::string& path : bulky) {
      Shell("rm -rf --one-file-system '" + path + "'");
    }
  } else {
    Shell("rm -rf --one-file-system '" + dir_ + "'");
  }
}

void StagingTest::StartCoordinator(bool retry) {
  ASSERT_NO_FATAL_FAILURE(NetnsClusterTest::StartCoordinator(
      /*tls=*/true, coordinator_flags_, retry));
}

std::string StagingTest::HostShell(int host, const std::string& cmd,
                                   absl::Duration timeout) {
  CliRun run = hosts_->Run(host, {"/bin/sh", "-c", cmd}, timeout);
  EXPECT_EQ(run.exit_code, 0)
      << "on host " << hosts_->name(host) << ": " << cmd << ": " << run.err;
  return run.out;
}

uint64_t StagingTest::WriteLocalText(int host, const std::string& name,
                                     uint64_t bytes, uint32_t seed) {
  const uint64_t lines = WriteText(Backing(host, name), bytes, seed);
  EXPECT_GT(lines, 0u);
  if (bytes > 8 * kMiB) big_files_.push_back(Backing(host, name));
  for (int other = 0; other < hosts_->size(); ++other) {
    if (other == host) continue;
    CliRun run =
        hosts_->Run(other, {"/bin/sh", "-c", "test -e " + Local(name)});
    EXPECT_NE(run.exit_code, 0)
        << Local(name) << " is visible on host " << hosts_->name(other);
  }
  return lines;
}

std::string StagingTest::ExpectedWordcount(int host, const std::string& path) {
  return HostShell(host,
                   "LC_ALL=C tr -s '[:space:]' '\\n' < " + path +
                       " | LC_ALL=C grep -v '^$' | LC_ALL=C awk '{ c[$0]++ } "
                       "END { for (w in c) print c[w] \" \" w }' | "
                       "LC_ALL=C sort -t ' ' -k2,2");
}

absl::StatusOr<v1::BlobStat> StagingTest::StatBlob(const std::string& sha256) {
  const std::string d = Config(kA);
  CliRun run =
      hosts_->Run(kA,
                  {SelfExe(), kStatBlobsFlag, Address(), d + "/token",
                   d + "/ca.pem", d + "/client.pem", d + "/client.key", sha256},
                  absl::Seconds(30));
  if (run.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("StatBlobs helper: exit ", run.exit_code, ": ", run.err));
  }
  auto response = FromJson<v1::StatBlobsResponse>(run.out);
  if (!response.ok()) return response.status();
  if (response->blobs_size() != 1) {
    return absl::InternalError(absl::StrCat("StatBlobs answered ",
                                            response->blobs_size(),
                                            " blobs for 1: ", run.out));
  }
  return response->blobs(0);
}

v1::BlobStat StagingTest::WaitForBlob(
    const std::string& what, const std::string& sha,
    const std::function<bool(const v1::BlobStat&)>& pred,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::BlobStat> last;
  do {
    last = StatBlob(sha);
    if (last.ok() && pred(*last)) return *last;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  ADD_FAILURE() << "never: " << what << "; last StatBlobs: "
                << (last.ok() ? last->DebugString()
                              : std::string(last.status().message()));
  return last.ok() ? *last : v1::BlobStat();
}

absl::StatusOr<std::vector<v1::JobStatus>> StagingTest::Jobs() {
  CliRun run = Cli(kA, "jobs", {"--json"}, absl::Seconds(30));
  if (run.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("jobs: ", run.err));
  }
  auto list = FromJson<v1::ListJobsResponse>(run.out);
  if (!list.ok()) return list.status();
  return std::vector<v1::JobStatus>(list->jobs().begin(), list->jobs().end());
}

void StagingTest::Shape(int host, const std::string& rate) {
  CliRun run = hosts_->Run(host,
                           {Tc(), "qdisc", "add", "dev", "eth0", "root", "tbf",
                            "rate", rate, "burst", "64kb", "latency", "400ms"},
                           absl::Seconds(30));
  ASSERT_EQ(run.exit_code, 0)
      << "cannot slow host " << hosts_->name(host)
      << "'s eth0 with tc tbf (iproute2's tc and sch_tbf needed): " << run.err;
  shaped_.push_back(host);
}

absl::Status StagingTest::Unshape(int host) {
  CliRun run = hosts_->Run(host, {Tc(), "qdisc", "del", "dev", "eth0", "root"},
                           absl::Seconds(30));
  shaped_.erase(std::remove(shaped_.begin(), shaped_.end(), host),
                shaped_.end());
  if (run.exit_code == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("tc qdisc del: ", run.err));
}

// A staging test binary run on a host as `<test> --staging-test-stat-blobs
// ADDRESS TOKEN_FILE CA CERT KEY SHA256...`: prints the StatBlobsResponse as
// JSON on stdout, exit 0; or the error on stderr, exit 1.
int StatBlobsMain(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s %s ADDRESS TOKEN CA CERT KEY SHA256...\n",
            argv[0], kStatBlobsFlag);
    return 1;
  }
  ChannelOptions options;
  options.target = argv[2];
  options.tls.ca = argv[4];
  options.tls.cert = argv[5];
  options.tls.key = argv[6];
  absl::StatusOr<std::string> token = ReadTokenFile(argv[3]);
  if (!token.ok()) {
    fprintf(stderr, "%s\n", token.status().ToString().c_str());
    return 1;
  }
  auto channel = CreateCoordinatorChannel(options);
  if (!channel.ok()) {
    fprintf(stderr, "%s\n", channel.status().ToString().c_str());
    return 1;
  }
  auto stub = v1::Store::NewStub(*channel);
  v1::StatBlobsRequest request;
  for (int i = 7; i < argc; ++i) request.add_sha256(argv[i]);
  v1::StatBlobsResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  AddTokenMetadata(*token, &ctx);
  grpc::Status st = stub->StatBlobs(&ctx, request, &response);
  if (!st.ok()) {
    fprintf(stderr, "StatBlobs: %d %s\n", static_cast<int>(st.error_code()),
            st.error_message().c_str());
    return 1;
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  auto printed =
      google::protobuf::util::MessageToJsonString(response, &json, print);
  if (!printed.ok()) {
    fprintf(stderr, "%s\n", printed.ToString().c_str());
    return 1;
  }
  fwrite(json.data(), 1, json.size(), stdout);
  return 0;
}

}  // namespace staging
}  // namespace shardex

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == shardex::staging::kStatBlobsFlag) {
    const int rc = shardex::staging::StatBlobsMain(argc, argv);
    fflush(stdout);
    fflush(stderr);
    _exit(rc);  // no exit-time leak check or gRPC teardown in a helper
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
