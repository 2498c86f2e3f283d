#include "tests/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace shardex {

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool WriteAll(int fd, const char* data, ssize_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= w;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int target_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return absl::InternalError(absl::StrCat("proxy: ", strerror(errno)));
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, ntohs(addr.sin_port), target_port));
}

TcpProxy::TcpProxy(int listen_fd, int port, int target_port)
    : listen_fd_(listen_fd),
      port_(port),
      target_port_(target_port),
      thread_([this] { Loop(); }) {}

TcpProxy::~TcpProxy() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  for (const Link& link : links_) {
    close(link.client);
    close(link.target);
  }
  close(listen_fd_);
}

void TcpProxy::BlackHole() {
  absl::MutexLock lock(&mu_);
  black_holed_ = true;
}

void TcpProxy::Restore() {
  absl::MutexLock lock(&mu_);
  black_holed_ = false;
}

void TcpProxy::Accept() {
  const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) return;
  const int target = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(target_port_);
  if (target < 0 ||
      connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(client);
    if (target >= 0) close(target);
    return;
  }
  links_.push_back({client, target, false});
}

bool TcpProxy::Pump(int from, int to) {
  char buf[64 << 10];
  const ssize_t n = recv(from, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  return n > 0 && WriteAll(to, buf, n);
}

void TcpProxy::Loop() {
  while (true) {
    bool black_holed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      black_holed = black_holed_;
    }
    std::vector<pollfd> fds;
    std::vector<size_t> owner;  // index into links_, per pair of fds
    if (!black_holed) fds.push_back({listen_fd_, POLLIN, 0});
    for (size_t i = 0; i < links_.size(); ++i) {
      if (black_holed) links_[i].frozen = true;
      if (links_[i].frozen) continue;
      fds.push_back({links_[i].client, POLLIN, 0});
      fds.push_back({links_[i].target, POLLIN, 0});
      owner.push_back(i);
    }
    if (poll(fds.data(), fds.size(), 50) <= 0) continue;
    const size_t first = black_holed ? 0 : 1;
    if (!black_holed && (fds[0].revents & POLLIN)) Accept();
    std::vector<size_t> done;
    for (size_t k = 0; k < owner.size(); ++k) {
      const pollfd& c = fds[first + 2 * k];
      const pollfd& t = fds[first + 2 * k + 1];
      const Link& link = links_[owner[k]];
      bool alive = true;
      if (c.revents != 0) alive = Pump(link.client, link.target);
      if (alive && t.revents != 0) alive = Pump(link.target, link.client);
      if (!alive) done.push_back(owner[k]);
    }
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      close(links_[*it].client);
      close(links_[*it].target);
      links_.erase(links_.begin() + *it);
    }
  }
}

}  // namespace shardex
