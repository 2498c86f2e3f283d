// The HTTP handler of the coordinator's --http-listen port: GET /metrics
// answers the Scheduler's metrics in Prometheus' text format
// (coordinator/metrics.h). Like every gRPC call, a request must carry the
// coordinator's token ("Authorization: Bearer <token>"; Prometheus:
// `authorization: {credentials_file: ...}`), unless the operator chose
// scrape-only metrics without a token (--metrics-no-auth). A missing or
// wrong token gets 401 and nothing else; the token is never logged.
// The coordinator reaches it through dashboard/router.h, which sends
// /metrics here and every other path to the dashboard, so this rule (and
// --metrics-no-auth) covers /metrics alone.
#ifndef SHARDEX_COORDINATOR_METRICS_ENDPOINT_H_
#define SHARDEX_COORDINATOR_METRICS_ENDPOINT_H_

#include <functional>
#include <string>

#include "coordinator/http_server.h"
#include "coordinator/metrics_snapshot.h"

namespace shardex {

// `token`: the coordinator's token; empty serves without one (no auth).
// `snapshot` is called for each scrape.
HttpHandler MetricsHandler(std::string token,
                           std::function<SchedulerMetrics()> snapshot);

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_METRICS_ENDPOINT_H_
