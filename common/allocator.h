// The memory allocator this process runs on, for `shardex --version`.
//
// The shardex binary links gperftools' tcmalloc (tools/system_library.bzl,
// cli/BUILD): glibc's malloc made the per-message allocations of gRPC and
// protobuf the largest cost of trivial shards (bench/README.md,
// throughput). Sanitizer builds replace malloc with their own, and test
// binaries keep glibc's; this says which one a process got, so a build
// that lost tcmalloc shows it.
//
// Thread-safety: safe to call from any thread.
#ifndef SHARDEX_COMMON_ALLOCATOR_H_
#define SHARDEX_COMMON_ALLOCATOR_H_

#include <string>

namespace shardex {

// "tcmalloc 2.10" when tcmalloc is linked in (statically or as a shared
// library), else "system malloc" (glibc's, or a sanitizer's).
std::string AllocatorName();

}  // namespace shardex

#endif  // SHARDEX_COMMON_ALLOCATOR_H_
