// The GNU build id of the running program: the linker's hash of the
// binary (`ld --build-id`, on by default in Debian's gcc), printed by
// `shardex --version` so a deployed binary can be matched to its build.
// `readelf -n BINARY` shows the same id.
//
// Thread-safety: both functions are safe to call concurrently.
#ifndef SHARDEX_COMMON_BUILD_ID_H_
#define SHARDEX_COMMON_BUILD_ID_H_

#include <cstddef>
#include <string>

namespace shardex {

// The main program's build id in lowercase hex, read from its PT_NOTE
// segments as loaded in memory (dl_iterate_phdr); "" when it has none
// (linked with --build-id=none).
std::string ProgramBuildId();

// The build id in a PT_NOTE segment's bytes, in lowercase hex, or "" when
// no NT_GNU_BUILD_ID note owned by "GNU" is there. `align` is the
// segment's p_align (4 or 8): notes and their fields are padded to it.
// Truncated or malformed notes end the search instead of being read past.
std::string FindBuildIdInNotes(const unsigned char* data, size_t size,
                               size_t align);

}  // namespace shardex

#endif  // SHARDEX_COMMON_BUILD_ID_H_
