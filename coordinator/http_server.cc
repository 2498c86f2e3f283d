#include "coordinator/http_server.h"

#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "boost/beast/version.hpp"
#include "glog/logging.h"

namespace shardex {

std::string HttpRequest::Header(absl::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

std::string HttpRequest::Cookie(absl::string_view name) const {
  for (absl::string_view part : absl::StrSplit(cookie, ';')) {
    part = absl::StripAsciiWhitespace(part);
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos || part.substr(0, eq) != name) continue;
    absl::string_view value = part.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return "";
}

absl::string_view HttpRequest::Path() const {
  return absl::string_view(target).substr(0, target.find('?'));
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kIoTimeout = std::chrono::seconds(10);

// host:port, host possibly in brackets ([::1]:7480).
bool SplitHostPort(const std::string& listen, std::string* host,
                   std::string* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) return false;
  *host = listen.substr(0, colon);
  *port = listen.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int n = 0;
  return !host->empty() && absl::SimpleAtoi(*port, &n) && n >= 0 && n < 65536;
}

// One connection: read a request, answer, until the client closes or
// does not keep the connection alive. Stream is a beast::tcp_stream or an
// ssl_stream over one.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const HttpHandler* handler, size_t max_body_bytes)
      : stream_(std::move(stream)),
        handler_(handler),
        max_body_bytes_(max_body_bytes) {}

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      Read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) {
            if (!ec) self->Read();
          });
    }
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(max_body_bytes_);
    beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec,
                                                       size_t) {
                       if (ec == http::error::body_limit) {
                         self->TooLarge();
                       } else if (!ec) {
                         self->Answer();
                       }
                     });
  }

  // The body is over the limit: say so and close (the rest of it is
  // never read).
  void TooLarge() {
    HttpResponse answer;
    answer.status = 413;
    answer.body = absl::StrCat("413 Payload Too Large: request bodies are "
                               "limited to ",
                               max_body_bytes_, " bytes\n");
    Write(parser_->get().version(), /*keep_alive=*/false, /*head=*/false,
          std::move(answer));
  }

  void Answer() {
    const http::request<http::string_body>& request = parser_->get();
    HttpRequest req;
    req.method = std::string(request.method_string());
    req.target = std::string(request.target());
    req.authorization = std::string(request[http::field::authorization]);
    req.cookie = std::string(request[http::field::cookie]);
    req.content_type = std::string(request[http::field::content_type]);
    req.host = std::string(request[http::field::host]);
    req.origin = std::string(request[http::field::origin]);
    req.tls = !std::is_same_v<Stream, beast::tcp_stream>;
    for (const auto& field : request) {
      req.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                               std::string(field.value()));
    }
    req.body = request.body();
    HttpResponse answer = (*handler_)(req);
    Write(request.version(), request.keep_alive(), req.method == "HEAD",
          std::move(answer));
  }

  void Write(unsigned version, bool keep_alive, bool head,
             HttpResponse answer) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<http::status>(answer.status));
    response_.set(http::field::server, "shardex");
    response_.set(http::field::content_type, answer.content_type);
    response_.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : answer.headers) {
      response_.set(name, value);
    }
    response_.body() = head ? "" : std::move(answer.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec,
                                                        size_t) {
                        if (ec) return;
                        if (self->response_.keep_alive()) {
                          self->Read();
                        } else {
                          self->Close();
                        }
                      });
  }

  void Close() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    } else {
      beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) {});
    }
  }

  Stream stream_;
  const HttpHandler* const handler_;
  const size_t max_body_bytes_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

// A TLS context with the files as they are now.
absl::StatusOr<std::shared_ptr<ssl::context>> LoadTls(
    const HttpServerOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1);
  beast::error_code ec;
  ctx->use_certificate_chain_file(options.cert_file, ec);
  if (!ec) ctx->use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the HTTPS certificate ", options.cert_file,
                     " and key ", options.key_file, ": ", ec.message()));
  }
  return ctx;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        acceptor_(io_) {}

  absl::Status Bind() {
    std::string host, port;
    if (!SplitHostPort(options_.listen, &host, &port)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--http-listen ", options_.listen,
          " is not host:port (e.g. 127.0.0.1:7480 or [::1]:7480)"));
    }
    beast::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec || endpoints.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot resolve --http-listen ", options_.listen, ": ",
          ec.message()));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on --http-listen ", options_.listen,
                       " (address in use or not valid?): ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    if (tls()) {
      // Fail at start, not at the first scrape, if the files are unusable.
      absl::StatusOr<std::shared_ptr<ssl::context>> ctx = LoadTls(options_);
      if (!ctx.ok()) return ctx.status();
    }
    return absl::OkStatus();
  }

  void Run() {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  void Shutdown() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      io_.stop();
    });
    thread_.join();
  }

  int port() const { return port_; }

 private:
  bool tls() const { return !options_.cert_file.empty(); }

  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) Serve(std::move(socket));
      Accept();
    });
  }

  void Serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    if (!tls()) {
      std::make_shared<Session<beast::tcp_stream>>(
          std::move(stream), &handler_, options_.max_body_bytes)
          ->Run();
      return;
    }
    absl::StatusOr<std::shared_ptr<ssl::context>> ctx = LoadTls(options_);
    if (!ctx.ok()) {
      LOG(ERROR) << ctx.status();
      return;
    }
    // The stream's SSL object holds a reference to the context.
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        beast::ssl_stream<beast::tcp_stream>(std::move(stream), **ctx),
        &handler_, options_.max_body_bytes)
        ->Run();
  }

  const HttpServerOptions options_;
  const HttpHandler handler_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::thread thread_;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, HttpHandler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  if (absl::Status st = impl->Bind(); !st.ok()) return st;
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port(); }

void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace shardex
