// HttpServer over plain HTTP and HTTPS (tests/test_certs.h), with a
// Boost.Beast client.
#include "coordinator/http_server.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
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
