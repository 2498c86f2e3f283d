#include "cli/quick_exit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace shardex {
namespace {

// Output still buffered when QuickExit is called reaches the file: what a
// script reading `shardex submit`'s stdout from a pipe depends on.
TEST(QuickExitTest, FlushesBufferedOutputAndExitsWithTheCode) {
  if (!QuickExitEnabled()) {
    GTEST_SKIP() << "sanitizer build: QuickExit returns so that the full "
                    "teardown (and LeakSanitizer) runs";
  }
  char dir[] = "/tmp/quick_exit_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string out = std::string(dir) + "/stdout";
  EXPECT_EXIT(
      {
        // stdout to a file: fully buffered, nothing written until a flush.
        const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        close(fd);
        std::ios::sync_with_stdio(false);  // std::cout buffers on its own
        std::cout << "answer ";
        std::printf("and stdio");
        QuickExit(3);
        std::cout << " NOT REACHED";
        std::cout.flush();
        _exit(0);
      },
      testing::ExitedWithCode(3), "");
  std::ifstream in(out);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), "answer and stdio");
  unlink(out.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace shardex
