// WorkerState: the worker's lifecycle (serving, draining, leaving) and its
// current session's progress, as two enums with the legal transitions as
// methods. It replaces eight booleans whose combinations (closed but not
// settled, registered but no session, ...) could not all happen; here they
// cannot be written down. Plain data, no gRPC, no clock: Worker owns one
// under its mutex and asks it what to do.
//
// Lifecycle (Phase):
//
//   kServing --Drain()--> kDraining --attempts ended--> kSettled
//                                                         |    |
//                              outbox flushed, WritesDone |    |
//                                                         v    |
//                                                     kClosed  | close
//                                                         |    | timeout
//                                           close timeout |    |
//                                                         v    v
//                                                        kGaveUp
//
//   Stop():   any phase but kFinished --> kStopped
//   Finish(): any phase               --> kFinished   (Run returns)
//
// Session (Link), one connection at a time:
//
//   kNone --BeginSession--> kDialing --Registered--> kRegistered
//                                                         |
//                                                    reader ended
//                                                         v
//                                                       kOver
//
//   EndSession(): any link --> kNone   (the stream has finished)
//   BeginSession fails once Done(): no more dialling.
//
// Done(): Run stops dialling and returns once the worker is stopped, gave
// up, finished, closed, or settled with nothing left to send.
//
// Thread-safety: none; the owner synchronizes.
#ifndef SHARDEX_WORKER_WORKER_STATE_H_
#define SHARDEX_WORKER_WORKER_STATE_H_

namespace shardex {

class WorkerState {
 public:
  enum class Phase {
    kServing,   // taking work
    kDraining,  // Drain sent or due; running attempts may finish
    kSettled,   // every attempt ended; the outbox holds the rest
    kClosed,    // the outbox went out and the stream was half-closed
    kGaveUp,    // the close timeout passed: leave without the rest
    kStopped,   // Stop(): leave at once, attempts cancelled
    kFinished,  // Run is returning (or the Worker is being destroyed)
  };
  enum class Link {
    kNone,        // between sessions
    kDialing,     // Register sent or about to be
    kRegistered,  // the coordinator answered Register
    kOver,        // the stream's reader has ended
  };
  // What a session's writer thread does next.
  enum class WriteStep {
    kWait,         // nothing yet: a heartbeat if it stays so
    kSendDrain,    // tell the coordinator the worker drains
    kSendResults,  // a batch from the outbox
    kClose,        // WritesDone: everything is said
    kLeave,        // stop writing (the stream ended, or the worker leaves)
  };

  Phase phase() const { return phase_; }
  Link link() const { return link_; }

  // Lifecycle transitions; each returns whether it applied (a transition
  // from a phase without that edge changes nothing).
  bool StartDrain();  // kServing -> kDraining
  bool Settle();      // kDraining -> kSettled
  bool Close();       // kSettled -> kClosed
  bool GiveUp();      // kSettled, kClosed -> kGaveUp
  bool Stop();        // anything but kFinished -> kStopped
  void Finish();      // -> kFinished

  // Session transitions. BeginSession fails once Done().
  bool BeginSession(bool outbox_empty);  // kNone -> kDialing
  bool Registered();                     // kDialing -> kRegistered
  bool ReaderEnded();                    // kRegistered -> kOver
  void EndSession();                     // -> kNone

  // A drain was asked for and not cut short by Stop.
  bool drain_requested() const;
  // The drain has settled (every attempt ended), whatever happened since.
  bool drain_settled() const;
  // Stopped, gave up or finished: no more writing, no more dialling.
  bool leaving() const;
  // Whether Run should return now.
  bool Done(bool outbox_empty) const;
  // The writer's next step; `drain_sent`: this session already sent Drain.
  WriteStep NextWrite(bool drain_sent, bool outbox_empty) const;

 private:
  Phase phase_ = Phase::kServing;
  Link link_ = Link::kNone;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_WORKER_STATE_H_
