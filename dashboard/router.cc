#include "dashboard/router.h"

#include <utility>

namespace shardex {

HttpHandler CoordinatorHttpHandler(HttpHandler metrics, Dashboard* dashboard) {
  return [metrics = std::move(metrics),
          dashboard](const HttpRequest& request) -> HttpResponse {
    if (request.Path() == "/metrics") return metrics(request);
    return dashboard->Handle(request);
  };
}

}  // namespace shardex
