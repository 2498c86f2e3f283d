// The dashboard's JSON API (docs/dashboard.md): proto3 JSON of the
// coordinator's own messages, so the page and scripts read the same fields
// as gRPC clients.
//
//   GET  /api/jobs                     ListJobsResponse
//   GET  /api/workers                  ListWorkersResponse
//   GET  /api/jobs/<id>                JobStatus (with the spec)
//   GET  /api/jobs/<id>/attempts?start=N[&max=M]   ListAttemptsResponse
//   POST /api/jobs/<id>/cancel         CancelJobResponse
//
// Errors are {"error": "..."} with the status's HTTP code. Authentication
// and the cancel's X-Shardex-Action header are the caller's
// (dashboard/dashboard.h); this is only the mapping.
#ifndef SHARDEX_DASHBOARD_API_H_
#define SHARDEX_DASHBOARD_API_H_

#include <string>

#include "absl/status/status.h"
#include "coordinator/http_server.h"
#include "dashboard/cluster_view.h"
#include "google/protobuf/message.h"

namespace shardex {

// Answers a request whose path starts with /api/.
HttpResponse ServeApi(ClusterView& cluster, const HttpRequest& request);

// {"error": "<message>"} with the HTTP status for `code`.
HttpResponse JsonError(int http_status, absl::string_view message);
HttpResponse JsonError(const absl::Status& status);
// 200 with the message as proto3 JSON (zero values included).
HttpResponse JsonMessage(const google::protobuf::Message& message);

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_API_H_
