// ArenaMessage<T>: a protobuf message that a stream reads into again and
// again, each time on a fresh arena.
//
// A worker sends its results in batches of up to a few thousand, and the
// coordinator sends assignments the same way. Parsed into a plain message,
// every result or task costs a handful of heap allocations and as many
// frees (the batch is a oneof member, which protobuf deletes on each parse,
// so nothing is reused): with trivial shards that was a large share of both
// processes' time. On an arena the parse bump-allocates, and Fresh() drops
// the whole previous message at once, keeping the arena's first block for
// the next read.
//
// Usage, in a read loop:
//   ArenaMessage<v1::CoordinatorMessage> in;
//   while (stream->Read(in.Fresh())) Handle(*in);
// Nothing may keep a pointer into the message past the next Fresh(): copy
// out what must outlive the read.
//
// Thread-safety: none; one reader owns it.
#ifndef SHARDEX_COMMON_ARENA_MESSAGE_H_
#define SHARDEX_COMMON_ARENA_MESSAGE_H_

#include <cstddef>
#include <memory>

#include "google/protobuf/arena.h"

namespace shardex {

template <typename T>
class ArenaMessage {
 public:
  // `first_block` bytes are kept from read to read; larger messages take
  // more blocks (up to `max_block` bytes each), freed by the next Fresh().
  explicit ArenaMessage(size_t first_block = 64 << 10,
                        size_t max_block = 1 << 20)
      : block_(new char[first_block]), arena_(Options(first_block, max_block)) {
    message_ = google::protobuf::Arena::CreateMessage<T>(&arena_);
  }
  ArenaMessage(const ArenaMessage&) = delete;
  ArenaMessage& operator=(const ArenaMessage&) = delete;

  // Frees the previous message and returns an empty one to read into.
  T* Fresh() {
    arena_.Reset();
    message_ = google::protobuf::Arena::CreateMessage<T>(&arena_);
    return message_;
  }

  T& operator*() { return *message_; }
  T* operator->() { return message_; }
  T* get() { return message_; }

  // Bytes the arena holds now (for tests).
  size_t SpaceAllocated() const { return arena_.SpaceAllocated(); }

 private:
  google::protobuf::ArenaOptions Options(size_t first_block, size_t max_block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block_.get();
    options.initial_block_size = first_block;
    options.max_block_size = max_block;
    return options;
  }

  std::unique_ptr<char[]> block_;  // declared before arena_: outlives it
  google::protobuf::Arena arena_;
  T* message_ = nullptr;
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_ARENA_MESSAGE_H_
