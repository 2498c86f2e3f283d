// The dashboard's routing, login and security rules (dashboard/dashboard.h)
// with the coordinator's router (dashboard/router.h) in front, as the
// coordinator wires them, and the embedded web files.
#include "dashboard/dashboard.h"

#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "coordinator/metrics_endpoint.h"
#include "dashboard/assets.h"
#include "dashboard/fake_cluster_view.h"
#include "dashboard/router.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

const char kToken[] = "0123456789abcdef0123456789abcdef";

std::string HeaderOf(const HttpResponse& r, absl::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

class DashboardTest : public ::testing::Test {
 protected:
  DashboardTest() { Rebuild(kToken, kToken); }

  // The coordinator's wiring: `metrics_token` empty is --metrics-no-auth.
  void Rebuild(std::string token, std::string metrics_token) {
    shardex::v1::JobStatus job;
    job.set_job_id(7);
    job.set_state(shardex::v1::JOB_RUNNING);
    cluster_.jobs = {job};
    dashboard_ = std::make_unique<Dashboard>(
        DashboardOptions{std::move(token), SessionOptions{}}, &clock_,
        &cluster_);
    handler_ = CoordinatorHttpHandler(
        MetricsHandler(std::move(metrics_token),
                       [] { return SchedulerMetrics(); }),
        dashboard_.get());
  }

  HttpResponse Send(std::string method, std::string target,
                    std::string cookie = "", std::string authorization = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.cookie = std::move(cookie);
    r.authorization = std::move(authorization);
    r.host = "127.0.0.1:7480";
    return Answer(r);
  }

  HttpResponse Answer(const HttpRequest& r) {
    HttpResponse out = handler_(r);
    // Whatever the answer, the token is never in a Location.
    EXPECT_EQ(HeaderOf(out, "Location").find(kToken), std::string::npos);
    return out;
  }

  HttpResponse PostLogin(std::string form, bool tls = false) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/login";
    r.content_type = "application/x-www-form-urlencoded";
    r.body = std::move(form);
    r.host = "127.0.0.1:7480";
    r.origin = "http://127.0.0.1:7480";
    r.tls = tls;
    return Answer(r);
  }

  // Logs in; returns the Cookie header to send.
  std::string LogIn() {
    HttpResponse r = PostLogin(std::string("token=") + kToken);
    EXPECT_EQ(r.status, 303);
    const std::string set = HeaderOf(r, "Set-Cookie");
    return set.substr(0, set.find(';'));
  }

  FakeClock clock_;
  FakeClusterView cluster_;
  std::unique_ptr<Dashboard> dashboard_;
  HttpHandler handler_;
};

TEST_F(DashboardTest, PagesRedirectToLoginAndApiSays401WithoutASession) {
  for (const char* page : {"/", "/index.html"}) {
    HttpResponse r = Send("GET", page);
    EXPECT_EQ(r.status, 303) << page;
    EXPECT_EQ(HeaderOf(r, "Location"), "/login");
  }
  HttpResponse r = Send("GET", "/api/jobs");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_TRUE(absl::StartsWith(r.body, "{\"error\": ")) << r.body;
  EXPECT_EQ(Send("GET", "/api/jobs", "shardex_session=forged").status, 401);
}

TEST_F(DashboardTest, LoginPageHasTheForm) {
  HttpResponse r = Send("GET", "/login");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<form id=\"login\" method=\"POST\" action=\"/login\">"),
            std::string::npos);
  EXPECT_NE(r.body.find("name=\"token\" type=\"password\""),
            std::string::npos);
  EXPECT_NE(r.body.find("<button type=\"submit\">"), std::string::npos);
  EXPECT_EQ(r.body.find("class=\"error\""), std::string::npos);
}

