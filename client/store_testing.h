// FakeStoreServer: a FakeStore served in-process on a local port, a
// CoordinatorClient connected to it (retrying for 2 s) and a fresh
// temporary directory, for the client and CLI tests of uploads and output
// downloads. The destructor shuts the server down (1 s grace) and removes
// the directory.
//
// Thread-safety: Start and the destructor from the test's thread; fake()
// is thread-safe (see fake_store.h), client() as CoordinatorClient is.
#ifndef SHARDEX_CLIENT_STORE_TESTING_H_
#define SHARDEX_CLIENT_STORE_TESTING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "client/client.h"
#include "client/fake_store.h"
#include "grpcpp/server.h"

namespace shardex {

class FakeStoreServer {
 public:
  // The directory is TempDir()/<name>.XXXXXX.
  explicit FakeStoreServer(std::string name);
  ~FakeStoreServer();
  FakeStoreServer(const FakeStoreServer&) = delete;
  FakeStoreServer& operator=(const FakeStoreServer&) = delete;

  // Starts the server, makes the client and the directory; call once.
  absl::Status Start();

  FakeStore& fake() { return fake_; }
  int port() const { return port_; }
  CoordinatorClient& client() { return *client_; }
  const std::string& dir() const { return dir_; }

 private:
  const std::string name_;
  FakeStore fake_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CoordinatorClient> client_;
  std::string dir_;
};

}  // namespace shardex

#endif  // SHARDEX_CLIENT_STORE_TESTING_H_
