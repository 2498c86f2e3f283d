#include "coordinator/metrics_endpoint.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/token.h"
#include "coordinator/metrics.h"
#include "coordinator/metrics_text.h"

namespace shardex {
namespace {

bool Authorized(const std::string& token, absl::string_view header) {
  if (token.empty()) return true;
  if (!absl::StartsWith(header, kTokenMetadataPrefix)) return false;
  header.remove_prefix(sizeof(kTokenMetadataPrefix) - 1);
  return TokensEqual(header, token);
}

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

HttpHandler MetricsHandler(std::string token,
                           std::function<SchedulerMetrics()> snapshot) {
  return [token = std::move(token),
          snapshot = std::move(snapshot)](const HttpRequest& req) {
    if (!Authorized(token, req.authorization)) {
      HttpResponse r = Text(
          401,
          "401 Unauthorized: send the coordinator's token as "
          "\"Authorization: Bearer <token>\" (Prometheus: authorization: "
          "{credentials_file: <token file>}), or start the coordinator with "
          "--metrics-no-auth\n");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"shardex\"");
      return r;
    }
    const absl::string_view path =
        absl::string_view(req.target).substr(0, req.target.find('?'));
    if (path != "/metrics") {
      return Text(404, "404 Not Found: this port serves /metrics\n");
    }
    if (req.method != "GET" && req.method != "HEAD") {
      HttpResponse r = Text(405, "405 Method Not Allowed: use GET\n");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    HttpResponse r;
    r.content_type = MetricsText::kContentType;
    r.body = RenderMetrics(snapshot());
    return r;
  };
}

}  // namespace shardex
