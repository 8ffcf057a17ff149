#include "service/recall_monitor.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <numeric>
#include <unordered_set>

#include "service/index_registry.h"

namespace vectord::service {
namespace {

constexpr size_t kRecallK = 10;

uint64_t NextRandom(uint64_t& state) {
  // splitmix64
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct MeanAndInterval {
  double mean = 0;
  double ci95 = 1;
};

MeanAndInterval Summarise(const std::deque<double>& values) {
  MeanAndInterval out;
  if (values.empty()) return out;
  const double n = static_cast<double>(values.size());
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  // Two views of the 95% interval, the wider one kept. From the spread of the
  // per-query values (normal approximation of the mean) — right when queries
  // differ, but zero when every sample so far was perfect; and Wilson's
  // interval for the n * 10 neighbours as coin flips — never zero, but too
  // narrow when misses cluster in a few hard queries.
  constexpr double z = 1.96;
  double spread = 0;
  if (values.size() >= 2) {
    double squares = 0;
    for (double v : values) squares += (v - out.mean) * (v - out.mean);
    spread = z * std::sqrt(squares / (n - 1)) / std::sqrt(n);
  }
  const double trials = n * static_cast<double>(kRecallK);
  const double p = out.mean;
  const double wilson =
      z * std::sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials);
  out.ci95 = std::max(spread, wilson);
  return out;
}

// A query's exact answer: its 10 nearest (the query's own item left out),
// kept as the distance a found result must not exceed.
struct Truth {
  size_t count = 0;  // min(10, items other than the query's own)
  float threshold = 0;
};

std::vector<engine::SearchResult> WithoutItem(std::vector<engine::SearchResult> results,
                                              const std::string* excluded) {
  if (excluded != nullptr) {
    std::erase_if(results, [&](const engine::SearchResult& r) { return r.id == *excluded; });
  }
  if (results.size() > kRecallK) results.resize(kRecallK);
  return results;
}

Result<Truth> ExactTruth(const engine::HnswIndex& engine, std::span<const float> query,
                         const std::string* excluded) {
  engine::SearchOptions options;
  options.k = kRecallK + (excluded != nullptr ? 1 : 0);
  options.exact = true;
  options.with_payload = false;
  VECTORD_ASSIGN_OR_RETURN(std::vector<engine::SearchResult> exact, engine.Search(query, options));
  std::vector<engine::SearchResult> truth = WithoutItem(std::move(exact), excluded);
  Truth out;
  out.count = truth.size();
  if (!truth.empty()) out.threshold = truth.back().distance;
  return out;
}

// The fraction of the true 10 nearest a search at `ef` finds.
Result<double> SearchRecall(const engine::HnswIndex& engine, std::span<const float> query,
                            size_t ef, const std::string* excluded, const Truth& truth) {
  engine::SearchOptions options;
  options.k = kRecallK + (excluded != nullptr ? 1 : 0);
  options.ef = ef;
  options.with_payload = false;
  VECTORD_ASSIGN_OR_RETURN(std::vector<engine::SearchResult> found, engine.Search(query, options));
  const std::vector<engine::SearchResult> results = WithoutItem(std::move(found), excluded);
  if (truth.count == 0) return 1.0;
  // Relative slack for the last bits of float summation order.
  const float limit = truth.threshold + 1e-5f * std::abs(truth.threshold) + 1e-6f;
  size_t hits = 0;
  for (const engine::SearchResult& r : results) hits += r.distance <= limit ? 1 : 0;
  return static_cast<double>(std::min(hits, truth.count)) / static_cast<double>(truth.count);
}

// Up to `count` distinct live items, drawn at random.
std::vector<engine::Item> DrawItems(const engine::HnswIndex& engine, size_t count, uint64_t& rng) {
  std::vector<engine::Item> items;
  const size_t slots = engine.slot_count();
  if (slots == 0) return items;
  std::unordered_set<uint32_t> taken;
  // Free slots are rare (consolidation reuses them), so few draws miss.
  for (size_t tries = 0; items.size() < count && tries < count * 20 + 64; ++tries) {
    const auto slot = static_cast<uint32_t>(NextRandom(rng) % slots);
    if (!taken.insert(slot).second) continue;
    if (auto item = engine.GetAt(slot)) items.push_back(std::move(*item));
  }
  return items;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

}  // namespace

// ---------------------------------------------------------------------------
// RecallTracker

void RecallTracker::OfferQuery(std::span<const float> vector, size_t ef, double sample_rate) {
  if (sample_rate <= 0) return;
  thread_local uint64_t coin = 0x2545f4914f6cdd1dull ^ reinterpret_cast<uintptr_t>(&coin);
  const double u = static_cast<double>(NextRandom(coin) >> 11) * 0x1.0p-53;
  if (u >= sample_rate) return;
  std::lock_guard lock(mutex_);
  if (pending_.size() >= kMaxPending) return;
  pending_.push_back({std::vector<float>(vector.begin(), vector.end()), ef});
}

std::optional<SampledQuery> RecallTracker::TakeQuery() {
  std::lock_guard lock(mutex_);
  if (pending_.empty()) return std::nullopt;
  SampledQuery query = std::move(pending_.front());
  pending_.pop_front();
  return query;
}

void RecallTracker::Record(double served, std::span<const double> curve, bool from_query) {
  std::lock_guard lock(mutex_);
  ++total_samples_;
  served_.push_back(served);
  from_query_.push_back(from_query);
  if (served_.size() > kWindow) {
    served_.pop_front();
    from_query_.pop_front();
  }
  curve_.resize(std::size(kRecallCurveEfs));
  for (size_t i = 0; i < curve.size() && i < curve_.size(); ++i) {
    curve_[i].push_back(curve[i]);
    if (curve_[i].size() > kWindow) curve_[i].pop_front();
  }
}

RecallEstimate RecallTracker::Estimate() const {
  std::lock_guard lock(mutex_);
  RecallEstimate out;
  out.samples = served_.size();
  out.total_samples = total_samples_;
  out.samples_from_queries =
      static_cast<size_t>(std::count(from_query_.begin(), from_query_.end(), true));
  if (!served_.empty()) {
    MeanAndInterval m = Summarise(served_);
    out.recall_at_10 = m.mean;
    out.ci95 = m.ci95;
  }
  for (size_t i = 0; i < curve_.size(); ++i) {
    if (curve_[i].empty()) continue;
    MeanAndInterval m = Summarise(curve_[i]);
    out.curve.push_back({kRecallCurveEfs[i], m.mean, curve_[i].size(), m.ci95});
  }
  return out;
}

void RecallTracker::SetLastCheck(RecallCheckReport report) {
  std::lock_guard lock(mutex_);
  last_check_ = std::move(report);
}

std::optional<RecallCheckReport> RecallTracker::LastCheck() const {
  std::lock_guard lock(mutex_);
  return last_check_;
}

// ---------------------------------------------------------------------------
// RecallMonitor

RecallMonitor::RecallMonitor(const Registry& registry, RecallMonitorOptions options)
    : registry_(registry), options_(options) {}

RecallMonitor::~RecallMonitor() { Stop(); }

void RecallMonitor::Start() {
  if (options_.cpu_budget <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void RecallMonitor::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RecallMonitor::RunOnce(Index& index, uint64_t seed, double* cpu_seconds) {
  const double cpu_start = ThreadCpuSeconds();
  const engine::HnswIndex& engine = index.engine();
  if (engine.size() <= kRecallK) return false;

  std::vector<float> query;
  std::string excluded_id;
  size_t served_ef = 0;
  bool from_query = false;
  if (std::optional<SampledQuery> sampled = index.recall().TakeQuery()) {
    query = std::move(sampled->vector);
    served_ef = sampled->ef;
    from_query = true;
  } else {
    uint64_t rng = seed;
    std::vector<engine::Item> drawn = DrawItems(engine, 1, rng);
    if (drawn.empty()) return false;
    query = std::move(drawn.front().vector);
    excluded_id = std::move(drawn.front().id);
  }
  const std::string* excluded = from_query ? nullptr : &excluded_id;

  auto truth = ExactTruth(engine, query, excluded);
  if (!truth.ok()) return false;  // the index changed dimension? (dropped and recreated)
  auto served = SearchRecall(engine, query, served_ef, excluded, *truth);
  if (!served.ok()) return false;
  std::vector<double> curve;
  for (uint32_t ef : kRecallCurveEfs) {
    auto r = SearchRecall(engine, query, ef, excluded, *truth);
    if (!r.ok()) return false;
    curve.push_back(*r);
  }
  index.recall().Record(*served, curve, from_query);
  if (cpu_seconds != nullptr) *cpu_seconds = ThreadCpuSeconds() - cpu_start;
  return true;
}

void RecallMonitor::Loop() {
  // Exact scans are the least urgent work of the server: the kernel runs
  // this thread only when a core has nothing else to do.
  sched_param param{};
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0) {
    setpriority(PRIO_PROCESS, 0, 19);  // at least the lowest nice level
  }
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  size_t next = 0;
  while (true) {
    double cpu = 0;
    bool measured = false;
    std::vector<std::shared_ptr<Index>> indexes = registry_.All();
    // Round robin: every index gets samples, whatever its traffic.
    for (size_t i = 0; i < indexes.size() && !measured; ++i) {
      Index& index = *indexes[(next + i) % indexes.size()];
      if (index.dropped()) continue;
      // An exact scan allocates; when memory is short it is simply skipped.
      try {
        measured = RunOnce(index, NextRandom(seed), &cpu);
      } catch (const std::bad_alloc&) {
        measured = false;
      }
      if (measured) next = (next + i + 1) % indexes.size();
    }
    // Not held while sleeping: an index only the registry holds may be
    // unloaded.
    indexes.clear();
    // Sleep so that the work stays within the budget's share of a core.
    const auto pause =
        measured
            ? std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(
                  cpu * (1.0 - options_.cpu_budget) / options_.cpu_budget))
            : options_.idle_poll;
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, std::max(pause, std::chrono::milliseconds(1)),
                       [&] { return stopping_; })) {
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// The explicit check

Result<RecallCheckReport> MeasureRecall(const Index& index, std::span<const uint32_t> efs,
                                        size_t queries, uint64_t seed) {
  const engine::HnswIndex& engine = index.engine();
  if (engine.size() <= kRecallK) {
    return Status::InvalidArgument("the index needs at least " + std::to_string(kRecallK + 1) +
                                   " items to measure recall@10 (it has " +
                                   std::to_string(engine.size()) + ")");
  }
  uint64_t rng = seed;
  std::vector<engine::Item> drawn = DrawItems(engine, queries, rng);
  std::vector<Truth> truths;
  truths.reserve(drawn.size());
  for (const engine::Item& item : drawn) {
    VECTORD_ASSIGN_OR_RETURN(Truth truth, ExactTruth(engine, item.vector, &item.id));
    truths.push_back(truth);
  }
  RecallCheckReport report;
  report.queries = drawn.size();
  report.measured_at = std::chrono::system_clock::now();
  for (uint32_t ef : efs) {
    double recall_sum = 0;
    std::vector<double> millis;
    millis.reserve(drawn.size());
    for (size_t q = 0; q < drawn.size(); ++q) {
      const auto start = std::chrono::steady_clock::now();
      auto recall = SearchRecall(engine, drawn[q].vector, ef, &drawn[q].id, truths[q]);
      millis.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      VECTORD_ASSIGN_OR_RETURN(const double recalled, std::move(recall));
      recall_sum += recalled;
    }
    const double n = static_cast<double>(std::max<size_t>(drawn.size(), 1));
    report.results.push_back(
        {ef, recall_sum / n, Percentile(millis, 0.50), Percentile(millis, 0.99)});
  }
  index.recall().SetLastCheck(report);
  return report;
}

}  // namespace vectord::service