TEST_F(DashboardTest, LoginSetsAStrictHttpOnlySessionCookie) {
  HttpResponse r = PostLogin(std::string("token=") + kToken);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderOf(r, "Location"), "/");
  const std::string cookie = HeaderOf(r, "Set-Cookie");
  EXPECT_TRUE(std::regex_match(
      cookie, std::regex("shardex_session=[0-9a-f]{64}; HttpOnly; "
                         "SameSite=Strict; Path=/")))
      << cookie;
  EXPECT_EQ(cookie.find(kToken), std::string::npos);
  EXPECT_EQ(r.body.find(kToken), std::string::npos);
  // Over HTTPS the cookie is Secure.
  EXPECT_TRUE(absl::EndsWith(
      HeaderOf(PostLogin(std::string("token=") + kToken, true), "Set-Cookie"),
      "; Secure"));

  const std::string session = cookie.substr(0, cookie.find(';'));
  r = Send("GET", "/", session);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("/static/app.js"), std::string::npos);
  EXPECT_EQ(Send("GET", "/api/jobs", "other=1; " + session).status, 200);
}

TEST_F(DashboardTest, AWrongTokenGets401AndTheFormAgain) {
  for (const std::string& form :
       {std::string("token=wrong"), std::string("token="), std::string(),
        std::string("x=1"), std::string("tok=") + kToken}) {
    HttpResponse r = PostLogin(form);
    EXPECT_EQ(r.status, 401) << form;
    EXPECT_EQ(HeaderOf(r, "Set-Cookie"), "");
    EXPECT_NE(r.body.find("class=\"error\""), std::string::npos);
    EXPECT_NE(r.body.find("id=\"login\""), std::string::npos);
  }
  EXPECT_EQ(dashboard_->sessions().size(), 0u);
}

TEST_F(DashboardTest, TheFormValueIsUrlDecoded) {
  Rebuild("t0k3n+with&odd=chars%", kToken);
  EXPECT_EQ(PostLogin("token=t0k3n%2Bwith%26odd%3Dchars%25").status, 303);
  EXPECT_EQ(PostLogin("token=t0k3n+with%26odd%3Dchars%25").status, 401);
}

TEST_F(DashboardTest, BearerTokenWorksEverywhere) {
  const std::string bearer = std::string("Bearer ") + kToken;
  EXPECT_EQ(Send("GET", "/", "", bearer).status, 200);
  EXPECT_EQ(Send("GET", "/api/jobs", "", bearer).status, 200);
  EXPECT_EQ(Send("GET", "/api/workers", "", bearer).status, 200);
  EXPECT_EQ(Send("GET", "/api/jobs", "", "Bearer wrong").status, 401);
  EXPECT_EQ(Send("GET", "/", "", "Bearer wrong").status, 303);
  EXPECT_EQ(Send("GET", "/api/jobs", "", kToken).status, 401);
}

TEST_F(DashboardTest, CancelNeedsTheActionHeader) {
  const std::string session = LogIn();
  HttpRequest r;
  r.method = "POST";
  r.target = "/api/jobs/7/cancel";
  r.cookie = session;
  r.host = "127.0.0.1:7480";
  EXPECT_EQ(Answer(r).status, 403);
  r.headers = {{"x-shardex-action", "delete"}};
  EXPECT_EQ(Answer(r).status, 403);
  EXPECT_TRUE(cluster_.cancelled.empty());
  r.headers = {{"x-shardex-action", "cancel"}};
  r.cookie = "";
  EXPECT_EQ(Answer(r).status, 401);  // the header alone is not enough
  r.cookie = session;
  EXPECT_EQ(Answer(r).status, 200);
  EXPECT_EQ(cluster_.cancelled, std::vector<uint64_t>{7});
  // Another site's page cannot post, even with the header.
  r.origin = "https://evil.example";
  EXPECT_EQ(Answer(r).status, 403);
  EXPECT_EQ(cluster_.cancelled.size(), 1u);
  // Scripts: the Bearer token and the header.
  r.origin = "";
  r.cookie = "";
  r.authorization = std::string("Bearer ") + kToken;
  EXPECT_EQ(Answer(r).status, 200);
}

