#include "common/build_id.h"

#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>

namespace shardex {
namespace {

size_t AlignUp(size_t n, size_t align) { return (n + align - 1) / align * align; }

// dl_iterate_phdr visits the main program first.
int FromMainProgram(struct dl_phdr_info* info, size_t, void* out) {
  std::string* id = static_cast<std::string*>(out);
  for (int i = 0; i < info->dlpi_phnum && id->empty(); ++i) {
    const ElfW(Phdr)& phdr = info->dlpi_phdr[i];
    if (phdr.p_type != PT_NOTE) continue;
    const auto* data =
        reinterpret_cast<const unsigned char*>(info->dlpi_addr + phdr.p_vaddr);
    *id = FindBuildIdInNotes(data, phdr.p_memsz, phdr.p_align);
  }
  return 1;  // stop after the main program
}

}  // namespace

std::string FindBuildIdInNotes(const unsigned char* data, size_t size,
                               size_t align) {
  // The ELF ABI allows 4- and 8-byte note alignment; anything else is 4.
  if (align != 8) align = 4;
  static constexpr char kHex[] = "0123456789abcdef";
  size_t offset = 0;
  while (size - offset >= sizeof(ElfW(Nhdr))) {
    ElfW(Nhdr) header;
    std::memcpy(&header, data + offset, sizeof(header));
    // Offsets are aligned from the segment's start (itself aligned): with
    // 8-byte notes the name follows the 12-byte header directly and the
    // descriptor starts at the next multiple of 8.
    const size_t name_at = offset + sizeof(header);
    if (header.n_namesz > size - name_at) break;
    const size_t desc_at = AlignUp(name_at + header.n_namesz, align);
    if (desc_at > size || header.n_descsz > size - desc_at) break;
    if (header.n_type == NT_GNU_BUILD_ID && header.n_namesz == 4 &&
        std::memcmp(data + name_at, "GNU", 4) == 0) {
      std::string hex;
      for (size_t i = 0; i < header.n_descsz; ++i) {
        const unsigned char byte = data[desc_at + i];
        hex += kHex[byte >> 4];
        hex += kHex[byte & 0xf];
      }
      return hex;
    }
    offset = AlignUp(desc_at + header.n_descsz, align);
  }
  return "";
}

std::string ProgramBuildId() {
  std::string id;
  dl_iterate_phdr(FromMainProgram, &id);
  return id;
}

}  // namespace shardex
