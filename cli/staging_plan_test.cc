#include "cli/staging_plan.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>

#include "common/blob_id.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

class StagingPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/staging_plan_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  std::string Write(const std::string& rel, const std::string& content,
                    mode_t mode = 0644) {
    const std::string path = dir_ + "/" + rel;
    EXPECT_TRUE(WriteFileAtomically(path, content).ok()) << path;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string Mkdir(const std::string& rel) {
    const std::string path = dir_ + "/" + rel;
    EXPECT_EQ(mkdir(path.c_str(), 0755), 0) << path;
    return path;
  }

  // upload_name -> staged file, for the --upload entries.
  static std::map<std::string, v1::StagedFile> ByName(const v1::JobSpec& s) {
    std::map<std::string, v1::StagedFile> out;
    for (const v1::StagedFile& f : s.staged()) {
      if (!f.upload_name().empty()) out[f.upload_name()] = f;
    }
    return out;
  }

  static v1::JobSpec CommandJob() {
    v1::JobSpec spec;
    spec.mutable_command()->add_argv("./simulate");
    return spec;
  }

  std::string dir_;
};

TEST_F(StagingPlanTest, InputsComeFromKernelArgsInputsAndLines) {
  v1::JobSpec wc;
  wc.set_kernel("wordcount");
  (*wc.mutable_args())["files"] = "/d/a.txt\n/d/b.txt\n/d/a.txt";
  EXPECT_EQ(InputPaths(wc), (std::vector<std::string>{"/d/a.txt", "/d/b.txt"}));

  v1::JobSpec mandel;
  mandel.set_kernel("mandelbrot");
  (*mandel.mutable_args())["out"] = "/d/m.png";
  (*mandel.mutable_args())["width"] = "10";
  EXPECT_TRUE(InputPaths(mandel).empty());  // out is written, not read
  EXPECT_EQ(OutputParams(mandel),
            (std::map<std::string, std::string>{{"out", "/d/m.png"}}));
  EXPECT_TRUE(OutputParams(wc).empty());

  v1::JobSpec cmd = CommandJob();
  cmd.mutable_command()->add_inputs("/d/1");
  cmd.mutable_command()->add_inputs("/d/2");
  cmd.mutable_command()->set_lines("/d/lines");
  EXPECT_EQ(InputPaths(cmd),
            (std::vector<std::string>{"/d/1", "/d/2", "/d/lines"}));
}

TEST_F(StagingPlanTest, InputsAreHashedWithSizeAndMode) {
  const std::string a = Write("a.txt", "hello\n", 0640);
  v1::JobSpec spec = CommandJob();
  spec.mutable_command()->set_lines(a);
  ASSERT_TRUE(PlanStaging({}, &spec).ok());
  ASSERT_EQ(spec.staged_size(), 1);
  EXPECT_EQ(spec.staged(0).path(), a);
  EXPECT_EQ(spec.staged(0).sha256(), Sha256Hex("hello\n"));
  EXPECT_EQ(spec.staged(0).size(), 6u);
  EXPECT_EQ(spec.staged(0).mode(), 0640u);
  EXPECT_EQ(spec.staged(0).upload_name(), "");
}

TEST_F(StagingPlanTest, MissingInputNamesTheSubmittingHost) {
  v1::JobSpec spec;
  spec.set_kernel("wordcount");
  (*spec.mutable_args())["files"] = dir_ + "/nope.txt";
  absl::Status st = PlanStaging({}, &spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()), HasSubstr("the submitting host ("));
  EXPECT_THAT(std::string(st.message()), HasSubstr(dir_ + "/nope.txt"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("--shared-fs"));
}

TEST_F(StagingPlanTest, UploadDirectoryWalkKeepsNamesAndModes) {
  Mkdir("model");
  Mkdir("model/sub");
  Write("model/w.bin", "weights", 0600);
  Write("model/sub/run.sh", "#!/bin/sh\n", 0755);
  const std::string sim = Write("simulate", "binary", 0755);
  v1::JobSpec spec = CommandJob();
  // A trailing slash names the same directory.
  ASSERT_TRUE(PlanStaging({dir_ + "/model/", sim}, &spec).ok());
  auto files = ByName(spec);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files["model/w.bin"].mode(), 0600u);
  EXPECT_EQ(files["model/w.bin"].sha256(), Sha256Hex("weights"));
  EXPECT_EQ(files["model/w.bin"].path(), dir_ + "/model/w.bin");
  EXPECT_EQ(files["model/sub/run.sh"].mode(), 0755u);
  EXPECT_EQ(files["model/sub/run.sh"].size(), 10u);
  EXPECT_EQ(files["simulate"].path(), sim);
  EXPECT_EQ(files["simulate"].mode(), 0755u);
}

TEST_F(StagingPlanTest, SymlinkOutsideTheDirectoryIsRefused) {
  Mkdir("model");
  Write("secret", "key");
  ASSERT_EQ(symlink("../secret", (dir_ + "/model/evil").c_str()), 0);
  v1::JobSpec spec = CommandJob();
  absl::Status st = PlanStaging({dir_ + "/model"}, &spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("symlink " + dir_ + "/model/evil points to ../secret"));
}

TEST_F(StagingPlanTest, SymlinkInsideIsStoredAsItsTarget) {
  Mkdir("model");
  Write("model/w.bin", "weights", 0600);
  ASSERT_EQ(symlink("w.bin", (dir_ + "/model/alias").c_str()), 0);
  v1::JobSpec spec = CommandJob();
  ASSERT_TRUE(PlanStaging({dir_ + "/model"}, &spec).ok());
  auto files = ByName(spec);
  ASSERT_EQ(files.count("model/alias"), 1u);
  EXPECT_EQ(files["model/alias"].sha256(), Sha256Hex("weights"));
  EXPECT_EQ(files["model/alias"].mode(), 0600u);
  EXPECT_EQ(files["model/alias"].size(), 7u);
}

TEST_F(StagingPlanTest, SpecialFilesAreRefused) {
  Mkdir("d");
  ASSERT_EQ(mkfifo((dir_ + "/d/pipe").c_str(), 0644), 0);
  v1::JobSpec spec = CommandJob();
  absl::Status st = PlanStaging({dir_ + "/d"}, &spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr(dir_ + "/d/pipe"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("FIFOs"));
}

TEST_F(StagingPlanTest, SameUploadNameTwiceIsRefused) {
  Mkdir("a");
  Mkdir("b");
  const std::string x1 = Write("a/x", "1");
  const std::string x2 = Write("b/x", "2");
  v1::JobSpec spec = CommandJob();
  absl::Status st = PlanStaging({x1, x2}, &spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("both be named 'x'"));
}

TEST_F(StagingPlanTest, UploadOnAKernelJobIsRefused) {
  const std::string f = Write("f", "1");
  v1::JobSpec spec;
  spec.set_kernel("primes");
  absl::Status st = PlanStaging({f}, &spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("--upload applies to command jobs only"));
}

TEST_F(StagingPlanTest, DotNamesTheDirectoryItself) {
  Mkdir("proj");
  Write("proj/f", "1");
  v1::JobSpec spec = CommandJob();
  ASSERT_TRUE(PlanStaging({dir_ + "/proj/."}, &spec).ok());
  EXPECT_EQ(ByName(spec).count("proj/f"), 1u);
}

}  // namespace
}  // namespace shardex
