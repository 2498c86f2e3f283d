// StagingFixture: the harness of the staging tests (issue 11,
// docs/staging.md; tests/staging_test.cc, staging_recovery_test.cc,
// staging_limits_test.cc): jobs on machines that share nothing but the
// network. A coordinator on host a, workers on hosts b and c, jobs submitted
// from host d (a fourth host, neither coordinator nor worker), each host a
// network namespace with its own address and host-local directory
// (tests/netns_hosts.h), all over mutual TLS with certificates made per test.
// Every data file is written only in the submitting host's local_dir(): no
// other host can open it, so a job can only work if the CLI staged it through
// the coordinator's store.
//
// Here: the StagingTest fixture (hosts, certificates, coordinator and
// workers, the CLI run on a host, files written on one host only, the
// expected answers from coreutils, the store's account by StatBlobs, the
// worker and job lists, slowing a host's egress with `tc tbf`), and the free
// helpers the tests share (WriteText, ParseStagedLine, Sha256Of, ...).
//
// StatBlobs is called from inside host a by the test binary itself run as a
// helper (`<test> --staging-test-stat-blobs ...`): the test process lives in
// the root namespace, which has no route to the hosts. So every staging test
// binary links this library's main() (staging_fixture.cc), which runs that
// helper when argv[1] is kStatBlobsFlag and the tests otherwise; such test
// targets must not also link gtest_main.
//
// Without root, `ip`, `unshare` or the right to make namespaces, every test
// is skipped with the reason.
//
// Thread-safety: none; the fixture and the helpers are used from the test's
// thread only.
#ifndef SHARDEX_TESTS_STAGING_FIXTURE_H_
#define SHARDEX_TESTS_STAGING_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/netns_cluster.h"
#include "tests/netns_hosts.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace staging {

inline constexpr int kA = 0;  // the coordinator's host (no worker)
inline constexpr int kB = 1;  // a worker
inline constexpr int kC = 2;  // a worker
inline constexpr int kD = 3;  // submits; no worker, no coordinator
inline constexpr int kPort = 7473;

// argv[1] of a staging test binary run as the StatBlobs helper.
inline constexpr char kStatBlobsFlag[] = "--staging-test-stat-blobs";

inline constexpr uint64_t kMiB = 1 << 20;

// `sh -c cmd` in the test's own namespace; its stdout.
std::string Shell(const std::string& cmd);

// This binary's path (/proc/self/exe).
std::string SelfExe();

// iproute2's tc.
std::string Tc();

// The size of a file (0 if there is none).
uint64_t FileSize(const std::string& path);

// Lower-case hex SHA-256 of a file the test can reach, by `sha256sum`.
std::string Sha256Of(const std::string& path);

// Writes about `bytes` bytes of text: lines of 1 to 12 words from a
// 5003-word vocabulary ("w0" ... "w5002", and now and then "needle7"),
// separated by a space or a tab. Deterministic from `seed`. Returns the
// number of lines.
uint64_t WriteText(const std::string& path, uint64_t bytes, uint32_t seed);

// What a `shardex: staged N files (X bytes): U uploaded, S already stored`
// line on stderr says.
struct StagedLine {
  bool found = false;
  uint64_t files = 0, bytes = 0, uploaded = 0, stored = 0;
};
StagedLine ParseStagedLine(const std::string& err);

// The output files of a directory (no dot files), sorted by name.
std::vector<std::string> ListDir(const std::string& dir);

// Whether `path` exists (a dangling symlink does).
bool Exists(const std::string& path);

// Four hosts (kA..kD), a coordinator on kA (with `coordinator_flags_`, which a
// derived fixture sets in its constructor), workers on kB and kC, set up
// afresh for every test; torn down with a leak check, logs printed when the
// test failed.
class StagingTest : public NetnsClusterTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // ---- hosts, certificates, processes (tests/netns_cluster.h)

  // Starts the coordinator on host a with `coordinator_flags_` added, and
  // waits for its port file. With `retry`, a coordinator that exits at once
  // (its port not free yet after a kill) is started again, for up to 30 s.
  void StartCoordinator(bool retry = false);

  // `sh -c cmd` on `host`; fails the test unless it exits 0. Its stdout.
  std::string HostShell(int host, const std::string& cmd,
                        absl::Duration timeout = absl::Seconds(120));

  // ---- files on the submitting host

  // `name` in the host-local directory: the path every host uses, and the
  // path the test reaches host `host`'s copy by.
  std::string Local(const std::string& name) const {
    return hosts_->local_dir() + "/" + name;
  }
  std::string Backing(int host, const std::string& name) const {
    return hosts_->local_backing_dir(host) + "/" + name;
  }

  // Writes text (WriteText) into host `host`'s local directory only, and
  // checks that the hosts that must fetch it cannot see it. Its line count.
  uint64_t WriteLocalText(int host, const std::string& name, uint64_t bytes,
                          uint32_t seed);

  // `wordcount`'s exact answer for `path` on `host`, from coreutils there:
  // the words as `tr -s '[:space:]' '\n'` cuts them, counted, sorted by word
  // in byte order ("<count> <word>" lines, newline-terminated as the CLI
  // prints the result).
  std::string ExpectedWordcount(int host, const std::string& path);

  // ---- the store, seen from host a

  // StatBlobs for one blob, asked by this binary run as a helper on host a.
  absl::StatusOr<v1::BlobStat> StatBlob(const std::string& sha256);

  // Polls StatBlob until `pred` holds; fails the test otherwise. The last
  // stat seen.
  v1::BlobStat WaitForBlob(const std::string& what, const std::string& sha,
                           const std::function<bool(const v1::BlobStat&)>& pred,
                           absl::Duration timeout = absl::Seconds(60));

  // ---- jobs and workers, asked from host a

  // The listed worker of `host` (host-a, host-b, ...), if any.
  static const v1::WorkerInfo* Find(const std::vector<v1::WorkerInfo>& list,
                                    int host) {
    return NetnsClusterTest::Find(list, std::string(1, char('a' + host)));
  }

  absl::StatusOr<std::vector<v1::JobStatus>> Jobs();
  void ExpectJobCount(size_t n, const std::string& why) {
    auto jobs = Jobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    EXPECT_EQ(jobs->size(), n) << why;
  }

  // ---- slowing a host's outgoing traffic (inside its namespace only)

  // A token bucket on the host's eth0: what it sends leaves at `rate`
  // ("64mbit"), so a transfer of tens of MiB surely takes seconds.
  void Shape(int host, const std::string& rate);
  absl::Status Unshape(int host);

  std::vector<std::string> coordinator_flags_;  // set before SetUp
  std::vector<int> shaped_;
  std::vector<std::string> big_files_;
};

}  // namespace staging
}  // namespace shardex

#endif  // SHARDEX_TESTS_STAGING_FIXTURE_H_
