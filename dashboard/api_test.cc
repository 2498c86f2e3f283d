// The JSON API (dashboard/api.h) against a FakeClusterView.
#include "dashboard/api.h"

#include <string>

#include "dashboard/fake_cluster_view.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using shardex::v1::AttemptRecord;
using shardex::v1::CancelJobResponse;
using shardex::v1::JobStatus;
using shardex::v1::ListAttemptsResponse;
using shardex::v1::ListJobsResponse;
using shardex::v1::ListWorkersResponse;

HttpRequest Req(std::string method, std::string target) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

template <class M>
M Parse(const HttpResponse& r) {
  M m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &m).ok())
      << r.body;
  return m;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JobStatus job;
    job.set_job_id(7);
    job.set_state(shardex::v1::JOB_RUNNING);
    job.set_shards_total(10);
    job.set_shards_succeeded(4);
    job.mutable_spec()->set_kernel("primes");
    cluster_.jobs.push_back(job);
    shardex::v1::WorkerInfo w;
    w.set_worker_id(3);
    w.set_host("h1");
    w.set_slots(4);
    w.set_cpu_utilization(0.5);
    cluster_.workers.push_back(w);
    for (int i = 0; i < 5; ++i) {
      AttemptRecord a;
      a.set_shard(i);
      a.set_attempt(1);
      a.set_outcome(i == 2 ? shardex::v1::ATTEMPT_FAILED
                           : shardex::v1::ATTEMPT_SUCCEEDED);
      if (i == 2) a.set_error("exit code 3; stderr tail: boom");
      cluster_.attempts.push_back(a);
    }
  }

  HttpResponse Serve(std::string method, std::string target) {
    return ServeApi(cluster_, Req(std::move(method), std::move(target)));
  }

  FakeClusterView cluster_;
};

TEST_F(ApiTest, ListsJobsAsProto3JsonWithZeroCounts) {
  HttpResponse r = Serve("GET", "/api/jobs");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  // uint64 as strings, enums by name, zero counts present.
  EXPECT_NE(r.body.find("\"jobId\":\"7\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"state\":\"JOB_RUNNING\""), std::string::npos);
  EXPECT_NE(r.body.find("\"shardsFailed\":\"0\""), std::string::npos);
  ListJobsResponse jobs = Parse<ListJobsResponse>(r);
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).shards_succeeded(), 4u);
}

TEST_F(ApiTest, ListsWorkers) {
  HttpResponse r = Serve("GET", "/api/workers");
  EXPECT_EQ(r.status, 200);
  ListWorkersResponse workers = Parse<ListWorkersResponse>(r);
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_EQ(workers.workers(0).host(), "h1");
  EXPECT_DOUBLE_EQ(workers.workers(0).cpu_utilization(), 0.5);
  EXPECT_NE(r.body.find("\"draining\":false"), std::string::npos);
}

TEST_F(ApiTest, GetsOneJobWithItsSpec) {
  HttpResponse r = Serve("GET", "/api/jobs/7");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse<JobStatus>(r).spec().kernel(), "primes");
  r = Serve("GET", "/api/jobs/8");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\": \"NOT_FOUND: no job 8\"}\n");
  EXPECT_EQ(Serve("GET", "/api/jobs/x").status, 404);
}

TEST_F(ApiTest, PagesTheAttemptsFromStart) {
  ListAttemptsResponse page =
      Parse<ListAttemptsResponse>(Serve("GET", "/api/jobs/7/attempts"));
  ASSERT_EQ(page.attempts_size(), 2);
  EXPECT_EQ(page.attempts(0).shard(), 0u);
  EXPECT_TRUE(page.more());
  page = Parse<ListAttemptsResponse>(
      Serve("GET", "/api/jobs/7/attempts?start=2"));
  ASSERT_EQ(page.attempts_size(), 2);
  EXPECT_EQ(page.attempts(0).outcome(), shardex::v1::ATTEMPT_FAILED);
  EXPECT_EQ(page.attempts(0).error(), "exit code 3; stderr tail: boom");
  EXPECT_EQ(page.next(), 4u);
  page = Parse<ListAttemptsResponse>(
      Serve("GET", "/api/jobs/7/attempts?start=4&max=9"));
  EXPECT_EQ(page.attempts_size(), 1);
  EXPECT_FALSE(page.more());
  EXPECT_EQ(Serve("GET", "/api/jobs/7/attempts?start=-1").status, 400);
  EXPECT_EQ(Serve("GET", "/api/jobs/9/attempts").status, 404);
}

TEST_F(ApiTest, PassesTheShardLogsErrorThroughAsJson) {
  cluster_.attempts_error =
      absl::UnimplementedError("the shard log is not built yet");
  HttpResponse r = Serve("GET", "/api/jobs/7/attempts?start=0");
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(r.body,
            "{\"error\": \"UNIMPLEMENTED: the shard log is not built yet\"}\n");
}

TEST_F(ApiTest, CancelNeedsPost) {
  EXPECT_EQ(Serve("GET", "/api/jobs/7/cancel").status, 405);
  EXPECT_TRUE(cluster_.cancelled.empty());
  HttpResponse r = Serve("POST", "/api/jobs/7/cancel");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Parse<CancelJobResponse>(r).status().state(),
            shardex::v1::JOB_CANCELLED);
  EXPECT_EQ(cluster_.cancelled, std::vector<uint64_t>{7});
  EXPECT_EQ(Serve("POST", "/api/jobs/8/cancel").status, 404);
}

TEST_F(ApiTest, UnknownPathsAndMethods) {
  EXPECT_EQ(Serve("GET", "/api/nothing").status, 404);
  EXPECT_EQ(Serve("GET", "/api/jobs/7/other").status, 404);
  EXPECT_EQ(Serve("GET", "/api/jobs/7/attempts/1/2").status, 404);
  EXPECT_EQ(Serve("POST", "/api/jobs").status, 405);
  EXPECT_EQ(Serve("DELETE", "/api/jobs/7").status, 405);
}

TEST(JsonErrorTest, EscapesTheMessage) {
  EXPECT_EQ(JsonError(400, "a \"b\"\\\n\x01").body,
            "{\"error\": \"a \\\"b\\\"\\\\\\n\\u0001\"}\n");
}

}  // namespace
}  // namespace shardex
