// WorkerState's transitions and decisions, without gRPC or threads.
#include "worker/worker_state.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

using Phase = WorkerState::Phase;
using Link = WorkerState::Link;
using WriteStep = WorkerState::WriteStep;

constexpr bool kEmpty = true;
constexpr bool kNotEmpty = false;

WorkerState Settled() {
  WorkerState s;
  EXPECT_TRUE(s.StartDrain());
  EXPECT_TRUE(s.Settle());
  return s;
}

TEST(WorkerStateTest, ServingKeepsDiallingAndWritesWhatThereIs) {
  WorkerState s;
  EXPECT_FALSE(s.Done(kEmpty));
  EXPECT_FALSE(s.drain_requested());
  EXPECT_EQ(s.NextWrite(false, kEmpty), WriteStep::kWait);
  EXPECT_EQ(s.NextWrite(false, kNotEmpty), WriteStep::kSendResults);
}

TEST(WorkerStateTest, SessionGoesDialingRegisteredOverNone) {
  WorkerState s;
  EXPECT_FALSE(s.Registered());  // no session yet
  EXPECT_FALSE(s.ReaderEnded());
  ASSERT_TRUE(s.BeginSession(kEmpty));
  EXPECT_FALSE(s.BeginSession(kEmpty));  // one at a time
  EXPECT_EQ(s.link(), Link::kDialing);
  EXPECT_FALSE(s.ReaderEnded());  // the reader starts after Registered
  ASSERT_TRUE(s.Registered());
  ASSERT_TRUE(s.ReaderEnded());
  EXPECT_EQ(s.link(), Link::kOver);
  EXPECT_EQ(s.NextWrite(false, kNotEmpty), WriteStep::kLeave);
  s.EndSession();
  EXPECT_EQ(s.link(), Link::kNone);
  EXPECT_TRUE(s.BeginSession(kEmpty));  // the next connection
}

TEST(WorkerStateTest, DrainSendsDrainOnceThenResultsThenCloses) {
  WorkerState s;
  ASSERT_TRUE(s.StartDrain());
  EXPECT_FALSE(s.StartDrain());  // further Drain() calls do nothing
  EXPECT_EQ(s.NextWrite(false, kNotEmpty), WriteStep::kSendDrain);
  EXPECT_EQ(s.NextWrite(true, kNotEmpty), WriteStep::kSendResults);
  EXPECT_EQ(s.NextWrite(true, kEmpty), WriteStep::kWait);  // still running
  EXPECT_FALSE(s.Done(kEmpty));
  EXPECT_FALSE(s.Close());  // not before the attempts have ended

  ASSERT_TRUE(s.Settle());
  EXPECT_TRUE(s.drain_settled());
  EXPECT_EQ(s.NextWrite(true, kNotEmpty), WriteStep::kSendResults);
  EXPECT_FALSE(s.Done(kNotEmpty));  // results still to deliver
  EXPECT_EQ(s.NextWrite(true, kEmpty), WriteStep::kClose);
  ASSERT_TRUE(s.Close());
  EXPECT_TRUE(s.Done(kEmpty));
  EXPECT_TRUE(s.Done(kNotEmpty));
}

TEST(WorkerStateTest, DrainSessionSendsDrainFirstEvenWhenSettled) {
  // A session that starts after the drain settled (the old one broke)
  // still says Drain before anything else.
  WorkerState s = Settled();
  EXPECT_EQ(s.NextWrite(false, kNotEmpty), WriteStep::kSendDrain);
}

TEST(WorkerStateTest, SettledWithNothingToSayIsDoneAndDialsNoMore) {
  WorkerState s = Settled();
  EXPECT_TRUE(s.Done(kEmpty));
  EXPECT_FALSE(s.BeginSession(kEmpty));
  EXPECT_TRUE(s.BeginSession(kNotEmpty));  // results wait for a session
}

TEST(WorkerStateTest, GiveUpOnlyAfterSettling) {
  WorkerState s;
  EXPECT_FALSE(s.GiveUp());
  ASSERT_TRUE(s.StartDrain());
  EXPECT_FALSE(s.GiveUp());
  ASSERT_TRUE(s.Settle());
  ASSERT_TRUE(s.GiveUp());
  EXPECT_TRUE(s.Done(kNotEmpty));
  EXPECT_TRUE(s.drain_settled());
  EXPECT_EQ(s.NextWrite(false, kNotEmpty), WriteStep::kLeave);

  WorkerState closed = Settled();
  ASSERT_TRUE(closed.Close());
  EXPECT_TRUE(closed.GiveUp());  // the coordinator never ended the stream
}

TEST(WorkerStateTest, StopCutsAnyPhaseShortButNotFinished) {
  WorkerState serving;
  WorkerState draining;
  ASSERT_TRUE(draining.StartDrain());
  WorkerState settled = Settled();
  for (WorkerState* s : {&serving, &draining, &settled}) {
    ASSERT_TRUE(s->Stop());
    EXPECT_EQ(s->phase(), Phase::kStopped);
    EXPECT_TRUE(s->Done(kNotEmpty));
    EXPECT_FALSE(s->drain_requested());
    EXPECT_FALSE(s->drain_settled());  // "drained" is not logged
    EXPECT_FALSE(s->StartDrain());
    EXPECT_FALSE(s->Settle());
    EXPECT_EQ(s->NextWrite(false, kNotEmpty), WriteStep::kLeave);
    EXPECT_FALSE(s->BeginSession(kNotEmpty));
  }
}

TEST(WorkerStateTest, FinishedIsFinal) {
  WorkerState s;
  ASSERT_TRUE(s.BeginSession(kEmpty));
  s.Finish();
  EXPECT_EQ(s.link(), Link::kNone);
  EXPECT_FALSE(s.Stop());
  EXPECT_FALSE(s.StartDrain());
  EXPECT_EQ(s.phase(), Phase::kFinished);
  EXPECT_TRUE(s.Done(kNotEmpty));
}

}  // namespace
}  // namespace shardex
