// Whether this binary was built with a sanitizer (--config=asan or tsan,
// docs/build.md). Sanitizer builds are what the tests run: they keep the
// checks and the full teardown that release shortcuts skip.
#ifndef SHARDEX_COMMON_SANITIZERS_H_
#define SHARDEX_COMMON_SANITIZERS_H_

namespace shardex {

constexpr bool SanitizerBuild() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(SHARDEX_TSAN)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

}  // namespace shardex

#endif  // SHARDEX_COMMON_SANITIZERS_H_
