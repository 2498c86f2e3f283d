// FUZZ_CHECK: an invariant of the code under test. A violation prints the
// condition and aborts, which libFuzzer reports as a crash (and the
// regression test as a failed binary), like a sanitizer finding.
#ifndef SHARDEX_FUZZ_FUZZ_CHECK_H_
#define SHARDEX_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                             \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__,    \
                   __LINE__, #cond);                                      \
      std::fprintf(stderr, __VA_ARGS__);                                  \
      std::fprintf(stderr, "\n");                                         \
      std::abort();                                                       \
    }                                                                     \
  } while (0)

#endif  // SHARDEX_FUZZ_FUZZ_CHECK_H_
