// The coordinator's one HTTP handler: /metrics goes to the metrics
// endpoint (coordinator/metrics_endpoint.h, with its own auth rule and
// --metrics-no-auth), everything else to the dashboard, so opening metrics
// to scrapers never opens the dashboard.
#ifndef SHARDEX_DASHBOARD_ROUTER_H_
#define SHARDEX_DASHBOARD_ROUTER_H_

#include "coordinator/http_server.h"
#include "dashboard/dashboard.h"

namespace shardex {

// `dashboard` must outlive the handler.
HttpHandler CoordinatorHttpHandler(HttpHandler metrics, Dashboard* dashboard);

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_ROUTER_H_
