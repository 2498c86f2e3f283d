#include "common/build_id.h"

#include <elf.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

// Appends one note: header, name and descriptor, each padded to `align`.
void AddNote(std::vector<unsigned char>& out, uint32_t type,
             const std::string& name, const std::vector<unsigned char>& desc,
             size_t align) {
  auto pad = [&] {
    while (out.size() % align != 0) out.push_back(0);
  };
  Elf64_Nhdr header{static_cast<uint32_t>(name.size() + 1),
                    static_cast<uint32_t>(desc.size()), type};
  const auto* h = reinterpret_cast<const unsigned char*>(&header);
  out.insert(out.end(), h, h + sizeof(header));
  out.insert(out.end(), name.begin(), name.end());
  out.push_back(0);
  pad();
  out.insert(out.end(), desc.begin(), desc.end());
  pad();
}

const std::vector<unsigned char> kId = {0x3f, 0x9a, 0x00, 0xff, 0x12};

TEST(FindBuildIdInNotesTest, FindsTheGnuBuildIdAfterOtherNotes) {
  for (size_t align : {4, 8}) {
    std::vector<unsigned char> notes;
    AddNote(notes, NT_GNU_ABI_TAG, "GNU", {0, 0, 0, 0, 3, 0, 0, 0}, align);
    AddNote(notes, NT_GNU_BUILD_ID, "Xen", {1, 2}, align);  // wrong owner
    AddNote(notes, NT_GNU_BUILD_ID, "GNU", kId, align);
    EXPECT_EQ(FindBuildIdInNotes(notes.data(), notes.size(), align),
              "3f9a00ff12")
        << "align " << align;
  }
}

TEST(FindBuildIdInNotesTest, NoBuildIdNoteGivesEmpty) {
  std::vector<unsigned char> notes;
  AddNote(notes, NT_GNU_ABI_TAG, "GNU", {0, 0, 0, 0}, 4);
  EXPECT_EQ(FindBuildIdInNotes(notes.data(), notes.size(), 4), "");
  EXPECT_EQ(FindBuildIdInNotes(notes.data(), 0, 4), "");
}

TEST(FindBuildIdInNotesTest, TruncatedNoteIsNotReadPast) {
  std::vector<unsigned char> notes;
  AddNote(notes, NT_GNU_BUILD_ID, "GNU", kId, 4);
  // Header (12) + "GNU\0" (4) + the id; the padding after it may be cut.
  const size_t note_end = 16 + kId.size();
  for (size_t size = 0; size < note_end; ++size) {
    EXPECT_EQ(FindBuildIdInNotes(notes.data(), size, 4), "") << size;
  }
  // A header claiming a huge descriptor.
  Elf64_Nhdr header;
  std::memcpy(&header, notes.data(), sizeof(header));
  header.n_descsz = 0xfffffff0u;
  std::memcpy(notes.data(), &header, sizeof(header));
  EXPECT_EQ(FindBuildIdInNotes(notes.data(), notes.size(), 4), "");
}

// The id read from memory is the one binutils reads from the file.
TEST(ProgramBuildIdTest, MatchesReadelf) {
  // Not /proc/self/exe: popen's shell and readelf are other processes.
  const std::string command =
      "readelf -n /proc/" + std::to_string(getpid()) + "/exe 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int status = pclose(pipe);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    GTEST_SKIP() << "readelf (binutils) is not installed to compare with";
  }
  ASSERT_EQ(status, 0) << command << ":\n" << output;
  const std::string marker = "Build ID: ";
  const size_t at = output.find(marker);
  ASSERT_NE(at, std::string::npos) << "the test binary has no build id:\n"
                                   << output;
  const size_t from = at + marker.size();
  const std::string expected = output.substr(from, output.find('\n', from) - from);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(ProgramBuildId(), expected);
}

}  // namespace
}  // namespace shardex
