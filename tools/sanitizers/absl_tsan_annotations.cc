// ThreadSanitizer annotations for Debian's (uninstrumented) Abseil
// synchronization library. Linked into every binary of `--config=tsan` only
// (see .bazelrc and docs/build.md).
//
// Why: libabsl_synchronization.so was not built with -fsanitize=thread, so
// TSan cannot see absl::Mutex, CondVar, Notification or BlockingCounter
// synchronize anything, and reports every access to mutex-guarded data as
// a race: hundreds of false positives per test, which bury real races.
// An absl built with TSan annotates itself with __tsan_mutex_* calls; this
// file adds the same annotations from outside.
//
// How: the definitions below are linked into the executable, so they
// interpose on the library's exported functions, for our code and for
// every shared library calling them through the PLT (gRPC's mutexes too).
// Each one tells TSan what is about to happen, calls the library's own
// function (found with dlsym(RTLD_NEXT)), and tells TSan what happened.
// Between a __tsan_mutex_pre_* and its __tsan_mutex_post_* TSan ignores
// memory accesses, which covers absl evaluating Conditions inside lock,
// unlock and await operations.
//
// Not covered: absl::Barrier (unused here), and Mutex::Trans and other
// internals nobody outside absl calls.
#if defined(SHARDEX_TSAN)  // --config=tsan (.bazelrc)

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

// "_ZN4absl" + the inline namespace ("7debian3" on Debian 12) + `rest`.
std::string Mangle(bool is_const, const char* rest) {
  std::string name = is_const ? "_ZNK4absl" : "_ZN4absl";
#if defined(ABSL_OPTION_USE_INLINE_NAMESPACE) && \
    ABSL_OPTION_USE_INLINE_NAMESPACE
#define SHARDEX_STR2(x) #x
#define SHARDEX_STR(x) SHARDEX_STR2(x)
  const char* ns = SHARDEX_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  name += std::to_string(std::strlen(ns)) + ns;
#endif
  return name + rest;
}

// The library's own definition of the function mangled as `rest`.
template <typename Fn>
Fn Real(bool is_const, const char* rest) {
  const std::string name = Mangle(is_const, rest);
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr,
                 "tools/sanitizers/absl_tsan_annotations.cc: %s not found "
                 "(another Abseil version?)\n",
                 name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// Some of the library's functions call others of these through the PLT
// (AwaitWithTimeout calls AwaitWithDeadline, Notification calls LockWhen,
// ...), which lands in our definitions again: only the outermost call of a
// thread annotates.
thread_local int depth = 0;

class Outermost {
 public:
  Outermost() : outermost_(depth++ == 0) {}
  ~Outermost() { --depth; }
  Outermost(const Outermost&) = delete;
  Outermost& operator=(const Outermost&) = delete;
  explicit operator bool() const { return outermost_; }

 private:
  const bool outermost_;
};

// Declares `real`, the library's function, and returns it called with the
// arguments when this is a nested call.
#define REAL(type, is_const, rest, ...)                \
  static const auto real = Real<type>(is_const, rest); \
  const Outermost outermost;                           \
  if (!outermost) return real(__VA_ARGS__)

// Whether `pc` is in one of Debian's libraries (rather than in our
// binaries, which Bazel builds under bazel-out).
bool CalledFromSystemLibrary(const void* pc) {
  Dl_info info;
  if (dladdr(pc, &info) == 0 || info.dli_fname == nullptr) return false;
  return std::strncmp(info.dli_fname, "/lib/", 5) == 0 ||
         std::strncmp(info.dli_fname, "/usr/lib/", 9) == 0;
}

// absl::Mutex's state word (its only member); kMuWriter from mutex.cc.
bool HeldExclusively(const absl::Mutex* mu) {
  static_assert(sizeof(absl::Mutex) == sizeof(std::atomic<intptr_t>), "");
  constexpr intptr_t kMuWriter = 0x0008;
  return (reinterpret_cast<const std::atomic<intptr_t>*>(mu)->load(
              std::memory_order_relaxed) &
          kMuWriter) != 0;
}

unsigned HeldFlags(const absl::Mutex* mu) {
  return HeldExclusively(mu) ? 0 : __tsan_mutex_read_lock;
}

// Address TSan uses as the happens-before token of a Notification: its
// `notified_yet_` flag, which the inline HasBeenNotified() loads with
// acquire order in our (instrumented) code.
void* NotifiedFlag(const absl::Notification* n) {
  static_assert(sizeof(absl::Notification) == 2 * sizeof(absl::Mutex), "");
  return const_cast<char*>(reinterpret_cast<const char*>(n) +
                           sizeof(absl::Mutex));
}

// Likewise for a BlockingCounter (its count, after its mutex).
void* CounterToken(const absl::BlockingCounter* c) {
  return const_cast<char*>(reinterpret_cast<const char*>(c) +
                           sizeof(absl::Mutex));
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// ------------------------------------------------------------------ Mutex

Mutex::~Mutex() {
  static const auto real = Real<void (*)(Mutex*)>(false, "5MutexD2Ev");
  // As in an Abseil built with TSan, whose annotations only the mutexes
  // of instrumented code get: a destruction TSan checks against earlier
  // uses for our mutexes, not for the system libraries' own (gRPC frees
  // its mutexes after hand-offs TSan cannot see).
  if (!CalledFromSystemLibrary(__builtin_return_address(0))) {
    __tsan_mutex_destroy(this, 0);
  }
  real(this);
}

void Mutex::Lock() {
  REAL(void (*)(Mutex*), false, "5Mutex4LockEv", this);
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  REAL(void (*)(Mutex*), false, "5Mutex10ReaderLockEv", this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::TryLock() {
  REAL(bool (*)(Mutex*), false, "5Mutex7TryLockEv", this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(
      this, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock_failed, 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  REAL(bool (*)(Mutex*), false, "5Mutex13ReaderTryLockEv", this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(
      this,
      locked ? __tsan_mutex_try_read_lock : __tsan_mutex_try_read_lock_failed,
      0);
  return locked;
}

void Mutex::Unlock() {
  REAL(void (*)(Mutex*), false, "5Mutex6UnlockEv", this);
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  REAL(void (*)(Mutex*), false, "5Mutex12ReaderUnlockEv", this);
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

// LockWhen*: always return holding the lock (the timed ones too).
void Mutex::LockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), false,
       "5Mutex8LockWhenERKNS0_9ConditionE", this, cond);
  __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  __tsan_mutex_post_lock(this, 0, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration), false,
       "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE", this,
       cond, timeout);
  __tsan_mutex_pre_lock(this, 0);
  const bool result = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time), false,
       "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE", this, cond,
       deadline);
  __tsan_mutex_pre_lock(this, 0);
  const bool result = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), false,
       "5Mutex14ReaderLockWhenERKNS0_9ConditionE", this, cond);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this, cond);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration), false,
       "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE",
       this, cond, timeout);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  const bool result = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time), false,
       "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE", this,
       cond, deadline);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  const bool result = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return result;
}

