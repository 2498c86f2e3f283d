#include "worker/host_stats.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

namespace shardex {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "MemTotal:       16303852 kB" -> bytes; 0 if absent.
uint64_t MeminfoBytes(const std::string& meminfo, const std::string& key) {
  const size_t at = meminfo.find(key + ":");
  if (at == std::string::npos) return 0;
  std::istringstream line(meminfo.substr(at + key.size() + 1));
  uint64_t kib = 0;
  line >> kib;
  return kib * 1024;
}

}  // namespace

void HostStats::FillHeartbeat(shardex::v1::Heartbeat* heartbeat) const {
  heartbeat->set_cpu_utilization(cpu_utilization);
  heartbeat->set_memory_total_bytes(memory_total_bytes);
  heartbeat->set_memory_available_bytes(memory_available_bytes);
  heartbeat->set_load1(load1);
}

HostStats ProcHostStats::Sample() {
  HostStats stats;
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
  std::istringstream stat(Slurp(proc_ + "/stat"));
  std::string cpu;
  stat >> cpu;
  if (cpu == "cpu") {
    std::vector<uint64_t> ticks;
    for (uint64_t t; ticks.size() < 8 && stat >> t;) ticks.push_back(t);
    if (ticks.size() >= 5) {
      uint64_t total = 0;
      for (uint64_t t : ticks) total += t;
      const uint64_t idle = ticks[3] + ticks[4];  // idle + iowait
      absl::MutexLock lock(&mu_);
      if (total > last_total_ && idle >= last_idle_) {
        const double busy =
            static_cast<double>(total - last_total_) - (idle - last_idle_);
        stats.cpu_utilization =
            std::max(0.0, busy / static_cast<double>(total - last_total_));
      }
      last_total_ = total;
      last_idle_ = idle;
    }
  }
  const std::string meminfo = Slurp(proc_ + "/meminfo");
  stats.memory_total_bytes = MeminfoBytes(meminfo, "MemTotal");
  stats.memory_available_bytes = MeminfoBytes(meminfo, "MemAvailable");
  std::istringstream loadavg(Slurp(proc_ + "/loadavg"));
  loadavg >> stats.load1;
  if (!loadavg) stats.load1 = 0;
  return stats;
}

}  // namespace shardex
