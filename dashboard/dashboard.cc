#include "dashboard/dashboard.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/token.h"
#include "dashboard/api.h"
#include "dashboard/assets.h"

namespace shardex {
namespace {

// Where login.html shows why the last attempt failed.
constexpr char kErrorMarker[] = "<!--error-->";

HttpResponse Redirect(absl::string_view location) {
  HttpResponse r;
  r.status = 303;
  r.body = absl::StrCat("See ", location, "\n");
  r.headers.emplace_back("Location", std::string(location));
  return r;
}

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// application/x-www-form-urlencoded value decoding: '+' and %XX.
std::string FormDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int v = 0;
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               absl::ascii_isxdigit(s[i + 1]) &&
               absl::ascii_isxdigit(s[i + 2]) &&
               absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];  // a stray '%' stays as it is
    }
  }
  return out;
}

// The form field `name` of an urlencoded body.
std::string FormField(absl::string_view body, absl::string_view name) {
  for (absl::string_view kv : absl::StrSplit(body, '&')) {
    const size_t eq = kv.find('=');
    if (eq != absl::string_view::npos && kv.substr(0, eq) == name) {
      return FormDecode(kv.substr(eq + 1));
    }
  }
  return "";
}

// Without an Origin header (curl, old browsers) there is nothing to check;
// with one it must name this server, so another site's page cannot post
// here even if a browser sent the cookie.
bool SameOrigin(const HttpRequest& request) {
  if (request.origin.empty()) return true;
  absl::string_view origin = request.origin;
  if (!absl::ConsumePrefix(&origin, "https://")) {
    absl::ConsumePrefix(&origin, "http://");
  }
  return !request.host.empty() && origin == request.host;
}

std::string SessionCookie(absl::string_view value, bool secure,
                          bool expire) {
  return absl::StrCat(kSessionCookie, "=", value,
                      "; HttpOnly; SameSite=Strict; Path=/",
                      secure ? "; Secure" : "",
                      expire ? "; Max-Age=0" : "");
}

// Headers on every dashboard answer: no framing (clickjacking), no
// sniffing, scripts and styles only from here (no inline script, so an
// injected string cannot run), no referrer leaving the page.
void AddSecurityHeaders(HttpResponse* r) {
  r->headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
      "form-action 'self'");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("Referrer-Policy", "same-origin");
  r->headers.emplace_back("Cache-Control", "no-store");
}

bool IsGet(const HttpRequest& r) {
  return r.method == "GET" || r.method == "HEAD";
}

}  // namespace

HttpResponse ServeEmbeddedFile(absl::string_view name) {
  const EmbeddedFile* file = FindEmbeddedFile(name);
  if (file == nullptr) return Text(404, "404 Not Found\n");
  HttpResponse r;
  r.content_type = std::string(ContentTypeOf(name));
  r.body = std::string(file->bytes);
  return r;
}

Dashboard::Dashboard(DashboardOptions options, Clock* clock,
                     ClusterView* cluster)
    : token_(std::move(options.token)),
      cluster_(cluster),
      sessions_(clock, options.sessions) {}

HttpResponse Dashboard::Handle(const HttpRequest& request) {
  HttpResponse r = Route(request);
  AddSecurityHeaders(&r);
  return r;
}

bool Dashboard::Authenticated(const HttpRequest& request) {
  if (token_.empty()) return true;
  absl::string_view auth = request.authorization;
  if (absl::ConsumePrefix(&auth, kTokenMetadataPrefix)) {
    return TokensEqual(auth, token_);
  }
  return sessions_.Valid(request.Cookie(kSessionCookie));
}

HttpResponse Dashboard::Route(const HttpRequest& request) {
  const absl::string_view path = request.Path();
  if (request.method == "POST" && !SameOrigin(request)) {
    return Text(403, "403 Forbidden: the Origin is not this server\n");
  }
  if (absl::StartsWith(path, "/static/")) {
    if (!IsGet(request)) return Text(405, "405 Method Not Allowed\n");
    // Only the page's own script and style; they hold no data.
    const absl::string_view name = path.substr(sizeof("/static/") - 1);
    if (name != "app.js" && name != "app.css") {
      return Text(404, "404 Not Found\n");
    }
    return ServeEmbeddedFile(name);
  }
  if (path == "/login") {
    if (request.method == "POST") return Login(request);
    if (!IsGet(request)) return Text(405, "405 Method Not Allowed\n");
    if (token_.empty()) return Redirect("/");
    return ServeEmbeddedFile("login.html");
  }
  if (path == "/logout") {
    if (request.method != "POST") return Text(405, "405 Method Not Allowed\n");
    return Logout(request);
  }
  const bool authenticated = Authenticated(request);
  if (absl::StartsWith(path, "/api/")) {
    if (!authenticated) {
      return JsonError(401,
                       "log in at /login, or send \"Authorization: Bearer "
                       "<token>\" with the coordinator's token");
    }
    if (request.method != "GET" && request.method != "HEAD" &&
        !absl::EqualsIgnoreCase(request.Header(kActionHeader),
                                path.substr(path.rfind('/') + 1))) {
      return JsonError(403, absl::StrCat("send the header ", kActionHeader,
                                         ": ", path.substr(path.rfind('/') + 1),
                                         " to confirm this action"));
    }
    return ServeApi(*cluster_, request);
  }
  if (path == "/" || path == "/index.html") {
    if (!authenticated) return Redirect("/login");
    if (!IsGet(request)) return Text(405, "405 Method Not Allowed\n");
    return ServeEmbeddedFile("index.html");
  }
  return Text(404, "404 Not Found: the dashboard is at /\n");
}

HttpResponse Dashboard::Login(const HttpRequest& request) {
  if (token_.empty()) return Redirect("/");
  const std::string presented = FormField(request.body, "token");
  if (presented.empty() || !TokensEqual(presented, token_)) {
    HttpResponse r = ServeEmbeddedFile("login.html");
    r.status = 401;
    r.body = absl::StrReplaceAll(
        r.body, {{kErrorMarker,
                  "<p class=\"error\">That is not this coordinator's token. "
                  "It is in the coordinator's token file (by default "
                  "&lt;state-dir&gt;/token).</p>"}});
    return r;
  }
  HttpResponse r = Redirect("/");
  r.headers.emplace_back(
      "Set-Cookie", SessionCookie(sessions_.Create(), request.tls, false));
  return r;
}

HttpResponse Dashboard::Logout(const HttpRequest& request) {
  sessions_.Remove(request.Cookie(kSessionCookie));
  HttpResponse r = Redirect("/login");
  r.headers.emplace_back("Set-Cookie", SessionCookie("", request.tls, true));
  return r;
}

}  // namespace shardex
