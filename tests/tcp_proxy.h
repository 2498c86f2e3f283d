// TcpProxy: a TCP forwarder on 127.0.0.1 for tests of dead links. It
// forwards every connection to a target port until told to BlackHole():
// from then on it stops reading from the connections it has (and stops
// accepting new ones) without closing any socket, so each end sees a
// half-open connection: its writes vanish, nothing comes back, and no FIN
// or RST ever tells it so (what a vanished host, a pulled cable or a
// dropped NAT mapping look like). Restore() forwards again for connections
// accepted from then on; the frozen ones stay frozen, as after a real
// outage. The destructor closes every socket, which unblocks any peer still
// waiting.
//
// Thread-safety: BlackHole, Restore and port are safe from any thread; one
// internal thread owns the sockets.
#ifndef SHARDEX_TESTS_TCP_PROXY_H_
#define SHARDEX_TESTS_TCP_PROXY_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace shardex {

class TcpProxy {
 public:
  // Listens on a free 127.0.0.1 port and forwards to 127.0.0.1:target_port.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int target_port);
  ~TcpProxy();

  int port() const { return port_; }
  void BlackHole();
  void Restore();

 private:
  // One proxied connection: the client's socket and ours to the target.
  struct Link {
    int client = -1;
    int target = -1;
    bool frozen = false;  // black-holed: never read again
  };

  TcpProxy(int listen_fd, int port, int target_port);
  void Loop();
  void Accept();
  // Moves what is readable on `from` to `to`; false when the link is done.
  static bool Pump(int from, int to);

  // Constant after construction.
  const int listen_fd_;
  const int port_;
  const int target_port_;

  // Owned by the loop thread.
  std::vector<Link> links_;

  absl::Mutex mu_;
  bool black_holed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // last: starts after the rest is set up
};

}  // namespace shardex

#endif  // SHARDEX_TESTS_TCP_PROXY_H_
