#include "coordinator/metrics_endpoint.h"

#include <string>

#include "gtest/gtest.h"

namespace shardex {
namespace {

const char kToken[] = "0123456789abcdef0123456789abcdef";

SchedulerMetrics Some() {
  SchedulerMetrics m;
  m.totals.succeeded = 5;
  m.workers_connected = 2;
  return m;
}

HttpRequest Get(std::string target, std::string authorization) {
  HttpRequest r;
  r.method = "GET";
  r.target = std::move(target);
  r.authorization = std::move(authorization);
  return r;
}

TEST(MetricsEndpointTest, ServesMetricsWithTheToken) {
  HttpHandler h = MetricsHandler(kToken, Some);
  HttpResponse r = h(Get("/metrics", std::string("Bearer ") + kToken));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("shardex_shards_completed_total{outcome=\"succeeded\"} 5\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("shardex_workers{state=\"connected\"} 2\n"),
            std::string::npos);
}

TEST(MetricsEndpointTest, RefusesAMissingOrWrongToken) {
  HttpHandler h = MetricsHandler(kToken, Some);
  for (const char* auth :
       {"", "Bearer wrong", "Basic xyz", "0123456789abcdef0123456789abcdef"}) {
    HttpResponse r = h(Get("/metrics", auth));
    EXPECT_EQ(r.status, 401) << auth;
    EXPECT_EQ(r.body.find("shardex_"), std::string::npos);
    EXPECT_EQ(r.body.find(kToken), std::string::npos);
  }
}

TEST(MetricsEndpointTest, NoAuthServesWithoutAToken) {
  HttpHandler h = MetricsHandler("", Some);
  EXPECT_EQ(h(Get("/metrics", "")).status, 200);
  EXPECT_EQ(h(Get("/metrics?x=1", "")).status, 200);
  EXPECT_EQ(h(Get("/other", "")).status, 404);
  HttpRequest post = Get("/metrics", "");
  post.method = "POST";
  EXPECT_EQ(h(post).status, 405);
}

}  // namespace
}  // namespace shardex