// Await*: called and returning with the lock held, possibly released and
// reacquired in between. Annotated as absl's own TSan build does: an
// unlock before, a lock after.
void Mutex::Await(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), false,
       "5Mutex5AwaitERKNS0_9ConditionE", this, cond);
  const unsigned flags = HeldFlags(this);
  __tsan_mutex_pre_unlock(this, flags);
  real(this, cond);
  __tsan_mutex_post_lock(this, flags, 0);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration), false,
       "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE", this, cond,
       timeout);
  const unsigned flags = HeldFlags(this);
  __tsan_mutex_pre_unlock(this, flags);
  const bool result = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, flags, 0);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time), false,
       "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE", this, cond,
       deadline);
  const unsigned flags = HeldFlags(this);
  __tsan_mutex_pre_unlock(this, flags);
  const bool result = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, flags, 0);
  return result;
}

// ---------------------------------------------------------------- CondVar

void CondVar::Wait(Mutex* mu) {
  REAL(void (*)(CondVar*, Mutex*), false, "7CondVar4WaitEPNS0_5MutexE", this,
       mu);
  const unsigned flags = HeldFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  real(this, mu);
  __tsan_mutex_post_lock(mu, flags, 0);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  REAL(bool (*)(CondVar*, Mutex*, Duration), false,
       "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE", this, mu,
       timeout);
  const unsigned flags = HeldFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  const bool result = real(this, mu, timeout);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  REAL(bool (*)(CondVar*, Mutex*, Time), false,
       "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE", this, mu, deadline);
  const unsigned flags = HeldFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  const bool result = real(this, mu, deadline);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// ----------------------------------------------------------- Notification

void Notification::Notify() {
  REAL(void (*)(Notification*), false, "12Notification6NotifyEv", this);
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  REAL(void (*)(const Notification*), true,
       "12Notification19WaitForNotificationEv", this);
  real(this);
  __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  REAL(bool (*)(const Notification*, Duration), true,
       "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", this,
       timeout);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  REAL(bool (*)(const Notification*, Time), true,
       "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", this,
       deadline);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

// -------------------------------------------------------- BlockingCounter

bool BlockingCounter::DecrementCount() {
  REAL(bool (*)(BlockingCounter*), false, "15BlockingCounter14DecrementCountEv",
       this);
  __tsan_release(CounterToken(this));
  const bool last = real(this);
  if (last) __tsan_acquire(CounterToken(this));  // sees the others' work
  return last;
}

void BlockingCounter::Wait() {
  REAL(void (*)(BlockingCounter*), false, "15BlockingCounter4WaitEv", this);
  real(this);
  __tsan_acquire(CounterToken(this));
}

ABSL_NAMESPACE_END
}  // namespace absl

#endif  // SHARDEX_TSAN
