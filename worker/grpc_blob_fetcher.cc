#include "worker/grpc_blob_fetcher.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/blob_id.h"
#include "common/grpc_status.h"
#include "grpcpp/client_context.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

namespace {

constexpr absl::Duration kChannelMaxAge = absl::Minutes(10);
// A fetch may take this long plus kPerBlock per block (100 KiB/s at worst).
constexpr absl::Duration kBaseDeadline = absl::Seconds(30);
constexpr absl::Duration kPerBlock = absl::Seconds(10);

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> GrpcBlobFetcher::Channel() {
  absl::MutexLock lock(&mu_);
  if (channel_ != nullptr && absl::Now() - channel_made_ < kChannelMaxAge) {
    return channel_;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateCoordinatorChannel(options_);
  if (!channel.ok()) return channel.status();
  channel_ = *channel;
  channel_made_ = absl::Now();
  return channel_;
}

void GrpcBlobFetcher::DropChannel() {
  absl::MutexLock lock(&mu_);
  channel_ = nullptr;
}

absl::Status GrpcBlobFetcher::Fetch(const std::string& sha256,
                                    uint64_t blob_size, uint64_t first_block,
                                    uint64_t block_count, const BlockFn& fn) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Channel();
  if (!channel.ok()) return channel.status();
  auto stub = v1::Store::NewStub(*channel);
  grpc::ClientContext ctx;
  AddTokenMetadata(token_, &ctx);
  ctx.set_deadline(absl::ToChronoTime(
      absl::Now() + kBaseDeadline +
      kPerBlock *
          static_cast<int64_t>(std::min<uint64_t>(block_count, 1 << 20))));
  v1::ReadBlobRequest request;
  request.set_sha256(sha256);
  request.set_offset(first_block * kBlobBlockBytes);
  // Through the blob's end: length 0, so the last block is never asked for
  // past the end.
  const uint64_t end = (first_block + block_count) * kBlobBlockBytes;
  request.set_length(end >= blob_size ? 0 : block_count * kBlobBlockBytes);
  std::unique_ptr<grpc::ClientReader<v1::BlobBlock>> reader =
      stub->ReadBlob(&ctx, request);
  v1::BlobBlock block;
  absl::Status st;
  while (reader->Read(&block)) {
    if (block.offset() % kBlobBlockBytes != 0) {
      st = absl::DataLossError(absl::StrCat("the coordinator sent blob ",
                                            sha256, " at offset ",
                                            block.offset(), ", not a block"));
    } else {
      st = fn(block.offset() / kBlobBlockBytes, block.data(),
              block.block_sha256());
    }
    if (!st.ok()) {
      ctx.TryCancel();
      while (reader->Read(&block)) {
      }
      break;
    }
  }
  const grpc::Status finished = reader->Finish();
  if (!st.ok()) return st;
  if (!finished.ok()) {
    DropChannel();
    absl::Status err = FromGrpcStatus(finished);
    return absl::Status(
        err.code(),
        absl::StrCat("reading blob ", sha256, " from the coordinator ",
                     options_.target, ": ", err.message()));
  }
  return absl::OkStatus();
}

}  // namespace shardex
