#include "kernels/text_testing.h"

#include <dirent.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shardex {
namespace testing {
namespace {

constexpr char kLicenseDir[] = "/usr/share/common-licenses";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Every license text, in name order so the result is deterministic.
std::string LicenseTexts() {
  std::vector<std::string> names;
  if (DIR* dir = opendir(kLicenseDir)) {
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
    }
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  std::string all;
  for (const std::string& name : names) {
    all += ReadFile(absl::StrCat(kLicenseDir, "/", name));
  }
  all.erase(std::remove(all.begin(), all.end(), '\0'), all.end());
  return all;
}

// Replaces some single spaces of `line` with other whitespace runs.
std::string RoughenSpaces(const std::string& line, std::mt19937_64& rng) {
  static const char* const kRuns[] = {"\t", "  ", " \t ", "\v", "\f", "\t\t"};
  std::string out;
  for (char c : line) {
    if (c == ' ' && rng() % 9 == 0) {
      out += kRuns[rng() % (sizeof(kRuns) / sizeof(kRuns[0]))];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string WriteTestFile(const std::string& name,
                          const std::string& contents) {
  static int counter = 0;
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name, "_", counter++);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::string MixedLicenseText(int copies) {
  static const char* const kOddWords[] = {"caf\xc3\xa9", "\xff\xfe", "na\xefve",
                                          "\x80word", "x\x7f"};
  const std::string licenses = LicenseTexts();
  if (licenses.empty()) return "";
  std::mt19937_64 rng(31337);  // fixed: the text must be the same every run
  std::string text;
  for (int copy = 0; copy < copies; ++copy) {
    std::istringstream in(licenses);
    std::string line;
    while (std::getline(in, line)) {
      line = RoughenSpaces(line, rng);
      if (rng() % 13 == 0) {
        line += absl::StrCat(" ", kOddWords[rng() % 5]);
      }
      text += line;
      text += rng() % 4 == 0 ? "\r\n" : "\n";
      if (rng() % 17 == 0) text += rng() % 2 ? "\n\n\n" : " \t\r\n\n";
    }
  }
  return text;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

absl::StatusOr<ShellResult> RunShell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return absl::InternalError(absl::StrCat("popen failed: ", command));
  }
  ShellResult result;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
    result.output.append(buf, n);
  const int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status)) {
    return absl::InternalError(absl::StrCat("command did not exit: ", command));
  }
  result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace testing
}  // namespace shardex
