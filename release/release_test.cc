// Checks the release artifacts (release/README.md): the static binary
// needs only glibc, prints its version and build id, the tarball and .deb
// hold what they should, and the binary runs a job in a root that holds
// nothing but itself and glibc (root only; skipped otherwise).
//
// Usage (from release/BUILD):
//   release_test BINARY TARBALL DEB DYNAMIC_BINARY SHIPPED_FILE...
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/version.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

std::string g_binary, g_tarball, g_deb;
std::string g_dynamic_binary;  // //cli:shardex, for contrast
// README.md, docs/ and deploy/ files, as paths in the source tree.
std::vector<std::string> g_shipped;

struct ShellRun {
  int status = -1;     // wait status; 0 is success
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh, stderr folded into the output.
ShellRun Shell(const std::string& command) {
  ShellRun run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.output.append(buf, n);
  run.status = pclose(pipe);
  return run;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Checks an archive listing (`tar -tv`, `dpkg-deb --contents`: mode owner
// size date time path per line): every entry owned by `owner` with the
// epoch's mtime, `binary` executable by all, each of `required` present.
void CheckListing(const std::string& listing, const std::string& owner,
                  const std::string& binary,
                  const std::vector<std::string>& required) {
  std::set<std::string> paths;
  for (const std::string& line : Lines(listing)) {
    std::istringstream fields(line);
    std::string mode, entry_owner, size, date, time, path;
    fields >> mode >> entry_owner >> size >> date >> time >> path;
    EXPECT_EQ(entry_owner, owner) << line;
    EXPECT_EQ(date + " " + time, "1970-01-01 00:00") << line;
    if (path == binary) {
      EXPECT_EQ(mode, "-rwxr-xr-x") << line;
    }
    paths.insert(path);
  }
  EXPECT_EQ(paths.count(binary), 1u) << binary << " missing\n" << listing;
  for (const std::string& path : required) {
    EXPECT_EQ(paths.count(path), 1u) << path << " missing\n" << listing;
  }
}

std::string Basename(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

TEST(ReleaseBinaryTest, NeedsOnlyGlibc) {
  const ShellRun run = Shell("readelf -d " + Quote(g_binary));
  ASSERT_EQ(run.status, 0) << run.output;
  const std::regex needed(R"(\(NEEDED\).*\[(.*)\])");
  const std::set<std::string> glibc = {"libc.so.6", "libm.so.6",
                                       "ld-linux-x86-64.so.2"};
  std::set<std::string> libs;
  for (const std::string& line : Lines(run.output)) {
    std::smatch m;
    if (std::regex_search(line, m, needed)) libs.insert(m[1]);
  }
  EXPECT_EQ(libs.count("libc.so.6"), 1u) << run.output;
  for (const std::string& lib : libs) {
    EXPECT_EQ(glibc.count(lib), 1u)
        << lib << " is not glibc: link it statically (@system_static)";
  }
}

// ... and the allocator linked in statically (common/allocator.h).
TEST(ReleaseBinaryTest, VersionShowsTheBuildIdReadelfShowsAndTcmalloc) {
  const ShellRun version = Shell(Quote(g_binary) + " --version");
  ASSERT_EQ(version.status, 0) << version.output;
  std::smatch m;
  const std::regex format(std::string("^shardex ") + kVersion +
                          R"( \(build ([0-9a-f]{40}); tcmalloc \d+\.\d+\S*\)\n$)");
  ASSERT_TRUE(std::regex_match(version.output, m, format)) << version.output;
  const ShellRun notes = Shell("readelf -n " + Quote(g_binary));
  ASSERT_EQ(notes.status, 0) << notes.output;
  EXPECT_NE(notes.output.find("Build ID: " + m[1].str() + "\n"),
            std::string::npos)
      << notes.output;
}

TEST(ReleaseTarballTest, ShipsTheDocsAndDeployFiles) {
  const std::set<std::string> shipped(g_shipped.begin(), g_shipped.end());
  for (const char* file :
       {"README.md", "docs/architecture.md", "docs/operations.md",
        "deploy/README.md", "deploy/systemd/shardex-coordinator.service",
        "deploy/systemd/shardex-worker@.service"}) {
    EXPECT_EQ(shipped.count(file), 1u) << file << " is not in :shipped_files";
  }
}

TEST(ReleaseTarballTest, HoldsBinaryDocsAndDeployFiles) {
  const std::string top = std::string("shardex-") + kVersion + "/";
  EXPECT_EQ(Basename(g_tarball), std::string("shardex-") + kVersion +
                                     "-linux-x86_64.tar.gz");
  const ShellRun list = Shell("tar -tvzf " + Quote(g_tarball));
  ASSERT_EQ(list.status, 0) << list.output;
  std::vector<std::string> required;
  for (const std::string& file : g_shipped) required.push_back(top + file);
  CheckListing(list.output, "0/0", top + "bin/shardex", required);
  for (const std::string& line : Lines(list.output)) {
    EXPECT_NE(line.find(" " + top), std::string::npos)
        << "outside " << top << ": " << line;
  }
  // The binary in the tarball is the release binary.
  const ShellRun same = Shell("tar -xOzf " + Quote(g_tarball) + " " +
                         Quote(top + "bin/shardex") + " | cmp - " +
                         Quote(g_binary));
  EXPECT_EQ(same.status, 0) << same.output;
}

TEST(ReleaseDebTest, DependsOnlyOnGlibc) {
  EXPECT_EQ(Basename(g_deb), std::string("shardex_") + kVersion + "_amd64.deb");
  const ShellRun fields = Shell("dpkg-deb --field " + Quote(g_deb) +
                           " Package Version Architecture Depends");
  ASSERT_EQ(fields.status, 0) << fields.output;
  const std::vector<std::string> lines = Lines(fields.output);
  ASSERT_EQ(lines.size(), 4u) << fields.output;
  EXPECT_EQ(lines[0], "Package: shardex");
  EXPECT_EQ(lines[1], std::string("Version: ") + kVersion);
  EXPECT_EQ(lines[2], "Architecture: amd64");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[3], m,
                               std::regex(R"(Depends: libc6 \(>= ([0-9.]+)\))")))
      << lines[3];
  // At least the newest glibc symbol version the binary uses.
  const ShellRun newest = Shell("objdump -T " + Quote(g_binary) +
                           " | grep -o 'GLIBC_[0-9][0-9.]*' | sed s/GLIBC_// |"
                           " sort -uV | tail -1");
  ASSERT_EQ(newest.status, 0) << newest.output;
  const ShellRun order = Shell("dpkg --compare-versions " + Quote(m[1].str()) +
                          " ge " + Quote(Lines(newest.output).at(0)));
  EXPECT_EQ(order.status, 0) << "Depends " << m[1] << " but the binary needs "
                             << newest.output;
}

TEST(ReleaseDebTest, InstallsBinaryUnitsAndDocs) {
  const ShellRun contents = Shell("dpkg-deb --contents " + Quote(g_deb));
  ASSERT_EQ(contents.status, 0) << contents.output;
  std::vector<std::string> required = {
      "./lib/systemd/system/shardex-coordinator.service",
      "./lib/systemd/system/shardex-worker@.service"};
  for (const std::string& file : g_shipped) {
    required.push_back("./usr/share/doc/shardex/" + file);
  }
  CheckListing(contents.output, "root/root", "./usr/bin/shardex", required);
  const ShellRun scripts = Shell("dpkg-deb --info " + Quote(g_deb));
  ASSERT_EQ(scripts.status, 0) << scripts.output;
  EXPECT_NE(scripts.output.find("postinst"), std::string::npos)
      << scripts.output;
}

// The binary from the tarball, alone with glibc in a chroot: no -dev
// package, no /usr/lib. A private mount and PID namespace (unshare) holds
// the /proc it needs (`local` starts its workers from /proc/self/exe) and
// a bind-mounted /dev/null; when its first process ends the kernel kills
// what is left and drops the mounts, and the directory is then removed.
class ChrootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (chroot, mount namespace)";
    const ShellRun probe = Shell("unshare --mount --pid --fork true");
    if (probe.status != 0) {
      GTEST_SKIP() << "cannot create mount and PID namespaces here: "
                   << probe.output;
    }
    const char* tmp = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") +
                       "/release_chroot.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    if (!dir_.empty()) Shell("rm -rf " + Quote(dir_));
  }

