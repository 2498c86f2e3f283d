#include "cli/quick_exit.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace shardex {

bool QuickExitEnabled() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(SHARDEX_TSAN)
  return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
  return false;
#else
  return true;
#endif
#else
  return true;
#endif
}

void QuickExit(int code) {
  if (!QuickExitEnabled()) return;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace shardex
