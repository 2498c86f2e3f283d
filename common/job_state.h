// Small facts about job states shared by the coordinator and its clients.
#ifndef SHARDEX_COMMON_JOB_STATE_H_
#define SHARDEX_COMMON_JOB_STATE_H_

#include "proto/shardex.pb.h"

namespace shardex {

// True for SUCCEEDED, FAILED and CANCELLED: the job will not change again.
inline bool IsTerminal(shardex::v1::JobState state) {
  return state == shardex::v1::JOB_SUCCEEDED ||
         state == shardex::v1::JOB_FAILED ||
         state == shardex::v1::JOB_CANCELLED;
}

}  // namespace shardex

#endif  // SHARDEX_COMMON_JOB_STATE_H_
