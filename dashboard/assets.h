// The dashboard's web files (dashboard/web), compiled into the binary by
// embed.sh: the coordinator serves them from memory, so there is nothing to
// install beside it and no page can be swapped on disk.
#ifndef SHARDEX_DASHBOARD_ASSETS_H_
#define SHARDEX_DASHBOARD_ASSETS_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace shardex {

struct EmbeddedFile {
  absl::string_view name;   // the file name in dashboard/web ("app.js")
  absl::string_view bytes;  // its contents, byte for byte
};

// Defined by the generated web_assets.cc.
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

// The file named `name`, or null.
const EmbeddedFile* FindEmbeddedFile(absl::string_view name);
// The Content-Type for a file name, by its extension.
absl::string_view ContentTypeOf(absl::string_view name);

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_ASSETS_H_
