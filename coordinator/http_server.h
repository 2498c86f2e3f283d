// HttpServer: a small HTTP/1.1 server (Boost.Beast, header-only from
// Debian's libboost-dev, so the static release links it like everything
// else) for the coordinator's /metrics. It parses requests and writes
// responses; what to answer is the Handler's. One thread serves every
// connection (scrapes are small and rare); each read and write has a
// timeout, so a stalled client cannot hold it.
//
// With cert and key files it speaks HTTPS only; the files are re-read for
// each connection, so a renewed certificate (the built-in CA's) is served
// without a restart.
//
// Thread-safety: Start and Shutdown from one owning thread; the handler
// runs on the server's thread.
#ifndef SHARDEX_COORDINATOR_HTTP_SERVER_H_
#define SHARDEX_COORDINATOR_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace shardex {

struct HttpRequest {
  std::string method;         // "GET"
  std::string target;         // "/metrics?x=y"
  std::string authorization;  // the Authorization header; never log it
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers, e.g. WWW-Authenticate.
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string listen;  // host:port; port 0 picks a free one (see port())
  // PEM files; both empty: plain HTTP.
  std::string cert_file;
  std::string key_file;
};

class HttpServer {
 public:
  // Binds and starts serving. UNAVAILABLE if the address cannot be bound,
  // INVALID_ARGUMENT if it is not host:port, FAILED_PRECONDITION if the
  // certificate files cannot be loaded.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, HttpHandler handler);
  ~HttpServer();  // shuts down if still running

  int port() const;
  // Stops accepting, drops open connections and joins the thread.
  // Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_HTTP_SERVER_H_
