#include "client/store_testing.h"

#include <stdlib.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace shardex {

FakeStoreServer::FakeStoreServer(std::string name) : name_(std::move(name)) {}

FakeStoreServer::~FakeStoreServer() {
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }
  if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
}

absl::Status FakeStoreServer::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(&fake_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::InternalError("server did not start");
  ClientOptions o;
  o.coordinator = absl::StrCat("127.0.0.1:", port_);
  o.retry_for = absl::Seconds(2);
  client_ = std::make_unique<CoordinatorClient>(o);
  std::string tmpl = TempDir() + "/" + name_ + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("mkdtemp " + tmpl + " failed");
  }
  dir_ = tmpl;
  return absl::OkStatus();
}

}  // namespace shardex