  std::string dir_;
};

TEST_F(ChrootTest, RunsALocalJobWithOnlyGlibc) {
  const std::string root = dir_ + "/root";
  const std::string top = std::string("shardex-") + kVersion;
  const ShellRun setup = Shell(
      "set -e; cd " + Quote(dir_) + "; tar -xzf " + Quote(g_tarball) + " " +
      Quote(top + "/bin/shardex") +
      "; mkdir -p root/bin root/lib64 root/lib/x86_64-linux-gnu root/proc "
      "root/dev root/tmp; chmod 1777 root/tmp; touch root/dev/null; "
      "mv " + Quote(top + "/bin/shardex") + " root/bin/shardex; "
      "cp -L /lib64/ld-linux-x86-64.so.2 root/lib64/; "
      "cp -L /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libm.so.6 "
      "root/lib/x86_64-linux-gnu/");
  ASSERT_EQ(setup.status, 0) << setup.output;
  const ShellRun files = Shell("cd " + Quote(root) + " && find . -type f | sort");
  EXPECT_EQ(files.output,
            "./bin/shardex\n./dev/null\n./lib/x86_64-linux-gnu/libc.so.6\n"
            "./lib/x86_64-linux-gnu/libm.so.6\n./lib64/ld-linux-x86-64.so.2\n");

  // Runs `command` (a shell word list) in the chroot, in new namespaces.
  auto in_chroot = [&](const std::string& command) {
    const std::string inside =
        "mount -t proc proc \"$1/proc\" && "
        "mount --bind /dev/null \"$1/dev/null\" && "
        "exec env -i HOME=/tmp TMPDIR=/tmp PATH=/bin "
        "\"$(command -v chroot)\" \"$1\" " + command;
    return Shell("timeout 300 unshare --mount --pid --fork sh -c " +
                 Quote(inside) + " sh " + Quote(root));
  };
  const ShellRun job = in_chroot("/bin/shardex local --workers 2 primes --to 1e7");
  EXPECT_EQ(job.status, 0) << job.output;
  EXPECT_NE(job.output.find("664579\n"), std::string::npos) << job.output;

  // The contrast: the normal build cannot even start there.
  const ShellRun copy = Shell("cp " + Quote(g_dynamic_binary) + " " +
                              Quote(root + "/bin/shardex-dynamic"));
  ASSERT_EQ(copy.status, 0) << copy.output;
  const ShellRun dynamic = in_chroot("/bin/shardex-dynamic --version");
  EXPECT_NE(dynamic.status, 0) << dynamic.output;
  EXPECT_NE(dynamic.output.find("error while loading shared libraries"),
            std::string::npos)
      << dynamic.output;
}

}  // namespace
}  // namespace shardex

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 5) {
    fprintf(stderr, "usage: %s BINARY TARBALL DEB DYNAMIC_BINARY SHIPPED...\n",
            argv[0]);
    return 2;
  }
  // Absolute: some tests run commands in other directories.
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return 2;
  auto absolute = [&](const char* path) {
    return path[0] == '/' ? std::string(path) : std::string(cwd) + "/" + path;
  };
  shardex::g_binary = absolute(argv[1]);
  shardex::g_tarball = absolute(argv[2]);
  shardex::g_deb = absolute(argv[3]);
  shardex::g_dynamic_binary = absolute(argv[4]);
  for (int i = 5; i < argc; ++i) {
    std::string path = argv[i];  // the root package's files come as ./FILE
    if (path.rfind("./", 0) == 0) path.erase(0, 2);
    shardex::g_shipped.push_back(path);
  }
  return RUN_ALL_TESTS();
}