TEST_F(DashboardTest, LogoutEndsTheSession) {
  const std::string session = LogIn();
  HttpResponse r = Send("POST", "/logout", session);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(HeaderOf(r, "Location"), "/login");
  EXPECT_NE(HeaderOf(r, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(Send("GET", "/", session).status, 303);
  EXPECT_EQ(Send("GET", "/logout", session).status, 405);
}

TEST_F(DashboardTest, SessionsExpire) {
  const std::string session = LogIn();
  clock_.Advance(absl::Hours(12));
  EXPECT_EQ(Send("GET", "/", session).status, 303);
  EXPECT_EQ(Send("GET", "/api/jobs", session).status, 401);
}

TEST_F(DashboardTest, UnknownPathsAre404) {
  const std::string session = LogIn();
  for (const char* path : {"/nope", "/static/nope.js", "/static/index.html",
                           "/static/../login.html", "/login.html"}) {
    EXPECT_EQ(Send("GET", path, session).status, 404) << path;
  }
  EXPECT_EQ(Send("GET", "/api/nope", session).status, 404);
}

TEST_F(DashboardTest, EveryAnswerHasTheSecurityHeaders) {
  const std::string session = LogIn();
  for (const char* path :
       {"/", "/login", "/static/app.js", "/api/jobs", "/nope"}) {
    for (const std::string& cookie : {std::string(), session}) {
      HttpResponse r = Send("GET", path, cookie);
      EXPECT_EQ(HeaderOf(r, "Content-Security-Policy").rfind(
                    "default-src 'self'", 0),
                0u)
          << path;
      EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
      EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
      EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
    }
  }
}

TEST_F(DashboardTest, WithoutATokenTheDashboardIsOpen) {
  Rebuild("", "");
  EXPECT_EQ(Send("GET", "/").status, 200);
  EXPECT_EQ(Send("GET", "/api/jobs").status, 200);
  EXPECT_EQ(Send("GET", "/login").status, 303);
}

TEST_F(DashboardTest, MetricsKeepTheirOwnRule) {
  EXPECT_EQ(Send("GET", "/metrics").status, 401);
  HttpResponse r = Send("GET", "/metrics", "", std::string("Bearer ") + kToken);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("shardex_"), std::string::npos);
  // A session is for the dashboard, not for scrapers.
  EXPECT_EQ(Send("GET", "/metrics", LogIn()).status, 401);
}

TEST_F(DashboardTest, MetricsNoAuthOpensMetricsOnly) {
  Rebuild(kToken, "");  // --metrics-no-auth
  EXPECT_EQ(Send("GET", "/metrics").status, 200);
  EXPECT_EQ(Send("GET", "/metrics?x=1").status, 200);
  EXPECT_EQ(Send("GET", "/").status, 303);
  EXPECT_EQ(Send("GET", "/api/jobs").status, 401);
}

// ---- The embedded web files.

std::string SourceFile(const std::string& name) {
  absl::StatusOr<std::string> bytes = ReadFile("dashboard/web/" + name);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

TEST(AssetsTest, ServedBytesEqualTheSourceFiles) {
  struct {
    const char* name;
    const char* content_type;
  } files[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"login.html", "text/html; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"app.css", "text/css; charset=utf-8"},
  };
  ASSERT_EQ(kEmbeddedFileCount, 4u);
  for (const auto& f : files) {
    const std::string source = SourceFile(f.name);
    EXPECT_GT(source.size(), 100u) << f.name;
    HttpResponse r = ServeEmbeddedFile(f.name);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, f.content_type);
    EXPECT_TRUE(r.body == source) << f.name << " differs from its source";
  }
}

TEST_F(DashboardTest, StaticFilesNeedNoSessionAndMatchTheirSources) {
  HttpResponse r = Send("GET", "/static/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_TRUE(r.body == SourceFile("app.js"));
  r = Send("GET", "/static/app.css");
  EXPECT_EQ(r.content_type, "text/css; charset=utf-8");
  EXPECT_TRUE(r.body == SourceFile("app.css"));
}

TEST(AssetsTest, PagesHaveNoInlineScriptAndNoExternalUrls) {
  for (const char* name : {"index.html", "login.html", "app.js", "app.css"}) {
    const std::string text = SourceFile(name);
    EXPECT_EQ(text.find("http://"), std::string::npos) << name;
    EXPECT_EQ(text.find("https://"), std::string::npos) << name;
    EXPECT_EQ(text.find("<script>"), std::string::npos) << name;
    EXPECT_EQ(text.find(" on"  "click="), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace shardex
