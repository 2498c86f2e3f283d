#include "worker/worker_state.h"

namespace shardex {

namespace {

using Phase = WorkerState::Phase;
using Link = WorkerState::Link;

// Moves `*state` from `from` to `to`; false if it was elsewhere.
template <typename T>
bool Move(T* state, T from, T to) {
  if (*state != from) return false;
  *state = to;
  return true;
}

}  // namespace

bool WorkerState::StartDrain() {
  return Move(&phase_, Phase::kServing, Phase::kDraining);
}

bool WorkerState::Settle() {
  return Move(&phase_, Phase::kDraining, Phase::kSettled);
}

bool WorkerState::Close() {
  return Move(&phase_, Phase::kSettled, Phase::kClosed);
}

bool WorkerState::GiveUp() {
  return Move(&phase_, Phase::kSettled, Phase::kGaveUp) ||
         Move(&phase_, Phase::kClosed, Phase::kGaveUp);
}

bool WorkerState::Stop() {
  if (phase_ == Phase::kFinished) return false;
  phase_ = Phase::kStopped;
  return true;
}

void WorkerState::Finish() {
  phase_ = Phase::kFinished;
  link_ = Link::kNone;
}

bool WorkerState::BeginSession(bool outbox_empty) {
  if (Done(outbox_empty)) return false;
  return Move(&link_, Link::kNone, Link::kDialing);
}

bool WorkerState::Registered() {
  return Move(&link_, Link::kDialing, Link::kRegistered);
}

bool WorkerState::ReaderEnded() {
  return Move(&link_, Link::kRegistered, Link::kOver);
}

void WorkerState::EndSession() { link_ = Link::kNone; }

bool WorkerState::drain_requested() const {
  return phase_ == Phase::kDraining || drain_settled();
}

bool WorkerState::drain_settled() const {
  return phase_ == Phase::kSettled || phase_ == Phase::kClosed ||
         phase_ == Phase::kGaveUp;
}

bool WorkerState::leaving() const {
  return phase_ == Phase::kStopped || phase_ == Phase::kGaveUp ||
         phase_ == Phase::kFinished;
}

bool WorkerState::Done(bool outbox_empty) const {
  return leaving() || phase_ == Phase::kClosed ||
         (phase_ == Phase::kSettled && outbox_empty);
}

WorkerState::WriteStep WorkerState::NextWrite(bool drain_sent,
                                              bool outbox_empty) const {
  if (link_ == Link::kOver || leaving()) return WriteStep::kLeave;
  if (drain_requested() && !drain_sent) return WriteStep::kSendDrain;
  if (!outbox_empty) return WriteStep::kSendResults;
  if (phase_ == Phase::kSettled) return WriteStep::kClose;
  return WriteStep::kWait;
}

}  // namespace shardex
