// HttpServer over plain HTTP and HTTPS (tests/test_certs.h), with a
// Boost.Beast client.
#include "coordinator/http_server.h"

#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/test_certs.h"

namespace shardex {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

HttpResponse Echo(const HttpRequest& req) {
  HttpResponse r;
  r.body = absl::StrCat(req.method, " ", req.target, " [", req.authorization,
                        "]");
  return r;
}

template <class Stream>
http::response<http::string_body> Exchange(Stream& stream) {
  http::request<http::string_body> req(http::verb::get, "/x?y", 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer t");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res;
}

TEST(HttpServerTest, ServesPlainHttp) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start({"127.0.0.1:0", "", ""}, Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                               (*server)->port()));
  http::response<http::string_body> res = Exchange(stream);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "GET /x?y [Bearer t]");
  // Keep-alive: a second request on the same connection.
  EXPECT_EQ(Exchange(stream).body(), "GET /x?y [Bearer t]");
  (*server)->Shutdown();
  (*server)->Shutdown();  // idempotent
}

TEST(HttpServerTest, ServesHttpsWithTheCertificate) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/certs";
  absl::StatusOr<TestCertificates> certs = TestCertificates::Make(dir);
  ASSERT_TRUE(certs.ok()) << certs.status();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      {"127.0.0.1:0", certs->path("server.pem"), certs->path("server.key")},
      Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(certs->path("ca.pem"));
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  beast::get_lowest_layer(stream).connect(tcp::endpoint(
      asio::ip::make_address("127.0.0.1"), (*server)->port()));
  stream.handshake(ssl::stream_base::client);
  http::response<http::string_body> res = Exchange(stream);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "GET /x?y [Bearer t]");
  (*server)->Shutdown();
  RemoveTree(dir).IgnoreError();
}

// What the handler saw of a request, and a header set on the answer.
HttpResponse Describe(const HttpRequest& req) {
  HttpResponse r;
  r.status = 201;
  r.content_type = "application/json";
  r.body = absl::StrCat(req.method, "|", req.Path(), "|", req.Cookie("a"),
                        "|", req.Cookie("b"), "|", req.Cookie("none"), "|",
                        req.content_type, "|", req.host, "|", req.origin, "|",
                        req.Header("X-Custom"), "|", req.tls, "|", req.body);
  r.headers.emplace_back("Set-Cookie", "s=1; HttpOnly");
  r.headers.emplace_back("Cache-Control", "max-age=5");
  return r;
}

struct Plain {
  asio::io_context io;
  beast::tcp_stream stream{io};
  explicit Plain(int port) {
    stream.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  http::response<http::string_body> Send(
      const http::request<http::string_body>& req) {
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  }
};

TEST(HttpServerTest, PassesCookiesBodyAndHeadersAndSetsHeaders) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start({"127.0.0.1:0", "", ""}, Describe);
  ASSERT_TRUE(server.ok()) << server.status();
  Plain client((*server)->port());
  http::request<http::string_body> req(http::verb::post, "/login?x=1", 11);
  req.set(http::field::host, "127.0.0.1:7480");
  req.set(http::field::cookie, "a=1; b=\"two\";c=3");
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::origin, "http://127.0.0.1:7480");
  req.set("x-custom", "yes");
  req.body() = "token=abc";
  req.prepare_payload();
  http::response<http::string_body> res = client.Send(req);
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(res.body(),
            "POST|/login|1|two||application/x-www-form-urlencoded|"
            "127.0.0.1:7480|http://127.0.0.1:7480|yes|0|token=abc");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res[http::field::set_cookie], "s=1; HttpOnly");
  // The handler's Cache-Control replaces the default no-store.
  EXPECT_EQ(res[http::field::cache_control], "max-age=5");
  EXPECT_EQ(std::distance(res.equal_range(http::field::cache_control).first,
                          res.equal_range(http::field::cache_control).second),
            1);
}

TEST(HttpServerTest, RefusesABodyOverTheLimitWith413) {
  HttpServerOptions options{"127.0.0.1:0", "", ""};
  options.max_body_bytes = 1024;
  int calls = 0;
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(options, [&calls](const HttpRequest& r) {
        ++calls;
        return Describe(r);
      });
  ASSERT_TRUE(server.ok()) << server.status();
  {
    Plain client((*server)->port());
    http::request<http::string_body> req(http::verb::post, "/x", 11);
    req.set(http::field::host, "h");
    req.body() = std::string(1024, 'a');  // at the limit: served
    req.prepare_payload();
    EXPECT_EQ(client.Send(req).result_int(), 201);
  }
  Plain client((*server)->port());
  http::request<http::string_body> req(http::verb::post, "/x", 11);
  req.set(http::field::host, "h");
  req.body() = std::string(1025, 'a');
  req.prepare_payload();
  http::response<http::string_body> res = client.Send(req);
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_NE(res.body().find("1024 bytes"), std::string::npos);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(calls, 1);  // the handler never saw the large one
}

TEST(HttpServerTest, ASilentClientDoesNotBlockOthers) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start({"127.0.0.1:0", "", ""}, Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  // Connects and sends half a request, then nothing.
  Plain stalled((*server)->port());
  asio::write(stalled.stream.socket(),
              asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: h\r\n")));
  Plain client((*server)->port());
  http::response<http::string_body> res = Exchange(client.stream);
  EXPECT_EQ(res.result_int(), 200);
}

TEST(HttpServerTest, BadAddressesAndFilesAreErrors) {
  EXPECT_EQ(HttpServer::Start({"no-port", "", ""}, Echo).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpServer::Start({"127.0.0.1:0", "/nonexistent.pem",
                               "/nonexistent.key"},
                              Echo)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shardex
