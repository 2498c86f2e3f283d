// deploy/kubernetes, validated offline (no cluster runs here): the base
// and the rendered example overlay pass validate/validate.mjs (the
// Kubernetes API schema from the npm package kubernetes-models, then
// shardex's own checks), and broken copies of them fail, naming the
// problem. Needs node, `npm ci` in validate/ and kubectl 1.20 extracted in
// validate/.kubectl (scripts/setup.sh does both); skips, naming the
// command, without them.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

namespace fs = std::filesystem;

struct ShellRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command line (our own paths only, no quotes in them).
ShellRun Shell(const std::string& command) {
  ShellRun run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    run.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class KubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // deploy/kubernetes in the runfiles, and in the source tree (where
    // validate.mjs really is: node finds node_modules from there).
    runfiles_ = fs::path(getenv("TEST_SRCDIR")) / getenv("TEST_WORKSPACE") /
                "deploy/kubernetes";
    const fs::path script = fs::canonical(runfiles_ / "validate/validate.mjs");
    validate_ = script.string();
    const fs::path source_validate = script.parent_path();
    if (Shell("command -v node").exit_code != 0) {
      GTEST_SKIP() << "node is missing: apt-get install nodejs npm "
                      "(scripts/setup.sh)";
    }
    if (!fs::exists(source_validate / "node_modules/kubernetes-models")) {
      GTEST_SKIP() << "no " << (source_validate / "node_modules")
                   << ": run npm ci --prefix deploy/kubernetes/validate "
                      "--no-audit --no-fund (scripts/setup.sh)";
    }
    if (!fs::exists(source_validate / ".kubectl/usr/bin/kubectl")) {
      GTEST_SKIP() << "no kubectl for `kubectl kustomize` in "
                   << (source_validate / ".kubectl")
                   << ": run (cd /tmp && apt-get download kubernetes-client) "
                      "&& dpkg -x /tmp/kubernetes-client_*.deb "
                      "deploy/kubernetes/validate/.kubectl (scripts/setup.sh)";
    }
    tmp_ = fs::path(getenv("TEST_TMPDIR")) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  ShellRun Validate(const std::vector<std::string>& args) {
    std::string command = "node " + validate_;
    for (const std::string& arg : args) command += " " + arg;
    return Shell(command);
  }

  // Copies base/ and overlays/ into tmp_ as plain files: kustomize v2.0.3
  // does not follow the runfiles' symlinks.
  void CopyManifests() {
    for (const char* dir : {"base", "overlays"}) {
      fs::copy(runfiles_ / dir, tmp_ / dir,
               fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }
    for (const auto& entry : fs::recursive_directory_iterator(tmp_)) {
      if (!entry.is_symlink()) continue;
      const std::string text = ReadAll(fs::canonical(entry.path()));
      fs::remove(entry.path());
      std::ofstream(entry.path()) << text;
    }
  }

  // A copy of the manifests with `from` replaced by `to` in `file`
  // (relative to deploy/kubernetes), validated as `target`.
  ShellRun ValidateBroken(const std::string& file, const std::string& from,
                          const std::string& to, const std::string& target) {
    CopyManifests();
    const fs::path path = tmp_ / file;
    std::string text = ReadAll(path);
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from << " is not in " << file;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    std::ofstream(path, std::ios::trunc) << text;
    return Validate({(tmp_ / target).string()});
  }

  fs::path runfiles_;
  fs::path tmp_;
  std::string validate_;
};

TEST_F(KubernetesTest, BaseAndOverlayAreValid) {
  CopyManifests();
  ShellRun run = Validate({"--readme", (runfiles_ / "README.md").string(),
                           (tmp_ / "base").string(),
                           (tmp_ / "overlays/example").string()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("base: 5 objects checked"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("overlays/example: 5 objects checked"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("all valid"), std::string::npos) << run.output;
}

TEST_F(KubernetesTest, OverlaySetsImageReplicasAndResources) {
  // What the overlay renders to, through the same kustomize.
  const fs::path kubectl =
      fs::path(validate_).parent_path() / ".kubectl/usr/bin/kubectl";
  CopyManifests();
  ShellRun run = Shell(kubectl.string() + " kustomize " +
                       (tmp_ / "overlays/example").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("image: registry.example.com/shardex:0.8.0"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("replicas: 8"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("cpu: \"4\""), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("image: shardex\n"), std::string::npos)
      << run.output;
}

// One broken copy: which file, what changes, and what the validation must
// then say.
struct Breakage {
  const char* name;
  const char* file;
  const char* from;
  const char* to;
  const char* target;
  const char* expected;
};

class BrokenTest : public KubernetesTest,
                   public ::testing::WithParamInterface<Breakage> {};

TEST_P(BrokenTest, FailsNamingTheProblem) {
  const Breakage& b = GetParam();
  ShellRun run = ValidateBroken(b.file, b.from, b.to, b.target);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find(b.expected), std::string::npos)
      << "expected \"" << b.expected << "\" in:\n"
      << run.output;
}

INSTANTIATE_TEST_SUITE_P(
    Breakages, BrokenTest,
    ::testing::Values(
        Breakage{"ProbeOnWrongPort", "base/coordinator.yaml",
                 "readinessProbe:\n            grpc:\n              port: 7474",
                 "readinessProbe:\n            grpc:\n              port: 7475",
                 "base",
                 "readinessProbe probes port 7475, but --health-listen serves "
                 "health on 7474"},
        Breakage{"HealthListenNotAContainerPort", "base/coordinator.yaml",
                 "--health-listen=0.0.0.0:7474", "--health-listen=0.0.0.0:7480",
                 "base", "--health-listen port 7480 is not a containerPort"},
        Breakage{"BadFieldType", "base/coordinator.yaml", "replicas: 1",
                 "replicas: one", "base",
                 "StatefulSet/shardex-coordinator: API schema: "
                 "data/spec/replicas must be integer"},
        Breakage{"MissingRequiredField", "base/worker.yaml",
                 "- name: worker\n          image: shardex", "- image: shardex",
                 "base", "containers/0 must have required property name"},
        Breakage{"GraceShorterThanDrain", "base/worker.yaml",
                 "terminationGracePeriodSeconds: 45",
                 "terminationGracePeriodSeconds: 30", "base",
                 "terminationGracePeriodSeconds 30 does not exceed the "
                 "worker's --drain-timeout (30s)"},
        Breakage{"ThreadsNotTheCpus", "base/worker.yaml",
                 "--threads=$(SHARDEX_CPUS)", "--threads=8", "base",
                 "--threads 8 (= 8) does not match resources.requests.cpu 2"},
        Breakage{"RequestsNotLimits", "base/worker.yaml",
                 "requests:\n              cpu: \"2\"",
                 "requests:\n              cpu: \"1\"", "base",
                 "requests.cpu 1 != limits.cpu 2"},
        Breakage{"WrongSecretName", "base/worker.yaml",
                 "secretName: shardex-join-token", "secretName: shardex-token",
                 "base",
                 "no volume of the Secret shardex-join-token (found "
                 "shardex-token)"},
        Breakage{"TokenOnTheCommandLine", "base/worker.yaml",
                 "--join - \"$@\" < /etc/shardex/join/token",
                 "--join SHDXJ1-ab-cd.ef \"$@\"", "base",
                 "a token on the command line"},
        Breakage{"PdbSelectsNothing", "base/worker.yaml",
                 "  maxUnavailable: 1\n  selector:\n    matchLabels:\n"
                 "      app.kubernetes.io/name: shardex\n"
                 "      app.kubernetes.io/component: worker",
                 "  maxUnavailable: 1\n  selector:\n    matchLabels:\n"
                 "      app.kubernetes.io/name: shardex\n"
                 "      app.kubernetes.io/component: workers",
                 "base",
                 "PodDisruptionBudget/shardex-worker: selector matches no "
                 "workload's pods"},
        Breakage{"ServiceMissesThePod", "base/coordinator.yaml",
                 "  clusterIP: None\n  selector:\n"
                 "    app.kubernetes.io/name: shardex\n",
                 "  clusterIP: None\n  selector:\n"
                 "    app.kubernetes.io/name: shardx\n",
                 "base",
                 "Service shardex-coordinator's selector does not match the "
                 "pod labels"},
        Breakage{"RunsAsRoot", "base/worker.yaml", "runAsNonRoot: true",
                 "runAsNonRoot: false", "base",
                 "container worker: runAsNonRoot is not true"},
        Breakage{"OverlayLimitBelowRequest", "overlays/example/workers.yaml",
                 "limits:\n              cpu: \"4\"",
                 "limits:\n              cpu: \"3\"", "overlays/example",
                 "requests.cpu 4 != limits.cpu 3"}),
    [](const ::testing::TestParamInfo<Breakage>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace shardex
