// Runs a fuzz target's LLVMFuzzerTestOneInput on saved inputs, one gtest
// case per file, so the seed corpus and every crash ever found replay in
// each ordinary (gcc, no libFuzzer) `bazel test //...`.
//
// Usage: <test> [--gtest flags] SUITE=DIR... [FILE...]
//   Each SUITE=DIR registers every regular file below DIR (sorted, dot
//   files and README* skipped) as test SUITE.<file name>; a suite whose
//   name starts with DISABLED_ is registered but not run (gtest's rule),
//   which is how known, still unfixed crashes are kept
//   (--gtest_also_run_disabled_tests replays them). A bare FILE argument
//   is a one-off input, in suite Input.
// A crash takes the whole binary down, which Bazel reports as a failed
// target: gtest prints the case it was running, i.e. the file.
#include <dirent.h>
#include <sys/stat.h>

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void ListFiles(const std::string& dir, std::vector<std::string>* out) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;  // a missing directory holds no inputs
  std::vector<std::string> names;
  while (const struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || name.rfind("README", 0) == 0) {
      continue;
    }
    names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      ListFiles(path, out);
    } else if (S_ISREG(st.st_mode)) {
      out->push_back(path);
    }
  }
}

// gtest names: letters, digits and '_' only.
std::string TestName(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return name;
}

class InputTest : public testing::Test {
 public:
  explicit InputTest(std::string path) : path_(std::move(path)) {}

  void TestBody() override {
    std::ifstream in(path_, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << path_;
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string data = buf.str();
    std::fprintf(stderr, "input: %s (%zu bytes)\n", path_.c_str(),
                 data.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }

 private:
  const std::string path_;
};

// Absolute, in case a harness changes directory.
void Register(const std::string& suite, const std::string& relative) {
  char* real = realpath(relative.c_str(), nullptr);
  const std::string path = real != nullptr ? real : relative;
  free(real);
  testing::RegisterTest(suite.c_str(), TestName(path).c_str(), nullptr,
                        path.c_str(), __FILE__, __LINE__,
                        [path]() -> testing::Test* {
                          return new InputTest(path);
                        });
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  int registered = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      Register("Input", arg);
      ++registered;
      continue;
    }
    std::vector<std::string> files;
    ListFiles(arg.substr(eq + 1), &files);
    for (const std::string& f : files) Register(arg.substr(0, eq), f);
    registered += static_cast<int>(files.size());
  }
  if (registered == 0) {
    std::fprintf(stderr, "no inputs found (args: SUITE=DIR... or FILE...)\n");
    return 1;
  }
  return RUN_ALL_TESTS();
}
