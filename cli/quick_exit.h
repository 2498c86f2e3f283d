// QuickExit: how a client command (`shardex submit`, `watch`) ends once its
// answer is out.
//
// Returning from main tears down the gRPC channel and gRPC's own threads
// (subchannel shutdown, then the executor and timer threads joined): a
// handful of hand-offs between threads that took 4-6 ms on a loaded 2-core
// machine, after the result was already printed and before the shell got
// its prompt back -- a fifth of a tiny job's whole latency. The client
// holds nothing that needs closing (the coordinator just sees the
// connection end), so the command flushes its output and leaves with
// _exit instead.
//
// Where: in the `submit` and `watch` commands' own functions
// (cli/job_commands.cc), on the exit code RunSubmit / RunWatch returned,
// with the CoordinatorClient they made still alive -- the one place that
// knows the process is about to end. The Run* functions always return
// (tests call them); `local` never quick-exits (it stops its cluster).
//
// Sanitizer builds (ASan, UBSan, TSan) never exit early: they run the full
// teardown, so LeakSanitizer still checks it.
//
// Thread-safety: call from the main thread, when no other thread of ours
// is writing to stdout or stderr.
#ifndef SHARDEX_CLI_QUICK_EXIT_H_
#define SHARDEX_CLI_QUICK_EXIT_H_

namespace shardex {

// False in sanitizer builds, where QuickExit returns.
bool QuickExitEnabled();

// Flushes std::cout, std::cerr and every C stdio stream, then ends the
// process with `code` without running destructors or atexit handlers.
// Returns (doing nothing) when !QuickExitEnabled().
void QuickExit(int code);

}  // namespace shardex

#endif  // SHARDEX_CLI_QUICK_EXIT_H_
