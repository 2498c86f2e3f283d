// Dashboard: the coordinator's live web page and its JSON API, served on
// the --http-listen port beside /metrics (docs/dashboard.md). This class is
// the HTTP logic only: routing, login and sessions, security headers;
// what it shows comes from a ClusterView, the bytes of the page from
// dashboard/web (embedded), and the transport is coordinator/http_server.h.
//
// Access: with a token, every page and API call needs either a session
// (the cookie shardex_session, from logging in at /login with the token)
// or "Authorization: Bearer <token>". Pages without one redirect to
// /login; API calls get 401. The cookie holds a random session id, never
// the token; it is HttpOnly and SameSite=Strict (and Secure over HTTPS).
// State-changing calls also need the header X-Shardex-Action, which a
// cross-site form cannot send, and a matching Origin when one is given.
// Without a token (auth disabled by the operator) the dashboard is open.
//
// Thread-safety: Handle may be called from any thread.
#ifndef SHARDEX_DASHBOARD_DASHBOARD_H_
#define SHARDEX_DASHBOARD_DASHBOARD_H_

#include <string>

#include "common/clock.h"
#include "coordinator/http_server.h"
#include "dashboard/cluster_view.h"
#include "dashboard/sessions.h"

namespace shardex {

inline constexpr char kSessionCookie[] = "shardex_session";
inline constexpr char kActionHeader[] = "X-Shardex-Action";

struct DashboardOptions {
  std::string token;  // the coordinator's token; empty: no login needed
  SessionOptions sessions;
};

class Dashboard {
 public:
  // `clock` and `cluster` must outlive the dashboard.
  Dashboard(DashboardOptions options, Clock* clock, ClusterView* cluster);

  HttpResponse Handle(const HttpRequest& request);

  SessionStore& sessions() { return sessions_; }

 private:
  HttpResponse Route(const HttpRequest& request);
  // A valid session cookie or Bearer token (or no token configured).
  bool Authenticated(const HttpRequest& request);
  HttpResponse Login(const HttpRequest& request);
  HttpResponse Logout(const HttpRequest& request);

  const std::string token_;
  ClusterView* const cluster_;
  SessionStore sessions_;
};

// Serves the page file `name` from dashboard/web with its content type.
HttpResponse ServeEmbeddedFile(absl::string_view name);

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_DASHBOARD_H_
