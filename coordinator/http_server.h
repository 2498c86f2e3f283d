// HttpServer: a small HTTP/1.1 server (Boost.Beast, header-only from
// Debian's libboost-dev, so the static release links it like everything
// else) for the coordinator's /metrics and dashboard. It parses requests
// and writes responses; what to answer is the Handler's. One thread serves
// every connection with asynchronous reads and writes (requests are small
// and the handler answers from memory), so a slow client occupies no
// thread; each read and write has a timeout, so a stalled one is dropped.
// Request bodies beyond max_body_bytes get 413 and the connection closes.
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
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {

struct HttpRequest {
  std::string method;         // "GET"
  std::string target;         // "/metrics?x=y"
  std::string authorization;  // the Authorization header; never log it
  std::string cookie;         // the Cookie header; never log it
  std::string content_type;   // e.g. "application/x-www-form-urlencoded"
  std::string host;           // the Host header
  std::string origin;         // the Origin header; empty if none
  std::string body;           // at most HttpServerOptions::max_body_bytes
  bool tls = false;           // arrived over HTTPS
  // Every header, names in lower case, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that (case-insensitive) name; empty if none.
  std::string Header(absl::string_view name) const;
  // The value of cookie `name` from the Cookie header; empty if none.
  std::string Cookie(absl::string_view name) const;
  // The target without its query ("/metrics").
  absl::string_view Path() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers, e.g. WWW-Authenticate; one replaces a default of the
  // same name (Cache-Control: no-store).
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string listen;  // host:port; port 0 picks a free one (see port())
  // PEM files; both empty: plain HTTP.
  std::string cert_file;
  std::string key_file;
  // Larger request bodies are refused with 413.
  size_t max_body_bytes = 16 * 1024;
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
