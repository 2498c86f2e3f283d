#include "dashboard/api.h"

#include <cstdint>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"

namespace shardex {
namespace {

using shardex::v1::CancelJobResponse;
using shardex::v1::JobStatus;
using shardex::v1::ListAttemptsRequest;
using shardex::v1::ListAttemptsResponse;
using shardex::v1::ListJobsResponse;
using shardex::v1::ListWorkersResponse;

constexpr char kJson[] = "application/json; charset=utf-8";

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// A JSON string literal. Bytes >= 0x80 pass through (status messages are
// UTF-8); control characters are escaped.
std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// The query parameter `name` of `target`; empty if absent.
absl::string_view QueryParam(absl::string_view target,
                             absl::string_view name) {
  const size_t q = target.find('?');
  if (q == absl::string_view::npos) return "";
  for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
    const size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name) {
      return eq == absl::string_view::npos ? "" : kv.substr(eq + 1);
    }
  }
  return "";
}

HttpResponse NotAllowed(absl::string_view allow) {
  HttpResponse r = JsonError(
      405, absl::StrCat("method not allowed here: use ", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

bool IsGet(const HttpRequest& r) {
  return r.method == "GET" || r.method == "HEAD";
}

HttpResponse Attempts(ClusterView& cluster, const HttpRequest& request,
                      uint64_t job_id) {
  ListAttemptsRequest req;
  req.set_job_id(job_id);
  uint64_t start = 0;
  uint32_t max = 0;
  const absl::string_view start_text = QueryParam(request.target, "start");
  const absl::string_view max_text = QueryParam(request.target, "max");
  if ((!start_text.empty() && !absl::SimpleAtoi(start_text, &start)) ||
      (!max_text.empty() && !absl::SimpleAtoi(max_text, &max))) {
    return JsonError(400, "start and max must be non-negative integers");
  }
  req.set_start(start);
  req.set_max_count(max);
  absl::StatusOr<ListAttemptsResponse> page = cluster.ListAttempts(req);
  if (!page.ok()) return JsonError(page.status());
  return JsonMessage(*page);
}

}  // namespace

HttpResponse JsonError(int http_status, absl::string_view message) {
  HttpResponse r;
  r.status = http_status;
  r.content_type = kJson;
  r.body = absl::StrCat("{\"error\": ", JsonQuote(message), "}\n");
  return r;
}

HttpResponse JsonError(const absl::Status& status) {
  return JsonError(HttpStatusOf(status.code()),
                   absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                                status.message()));
}

HttpResponse JsonMessage(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Zero counts and false flags are present, so the page need not guess.
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  HttpResponse r;
  r.content_type = kJson;
  const auto st =
      google::protobuf::util::MessageToJsonString(message, &r.body, options);
  if (!st.ok()) {
    return JsonError(500, absl::StrCat("cannot render JSON: ",
                                       std::string(st.message())));
  }
  return r;
}

HttpResponse ServeApi(ClusterView& cluster, const HttpRequest& request) {
  // /api/jobs[/<id>[/attempts|/cancel]], /api/workers
  const std::vector<absl::string_view> parts =
      absl::StrSplit(request.Path().substr(1), '/');
  if (parts.size() == 2 && parts[1] == "workers") {
    if (!IsGet(request)) return NotAllowed("GET");
    ListWorkersResponse out;
    for (auto& w : cluster.ListWorkers()) *out.add_workers() = std::move(w);
    return JsonMessage(out);
  }
  if (parts.size() < 2 || parts[1] != "jobs" || parts.size() > 4) {
    return JsonError(404, "no such API: see docs/dashboard.md");
  }
  if (parts.size() == 2) {
    if (!IsGet(request)) return NotAllowed("GET");
    ListJobsResponse out;
    for (auto& j : cluster.ListJobs()) *out.add_jobs() = std::move(j);
    return JsonMessage(out);
  }
  uint64_t job_id = 0;
  if (!absl::SimpleAtoi(parts[2], &job_id)) {
    return JsonError(404, absl::StrCat("not a job id: ", parts[2]));
  }
  if (parts.size() == 3) {
    if (!IsGet(request)) return NotAllowed("GET");
    absl::StatusOr<JobStatus> job = cluster.GetJob(job_id);
    if (!job.ok()) return JsonError(job.status());
    return JsonMessage(*job);
  }
  if (parts[3] == "attempts") {
    if (!IsGet(request)) return NotAllowed("GET");
    return Attempts(cluster, request, job_id);
  }
  if (parts[3] == "cancel") {
    if (request.method != "POST") return NotAllowed("POST");
    absl::StatusOr<JobStatus> job = cluster.Cancel(job_id);
    if (!job.ok()) return JsonError(job.status());
    CancelJobResponse out;
    *out.mutable_status() = *std::move(job);
    return JsonMessage(out);
  }
  return JsonError(404, "no such API: see docs/dashboard.md");
}

}  // namespace shardex
