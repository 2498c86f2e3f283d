#include "common/allocator.h"

#include "absl/strings/str_cat.h"

// gperftools' version query, declared weak: null unless tcmalloc is linked.
extern "C" const char* tc_version(int* major, int* minor, const char** patch)
    __attribute__((weak));

namespace shardex {

std::string AllocatorName() {
  if (tc_version == nullptr) return "system malloc";
  int major = 0;
  int minor = 0;
  const char* patch = "";
  tc_version(&major, &minor, &patch);
  return absl::StrCat("tcmalloc ", major, ".", minor,
                      patch != nullptr ? patch : "");
}

}  // namespace shardex
