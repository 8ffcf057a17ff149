#include "engine/hnsw_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <thread>
#include <unordered_map>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vectord::engine {
namespace {

constexpr uint64_t kNoEntry = ~uint64_t{0};
constexpr int kMaxLevel = 30;

uint64_t PackEntry(int level, uint32_t slot) { return (static_cast<uint64_t>(level) << 32) | slot; }
int EntryLevel(uint64_t entry) { return static_cast<int>(entry >> 32); }
uint32_t EntrySlot(uint64_t entry) { return static_cast<uint32_t>(entry); }

constexpr uint8_t StateValue(SlotState s) { return static_cast<uint8_t>(s); }

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

inline void PrefetchVector(const float* p) {
#if defined(__x86_64__)
  const char* c = reinterpret_cast<const char*>(p);
  _mm_prefetch(c, _MM_HINT_T0);
  _mm_prefetch(c + 64, _MM_HINT_T0);
  _mm_prefetch(c + 128, _MM_HINT_T0);
  _mm_prefetch(c + 192, _MM_HINT_T0);
#else
  (void)p;
#endif
}

inline void PrefetchWhole(const float* p, size_t floats) {
#if defined(__x86_64__)
  const char* c = reinterpret_cast<const char*>(p);
  for (size_t off = 0; off < floats * sizeof(float); off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
#else
  (void)p;
  (void)floats;
#endif
}

struct ByDistance {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.distance < b.distance;
  }
};
struct ByDistanceReversed {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.distance > b.distance;
  }
};

}  // namespace

// ---------------------------------------------------------------------------
// Validation

Status ValidateOptions(const IndexOptions& o) {
  if (o.dimension < 1 || o.dimension > kMaxDimension) {
    return Status::InvalidArgument("dimension must be between 1 and " +
                                   std::to_string(kMaxDimension) + ", got " +
                                   std::to_string(o.dimension));
  }
  if (o.m < kMinM || o.m > kMaxM) {
    return Status::InvalidArgument("m must be between " + std::to_string(kMinM) + " and " +
                                   std::to_string(kMaxM) + ", got " + std::to_string(o.m));
  }
  if (o.ef_construction < 1 || o.ef_construction > kMaxEf) {
    return Status::InvalidArgument("ef_construction must be between 1 and " +
                                   std::to_string(kMaxEf) + ", got " +
                                   std::to_string(o.ef_construction));
  }
  if (o.ef_search < 1 || o.ef_search > kMaxEf) {
    return Status::InvalidArgument("ef_search must be between 1 and " + std::to_string(kMaxEf) +
                                   ", got " + std::to_string(o.ef_search));
  }
  if (o.metric != Metric::kCosine && o.metric != Metric::kEuclidean && o.metric != Metric::kDot) {
    return Status::InvalidArgument("unknown metric");
  }
  if (o.quantization != Quantization::kNone && o.quantization != Quantization::kSq8) {
    return Status::InvalidArgument("unknown quantization");
  }
  return Status::Ok();
}

Status ValidateVector(std::span<const float> vector, Metric metric) {
  bool all_zero = true;
  for (size_t i = 0; i < vector.size(); ++i) {
    float v = vector[i];
    if (std::isnan(v)) return Status::InvalidArgument("vector[" + std::to_string(i) + "] is NaN");
    if (std::isinf(v)) {
      return Status::InvalidArgument("vector[" + std::to_string(i) + "] is infinite");
    }
    all_zero = all_zero && v == 0.0f;
  }
  if (metric == Metric::kCosine && all_zero) {
    return Status::InvalidArgument("zero vector has no direction for cosine distance");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Storage

namespace {
std::byte* MapZeroed(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
  // Searches jump between rows at random: with 4 KiB pages nearly every
  // vector they read is also a TLB miss. Best effort (THP may be off); the
  // cost is at most one partly used 2 MiB page at the end of the newest chunk.
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return static_cast<std::byte*>(p);
}
}  // namespace

HnswIndex::Chunk::Chunk(size_t slot_count, size_t row_bytes, size_t code_row_bytes)
    : slots(slot_count),
      rows_bytes(slot_count * row_bytes),
      rows(nullptr),
      codes_bytes(slot_count * code_row_bytes),
      codes(nullptr),
      nodes(new Node[slot_count]),
      upper_links(new std::unique_ptr<uint32_t[]>[slot_count]),
      ids(new std::string[slot_count]),
      payloads(new std::string[slot_count]) {
  // Anonymous pages are zero-filled and take memory only when first touched,
  // so the unused tail of the newest chunk costs address space, not RAM.
  rows = MapZeroed(rows_bytes);
  try {
    codes = MapZeroed(codes_bytes);
  } catch (const std::bad_alloc&) {
    munmap(rows, rows_bytes);
    throw;
  }
}

HnswIndex::Chunk::~Chunk() {
  munmap(rows, rows_bytes);
  if (codes != nullptr) munmap(codes, codes_bytes);
}

struct HnswIndex::Scratch {
  std::vector<uint16_t> visited;
  uint16_t epoch = 0;
  std::vector<Candidate> candidates;  // min-heap on distance
  std::vector<Candidate> results;     // max-heap on distance, at most ef
  std::vector<Candidate> selection;
  std::vector<Candidate> prune;
  std::vector<std::vector<Candidate>> per_level;  // an insert's chosen neighbours
  std::vector<uint32_t> links;
  std::vector<uint32_t> more_links;
  std::vector<float> query;
  QueryCode query_code;
  std::vector<int16_t> grid_query;

  void BeginVisit(size_t slots) {
    if (visited.size() < slots) {
      visited.assign(std::max(slots, visited.size() * 2), 0);
      epoch = 0;
    }
    if (++epoch == 0) {
      std::fill(visited.begin(), visited.end(), 0);
      epoch = 1;
    }
  }
  // Marks slot visited; false when it already was (or lies beyond the
  // snapshot this search started with, i.e. was inserted meanwhile).
  bool Visit(uint32_t slot) {
    if (slot >= visited.size() || visited[slot] == epoch) return false;
    visited[slot] = epoch;
    return true;
  }
};

// Borrows a Scratch from the index's pool for the life of one operation.
class HnswIndex::ScratchLease {
 public:
  explicit ScratchLease(const HnswIndex& index) : index_(index) {
    {
      std::lock_guard lock(index_.scratch_mutex_);
      if (!index_.scratch_pool_.empty()) {
        scratch_ = std::move(index_.scratch_pool_.back());
        index_.scratch_pool_.pop_back();
      }
    }
    if (!scratch_) {
      scratch_ = std::make_unique<Scratch>();
      scratch_->links.resize(index_.level0_capacity_ + 1);
      scratch_->more_links.resize(index_.level0_capacity_ + 1);
      scratch_->query.resize(index_.vector_floats_);
    }
  }
  ~ScratchLease() {
    std::lock_guard lock(index_.scratch_mutex_);
    index_.scratch_pool_.push_back(std::move(scratch_));
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;

  Scratch& operator*() { return *scratch_; }

 private:
  const HnswIndex& index_;
  std::unique_ptr<Scratch> scratch_;
};

HnswIndex::HnswIndex(const IndexOptions& options)
    : options_(options),
      level0_capacity_(2 * options.m),
      upper_capacity_(options.m),
      vector_floats_((options.dimension + 15) / 16 * 16),
      row_bytes_(((vector_floats_ * sizeof(float) + (1 + 2 * options.m) * sizeof(uint32_t)) + 63) /
                 64 * 64),
      code_row_bytes_(
          options.quantization == Quantization::kSq8
              ? (vector_floats_ + sizeof(float) + (1 + 2 * options.m) * sizeof(uint32_t) + 63) /
                    64 * 64
              : 0),
      level_multiplier_(1.0 / std::log(static_cast<double>(options.m))),
      rng_state_(options.seed) {
  entry_.store(kNoEntry, std::memory_order_relaxed);
  const KernelSet& k = ActiveKernels();
  code_kernel_ = k.code_dot;
  grid_kernel_ = k.code_l2_squared_bounded;
  if (options.metric == Metric::kEuclidean) {
    kernel_ = k.l2_squared;
    bounded_kernel_ = k.l2_squared_bounded;
    sign_ = 1.0f;
  } else {
    kernel_ = k.inner_product;
    sign_ = -1.0f;
  }
}

HnswIndex::~HnswIndex() {
  for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Create(const IndexOptions& options) {
  VECTORD_RETURN_IF_ERROR(ValidateOptions(options));
  return std::unique_ptr<HnswIndex>(new HnswIndex(options));
}

Status HnswIndex::EnsureCapacity(uint32_t slots) {
  if (slots > kMaxSlots) return Status::NoSpace("index is full");
  uint64_t capacity = 0;
  for (int c = 0; c < kChunkCount; ++c) {
    uint64_t chunk_slots = uint64_t{1} << (c + kFirstChunkShift);
    if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
      if (capacity >= slots) break;
      try {
        chunks_[c].store(new Chunk(chunk_slots, row_bytes_, code_row_bytes_),
                         std::memory_order_release);
      } catch (const std::bad_alloc&) {
        return Status::NoSpace("out of memory growing the index to " + std::to_string(slots) +
                               " slots");
      }
    }
    capacity += chunk_slots;
  }
  return Status::Ok();
}

float* HnswIndex::VectorOf(uint32_t slot) const {
  Location loc = Locate(slot);
  return reinterpret_cast<float*>(loc.chunk->rows + loc.offset * row_bytes_);
}

uint32_t* HnswIndex::Level0LinksOf(uint32_t slot) const {
  if (code_row_bytes_ != 0) {
    return reinterpret_cast<uint32_t*>(CodesOf(slot) + vector_floats_ + sizeof(float));
  }
  return reinterpret_cast<uint32_t*>(reinterpret_cast<std::byte*>(VectorOf(slot)) +
                                     vector_floats_ * sizeof(float));
}

uint32_t* HnswIndex::LinksOf(uint32_t slot, int level) const {
  if (level == 0) return Level0LinksOf(slot);
  Location loc = Locate(slot);
  return loc.chunk->upper_links[loc.offset].get() + (level - 1) * (upper_capacity_ + 1);
}

uint8_t* HnswIndex::CodesOf(uint32_t slot) const {
  Location loc = Locate(slot);
  return reinterpret_cast<uint8_t*>(loc.chunk->codes + loc.offset * code_row_bytes_);
}

void HnswIndex::PrefetchNode(uint32_t slot) const {
#if defined(__x86_64__)
  Location loc = Locate(slot);
  _mm_prefetch(reinterpret_cast<const char*>(&loc.chunk->nodes[loc.offset]), _MM_HINT_T0);
#else
  (void)slot;
#endif
}

uint8_t HnswIndex::LevelOf(uint32_t slot) const {
  Location loc = Locate(slot);
  return loc.chunk->nodes[loc.offset].level;
}

uint8_t HnswIndex::StateOf(uint32_t slot) const {
  Location loc = Locate(slot);
  return loc.chunk->nodes[loc.offset].state.load(std::memory_order_acquire);
}

void HnswIndex::SetState(uint32_t slot, uint8_t state) {
  Location loc = Locate(slot);
  loc.chunk->nodes[loc.offset].state.store(state, std::memory_order_release);
}

void HnswIndex::LockNode(uint32_t slot) const {
  Location loc = Locate(slot);
  std::atomic<uint8_t>& lock = loc.chunk->nodes[loc.offset].lock;
  while (lock.exchange(1, std::memory_order_acquire) != 0) {
    // Held for microseconds, unless its holder lost its core (writers may
    // run at a lower priority than searches): then give the core up rather
    // than spin through the holder's wait.
    for (int spins = 0; lock.load(std::memory_order_relaxed) != 0; ++spins) {
      if (spins < 1024) {
        CpuRelax();
      } else {
        std::this_thread::yield();
      }
    }
  }
}

void HnswIndex::UnlockNode(uint32_t slot) const {
  Location loc = Locate(slot);
  loc.chunk->nodes[loc.offset].lock.store(0, std::memory_order_release);
}

uint32_t HnswIndex::CopyLinks(uint32_t slot, int level, uint32_t* out) const {
  LockNode(slot);
  const uint32_t* links = LinksOf(slot, level);
  uint32_t count = links[0];
  std::copy_n(links + 1, count, out);
  UnlockNode(slot);
  return count;
}

float HnswIndex::ReportedDistance(float internal) const {
  switch (options_.metric) {
    case Metric::kEuclidean: return std::sqrt(std::max(0.0f, internal));
    case Metric::kCosine: return 1.0f + internal;
    case Metric::kDot: return internal;
  }
  return internal;
}

void HnswIndex::PrepareVector(std::span<const float> input, float* out, float* norm) const {
  if (options_.metric != Metric::kCosine) {
    std::copy(input.begin(), input.end(), out);
    *norm = 1.0f;
    return;
  }
  double sum = 0;
  for (float v : input) sum += static_cast<double>(v) * v;
  double length = std::sqrt(sum);
  for (size_t i = 0; i < input.size(); ++i) out[i] = static_cast<float>(input[i] / length);
  *norm = static_cast<float>(length);
}

std::vector<float> HnswIndex::OriginalVector(uint32_t slot) const {
  const float* v = VectorOf(slot);
  std::vector<float> out(v, v + options_.dimension);
  if (options_.metric == Metric::kCosine) {
    Location loc = Locate(slot);
    float norm = loc.chunk->nodes[loc.offset].norm;
    for (float& x : out) x *= norm;
  }
  return out;
}

int HnswIndex::RandomLevel() {
  // splitmix64: small, fast, and fully determined by the seed.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  double u = (static_cast<double>(z >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  int level = static_cast<int>(-std::log(u) * level_multiplier_);
  return std::min(level, kMaxLevel);
}

// ---------------------------------------------------------------------------
// Graph search

// Distances from a prepared float query (normalised for cosine) to slots.
struct HnswIndex::FloatSpace {
  const HnswIndex& index;
  const float* query;

  float Distance(uint32_t slot) const { return index.Distance(query, index.VectorOf(slot)); }
  // Exact below `bound`; otherwise some value >= `bound`. Only squared
  // Euclidean distances grow monotonically over the dimensions, so the other
  // metrics compute the whole distance.
  float DistanceBelow(uint32_t slot, float bound) const {
    if (index.bounded_kernel_ == nullptr) return Distance(slot);
    return index.bounded_kernel_(query, index.VectorOf(slot), index.options_.dimension, bound);
  }
  void PrefetchStart(uint32_t slot) const { PrefetchVector(index.VectorOf(slot)); }
  // The kernels fetch each next block themselves, so only the first is
  // asked for here: most candidates are rejected after a block or a few.
  void PrefetchAll(uint32_t slot) const {
    PrefetchWhole(index.VectorOf(slot),
                  std::min<size_t>(index.options_.dimension, kernels::kBoundCheckFloats));
  }
};

// Approximate distances from a query to slots' SQ8 codes, on the same scale
// as the float distances (squared Euclidean or minus the inner product).
struct HnswIndex::CodeSpace {
  const HnswIndex& index;
  const QueryCode& query;

  float Distance(uint32_t slot) const {
    const uint8_t* codes = index.CodesOf(slot);
    const float dot = index.quantizer_->InnerProduct(query, codes, index.code_kernel_);
    if (index.sign_ < 0) return -dot;
    float code_norm;
    std::memcpy(&code_norm, codes + index.vector_floats_, sizeof code_norm);
    return query.squared_norm + code_norm - 2 * dot;
  }
  float DistanceBelow(uint32_t slot, float) const { return Distance(slot); }
  void PrefetchStart(uint32_t slot) const {
    PrefetchVector(reinterpret_cast<const float*>(index.CodesOf(slot)));
  }
  void PrefetchAll(uint32_t slot) const {
    PrefetchWhole(reinterpret_cast<const float*>(index.CodesOf(slot)),
                  index.code_row_bytes_ / sizeof(float));
  }
};

// Exact squared Euclidean distances from a query on the quantiser's unit
// grid to exact codes, computed in integers.
struct HnswIndex::GridSpace {
  const HnswIndex& index;
  const int16_t* query;

  float Distance(uint32_t slot) const {
    return static_cast<float>(index.grid_kernel_(index.CodesOf(slot), query, index.vector_floats_,
                                                 std::numeric_limits<int32_t>::max()));
  }
  float DistanceBelow(uint32_t slot, float bound) const {
    // Distances are integers: d < bound exactly when d < ceil(bound).
    const int32_t limit = bound >= 2147483520.0f ? std::numeric_limits<int32_t>::max()
                                                 : static_cast<int32_t>(std::ceil(bound));
    return static_cast<float>(
        index.grid_kernel_(index.CodesOf(slot), query, index.vector_floats_, limit));
  }
  void PrefetchStart(uint32_t slot) const {
    PrefetchVector(reinterpret_cast<const float*>(index.CodesOf(slot)));
  }
  // Whole rows: the walk reads most of a row before it can reject (measured:
  // fetching block by block as the float kernels do was slower).
  void PrefetchAll(uint32_t slot) const {
    PrefetchWhole(reinterpret_cast<const float*>(index.CodesOf(slot)),
                  index.code_row_bytes_ / sizeof(float));
  }
};

template <typename Space>
void HnswIndex::GreedyDescend(const Space& space, int from_level, int to_level, uint32_t* current,
                              float* current_distance, Scratch& s) const {
  uint32_t* links = s.links.data();
  for (int level = from_level; level > to_level; --level) {
    bool moved = true;
    while (moved) {
      moved = false;
      uint32_t count = CopyLinks(*current, level, links);
      for (uint32_t i = 0; i < count; ++i) {
        float d = space.Distance(links[i]);
        if (d < *current_distance) {
          *current_distance = d;
          *current = links[i];
          moved = true;
        }
      }
    }
  }
}

template <bool kForSearch, typename Space>
void HnswIndex::SearchLayer(const Space& space, uint32_t entry, float entry_distance, size_t ef,
                            int level, const SlotBitset* filter, Scratch& s) const {
  auto accept = [&](uint32_t slot) {
    if constexpr (!kForSearch) return true;
    return StateOf(slot) == StateValue(SlotState::kLive) &&
           (filter == nullptr || filter->Test(slot));
  };
  s.BeginVisit(slot_count());
  s.candidates.clear();
  s.results.clear();
  s.Visit(entry);
  s.candidates.push_back({entry_distance, entry});
  if (accept(entry)) s.results.push_back({entry_distance, entry});
  float bound = s.results.empty() ? std::numeric_limits<float>::infinity() : entry_distance;

  while (!s.candidates.empty()) {
    Candidate current = s.candidates.front();
    if (current.distance > bound && s.results.size() >= ef) break;
    std::pop_heap(s.candidates.begin(), s.candidates.end(), ByDistanceReversed{});
    s.candidates.pop_back();

    uint32_t count = CopyLinks(current.slot, level, s.links.data());
    // Keep the unvisited neighbours and start fetching their vectors before
    // computing any distance, so the memory loads overlap.
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t n = s.links[i];
      if (!s.Visit(n)) continue;
      s.links[fresh++] = n;
      space.PrefetchStart(n);
      // The state is read for every neighbour that makes the result set.
      if constexpr (kForSearch) PrefetchNode(n);
    }
    for (uint32_t i = 0; i < fresh; ++i) {
      uint32_t n = s.links[i];
      if (i + 1 < fresh) space.PrefetchAll(s.links[i + 1]);
      const bool full = s.results.size() >= ef;
      float d = space.DistanceBelow(n, full ? bound : std::numeric_limits<float>::infinity());
      if (!full || d < bound) {
        s.candidates.push_back({d, n});
        std::push_heap(s.candidates.begin(), s.candidates.end(), ByDistanceReversed{});
        if (accept(n)) {
          s.results.push_back({d, n});
          std::push_heap(s.results.begin(), s.results.end(), ByDistance{});
          if (s.results.size() > ef) {
            std::pop_heap(s.results.begin(), s.results.end(), ByDistance{});
            s.results.pop_back();
          }
          bound = s.results.front().distance;
        }
      }
    }
  }
}

void HnswIndex::SelectNeighbours(std::vector<Candidate>& candidates, size_t max_count,
                                 uint32_t exclude) const {
  // candidates are sorted nearest first. The heuristic keeps a candidate only
  // if it is nearer to the base than to every neighbour kept so far, which
  // spreads the links over directions instead of one dense cluster.
  std::erase_if(candidates, [&](const Candidate& c) { return c.slot == exclude; });
  if (candidates.size() <= max_count) return;
  size_t kept = 0;
  for (size_t i = 0; i < candidates.size() && kept < max_count; ++i) {
    const Candidate c = candidates[i];
    const float* cv = VectorOf(c.slot);
    bool diverse = true;
    for (size_t j = 0; j < kept; ++j) {
      if (Distance(cv, VectorOf(candidates[j].slot)) < c.distance) {
        diverse = false;
        break;
      }
    }
    if (diverse) candidates[kept++] = c;
  }
  candidates.resize(kept);
}

void HnswIndex::LinkBack(uint32_t node, int level, uint32_t new_neighbour, Scratch& s) {
  const uint32_t capacity = level == 0 ? level0_capacity_ : upper_capacity_;
  LockNode(node);
  uint32_t* links = LinksOf(node, level);
  uint32_t count = links[0];
  if (std::find(links + 1, links + 1 + count, new_neighbour) != links + 1 + count) {
    UnlockNode(node);
    return;
  }
  if (count < capacity) {
    links[1 + count] = new_neighbour;
    links[0] = count + 1;
    UnlockNode(node);
    return;
  }
  const float* base = VectorOf(node);
  s.prune.clear();
  s.prune.push_back({Distance(base, VectorOf(new_neighbour)), new_neighbour});
  for (uint32_t i = 0; i < count; ++i) {
    s.prune.push_back({Distance(base, VectorOf(links[1 + i])), links[1 + i]});
  }
  std::sort(s.prune.begin(), s.prune.end(), ByDistance{});
  SelectNeighbours(s.prune, capacity, node);
  for (size_t i = 0; i < s.prune.size(); ++i) links[1 + i] = s.prune[i].slot;
  links[0] = static_cast<uint32_t>(s.prune.size());
  UnlockNode(node);
}

void HnswIndex::SetOwnLinks(uint32_t slot, int level, Scratch& s) {
  const uint32_t capacity = level == 0 ? level0_capacity_ : upper_capacity_;
  LockNode(slot);
  uint32_t* links = LinksOf(slot, level);
  // Threads inserting other nodes of the same batch may already have linked
  // themselves here (they can reach this node through its higher levels):
  // keep their links next to the chosen ones, never overwrite them.
  s.prune.assign(s.selection.begin(), s.selection.end());
  const float* base = VectorOf(slot);
  for (uint32_t i = 0; i < links[0]; ++i) {
    uint32_t other = links[1 + i];
    bool chosen = false;
    for (const Candidate& c : s.selection) chosen = chosen || c.slot == other;
    if (!chosen) s.prune.push_back({Distance(base, VectorOf(other)), other});
  }
  if (s.prune.size() > capacity) {
    std::sort(s.prune.begin(), s.prune.end(), ByDistance{});
    SelectNeighbours(s.prune, capacity, slot);
  }
  for (size_t i = 0; i < s.prune.size(); ++i) links[1 + i] = s.prune[i].slot;
  links[0] = static_cast<uint32_t>(s.prune.size());
  UnlockNode(slot);
}

void HnswIndex::InsertNode(uint32_t slot, Scratch& s) {
  const int level = LevelOf(slot);
  const float* vector = VectorOf(slot);

  // A node that will become the new top of the graph is inserted whole under
  // entry_mutex_, so no one enters through it before it has links.
  std::unique_lock top_lock(entry_mutex_, std::defer_lock);
  uint64_t entry = entry_.load(std::memory_order_acquire);
  if (entry == kNoEntry || level > EntryLevel(entry)) {
    top_lock.lock();
    entry = entry_.load(std::memory_order_acquire);
    if (entry != kNoEntry && level <= EntryLevel(entry)) top_lock.unlock();
  }
  if (entry == kNoEntry) {
    entry_.store(PackEntry(level, slot), std::memory_order_release);
    return;
  }

  const int max_level = EntryLevel(entry);
  uint32_t current = EntrySlot(entry);
  const FloatSpace space{*this, vector};
  float current_distance = space.Distance(current);
  GreedyDescend(space, max_level, level, &current, &current_distance, s);

  // Choose the neighbours on every level first, top down, while no one can
  // reach this node; then write its own links on every level; only then link
  // it into its neighbours, bottom up. A concurrent search or insert that
  // reaches the node therefore always finds it fully linked below, never a
  // dead end with an empty list.
  const int top = std::min(level, max_level);
  s.per_level.resize(static_cast<size_t>(top) + 1);
  for (int l = top; l >= 0; --l) {
    SearchLayer<false>(space, current, current_distance, options_.ef_construction, l, nullptr, s);
    std::vector<Candidate>& chosen = s.per_level[static_cast<size_t>(l)];
    chosen.assign(s.results.begin(), s.results.end());
    std::sort(chosen.begin(), chosen.end(), ByDistance{});
    std::erase_if(chosen, [&](const Candidate& c) { return c.slot == slot; });
    if (!chosen.empty()) {
      current = chosen.front().slot;
      current_distance = chosen.front().distance;
    }
    // Tombstones still route searches but are not worth linking to.
    std::erase_if(chosen, [&](const Candidate& c) {
      return StateOf(c.slot) == StateValue(SlotState::kDeleted);
    });
    SelectNeighbours(chosen, upper_capacity_, slot);
  }
  for (int l = 0; l <= top; ++l) {
    s.selection = s.per_level[static_cast<size_t>(l)];
    SetOwnLinks(slot, l, s);
  }
  for (int l = 0; l <= top; ++l) {
    for (const Candidate& c : s.per_level[static_cast<size_t>(l)]) LinkBack(c.slot, l, slot, s);
  }

  if (top_lock.owns_lock()) entry_.store(PackEntry(level, slot), std::memory_order_release);
}

// ---------------------------------------------------------------------------
// Writes

Status HnswIndex::ValidateItems(std::span<const ItemInput> items) const {
  for (size_t j = 0; j < items.size(); ++j) {
    const ItemInput& item = items[j];
    std::string prefix = "items[" + std::to_string(j) + "]: ";
    if (item.id.empty()) return Status::InvalidArgument(prefix + "empty id");
    if (item.vector.size() != options_.dimension) {
      return Status::InvalidArgument(prefix +
                                     "dim mismatch (index=" + std::to_string(options_.dimension) +
                                     ", got=" + std::to_string(item.vector.size()) + ")");
    }
    Status valid = ValidateVector(item.vector, options_.metric);
    if (!valid.ok()) return Status::InvalidArgument(prefix + valid.message());
  }
  return Status::Ok();
}

Status HnswIndex::Upsert(std::span<const ItemInput> items, ThreadPool* pool,
                         std::vector<SlotChange>* changes) {
  VECTORD_RETURN_IF_ERROR(ValidateItems(items));
  std::lock_guard write(write_mutex_);
  if (!tombstones_.empty() && tombstones_.size() * 10 >= slot_count()) {
    // Not while a Save is streaming the slots out: this write would wait
    // for the disk. The next write after it consolidates.
    std::unique_lock snapshot(snapshot_mutex_, std::try_to_lock);
    if (snapshot.owns_lock()) ConsolidateLocked(pool);
  }

  // The last occurrence of an id wins; order of first occurrence is kept.
  std::unordered_map<std::string_view, size_t> last_index;
  std::vector<std::string_view> order;
  last_index.reserve(items.size());
  for (size_t j = 0; j < items.size(); ++j) {
    auto [it, inserted] = last_index.try_emplace(items[j].id, j);
    if (inserted) {
      order.push_back(items[j].id);
    } else {
      it->second = j;
    }
  }
  const size_t n = order.size();
  const size_t reused = std::min(n, free_slots_.size());
  const uint32_t first_new = slot_count();
  if (first_new + (n - reused) > kMaxSlots) return Status::NoSpace("index is full");
  VECTORD_RETURN_IF_ERROR(EnsureCapacity(static_cast<uint32_t>(first_new + (n - reused))));

  std::vector<uint32_t> slots(n);
  std::vector<size_t> source(n);
  uint32_t next_new = first_new;
  for (size_t i = 0; i < n; ++i) {
    source[i] = last_index[order[i]];
    uint32_t slot;
    if (i < reused) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = next_new++;
    }
    slots[i] = slot;
    const ItemInput& item = items[source[i]];
    Location loc = Locate(slot);
    Chunk::Node& node = loc.chunk->nodes[loc.offset];
    const HeapTotals heap_before = SlotHeapOf(slot);
    int level = RandomLevel();
    node.level = static_cast<uint8_t>(level);
    node.has_payload = item.payload.has_value();
    if (level > 0) {
      auto links = std::make_unique<uint32_t[]>(static_cast<size_t>(level) * (upper_capacity_ + 1));
      loc.chunk->upper_links[loc.offset] = std::move(links);
    }
    loc.chunk->ids[loc.offset].assign(item.id);
    if (item.payload) loc.chunk->payloads[loc.offset].assign(*item.payload);
    AdjustHeapBytes(heap_before, SlotHeapOf(slot));
    node.state.store(StateValue(SlotState::kPending), std::memory_order_release);
  }
  slot_count_.store(next_new, std::memory_order_release);

  auto insert_one = [&](size_t i) {
    uint32_t slot = slots[i];
    Location loc = Locate(slot);
    PrepareVector(items[source[i]].vector, VectorOf(slot), &loc.chunk->nodes[loc.offset].norm);
    // Codes first: the node becomes reachable (and walked on codes) inside InsertNode.
    if (codes_ready_.load(std::memory_order_relaxed)) EncodeSlot(slot);
    ScratchLease lease(*this);
    InsertNode(slot, *lease);
  };
  if (pool != nullptr) {
    pool->ParallelFor(n, insert_one);
  } else {
    for (size_t i = 0; i < n; ++i) insert_one(i);
  }

  // Publish: the old version of an id disappears before the new one appears,
  // so a concurrent search never returns both.
  if (changes != nullptr) changes->clear();
  std::unique_lock ids(ids_mutex_);
  size_t added = 0;
  for (size_t i = 0; i < n; ++i) {
    SlotChange change{slots[i], std::nullopt};
    const std::optional<uint32_t> old =
        slot_by_id_.Assign(order[i], slots[i], [this](uint32_t slot) { return IdAt(slot); });
    if (old) {
      change.replaced_slot = *old;
      SetState(*old, StateValue(SlotState::kDeleted));
      tombstones_.push_back(*old);
    } else {
      ++added;
    }
    SetState(slots[i], StateValue(SlotState::kLive));
    if (changes != nullptr) changes->push_back(change);
  }
  live_count_.fetch_add(added, std::memory_order_acq_rel);
  tombstone_count_.store(tombstones_.size(), std::memory_order_release);
  ids.unlock();
  if (quantizer_ == nullptr && options_.quantization == Quantization::kSq8 &&
      size() >= kQuantizerTrainingItems) {
    TrainQuantizer();
  }
  return Status::Ok();
}

void HnswIndex::TrainQuantizer() {
  // Ranges over every vector in the graph, tombstones included: searches
  // walk through those too.
  const uint32_t count = slot_count();
  const size_t dim = options_.dimension;
  std::vector<float> lower(dim, std::numeric_limits<float>::infinity());
  std::vector<float> upper(dim, -std::numeric_limits<float>::infinity());
  bool integers = true;
  std::vector<double> sum(dim, 0), sum_of_squares(dim, 0);
  auto in_graph = [&](uint32_t slot) { return StateOf(slot) != StateValue(SlotState::kFree); };
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (!in_graph(slot)) continue;
    const float* v = VectorOf(slot);
    for (size_t i = 0; i < dim; ++i) {
      lower[i] = std::min(lower[i], v[i]);
      upper[i] = std::max(upper[i], v[i]);
      integers = integers && v[i] == std::nearbyint(v[i]);
      sum[i] += v[i];
      sum_of_squares[i] += double{v[i]} * v[i];
    }
  }
  for (size_t i = 0; i < dim; ++i) {
    if (lower[i] > upper[i]) lower[i] = upper[i] = 0;  // empty graph
  }
  // Widest spread first (n * variance; the count is the same for all).
  std::vector<double> spread(dim);
  for (size_t i = 0; i < dim; ++i) {
    spread[i] = sum_of_squares[i] - sum[i] * sum[i] / std::max<double>(count, 1);
  }
  std::vector<uint32_t> order(dim);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return spread[a] > spread[b]; });
  if (integers) ScalarQuantizer::WidenToUnitGrid(&lower, &upper);
  quantizer_ = std::make_unique<ScalarQuantizer>(lower, upper, vector_floats_, std::move(order));
  codes_exact_.store(quantizer_->unit_grid(), std::memory_order_relaxed);
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (in_graph(slot)) EncodeSlot(slot);
  }
  codes_ready_.store(true, std::memory_order_release);
}

void HnswIndex::EncodeSlot(uint32_t slot) {
  uint8_t* codes = CodesOf(slot);
  const Encoding encoding = quantizer_->Encode(VectorOf(slot), codes);
  // Before the node is linked or goes live (see codes_exact_).
  if (!encoding.exact) codes_exact_.store(false);
  std::memcpy(codes + vector_floats_, &encoding.squared_norm, sizeof encoding.squared_norm);
}

void HnswIndex::RerankOnFloats(const float* query, Scratch& s) const {
  for (const Candidate& c : s.results) PrefetchVector(VectorOf(c.slot));
  for (size_t i = 0; i < s.results.size(); ++i) {
    if (i + 1 < s.results.size()) {
      PrefetchWhole(VectorOf(s.results[i + 1].slot), options_.dimension);
    }
    s.results[i].distance = Distance(query, VectorOf(s.results[i].slot));
  }
}

std::vector<uint32_t> HnswIndex::Remove(std::span<const std::string_view> ids) {
  std::vector<uint32_t> removed;
  std::lock_guard write(write_mutex_);
  std::unique_lock lock(ids_mutex_);
  for (std::string_view id : ids) {
    const std::optional<uint32_t> slot =
        slot_by_id_.Erase(id, [this](uint32_t s) { return IdAt(s); });
    if (!slot) continue;
    SetState(*slot, StateValue(SlotState::kDeleted));
    tombstones_.push_back(*slot);
    removed.push_back(*slot);
  }
  live_count_.fetch_sub(removed.size(), std::memory_order_acq_rel);
  tombstone_count_.store(tombstones_.size(), std::memory_order_release);
  return removed;
}

void HnswIndex::Consolidate(ThreadPool* pool) {
  // Both locks, without holding the write lock while a Save finishes.
  std::scoped_lock locks(write_mutex_, snapshot_mutex_);
  ConsolidateLocked(pool);
}

void HnswIndex::RepairNode(uint32_t node, Scratch& s) {
  auto is_deleted = [&](uint32_t slot) { return StateOf(slot) == StateValue(SlotState::kDeleted); };
  const int level = LevelOf(node);
  const float* base = VectorOf(node);
  for (int l = 0; l <= level; ++l) {
    uint32_t count = CopyLinks(node, l, s.links.data());
    bool touched = false;
    for (uint32_t i = 0; i < count && !touched; ++i) touched = is_deleted(s.links[i]);
    if (!touched) continue;

    // Replace each deleted neighbour by its own neighbours (two hops through
    // tombstones at most), then let the heuristic choose among them all.
    std::vector<uint32_t> pool;
    std::vector<uint32_t> through;
    for (uint32_t i = 0; i < count; ++i) {
      (is_deleted(s.links[i]) ? through : pool).push_back(s.links[i]);
    }
    for (int hop = 0; hop < 2 && !through.empty(); ++hop) {
      std::vector<uint32_t> next;
      for (uint32_t d : through) {
        uint32_t m = CopyLinks(d, l, s.more_links.data());
        for (uint32_t i = 0; i < m; ++i) {
          uint32_t x = s.more_links[i];
          if (x == node) continue;
          (is_deleted(x) ? next : pool).push_back(x);
        }
      }
      through.swap(next);
    }
    std::sort(pool.begin(), pool.end());
    pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
    s.prune.clear();
    for (uint32_t x : pool) s.prune.push_back({Distance(base, VectorOf(x)), x});
    std::sort(s.prune.begin(), s.prune.end(), ByDistance{});
    SelectNeighbours(s.prune, l == 0 ? level0_capacity_ : upper_capacity_, node);

    LockNode(node);
    uint32_t* links = LinksOf(node, l);
    for (size_t i = 0; i < s.prune.size(); ++i) links[1 + i] = s.prune[i].slot;
    links[0] = static_cast<uint32_t>(s.prune.size());
    UnlockNode(node);
  }
}

void HnswIndex::ConsolidateLocked(ThreadPool* pool) {
  if (tombstones_.empty()) return;
  const uint32_t count = slot_count();

  // 1. Unlink tombstones from every live node, in parallel blocks of slots.
  constexpr uint32_t kBlock = 1024;
  const size_t blocks = (count + kBlock - 1) / kBlock;
  auto repair_block = [&](size_t b) {
    ScratchLease lease(*this);
    uint32_t end = std::min<uint32_t>(count, static_cast<uint32_t>((b + 1) * kBlock));
    for (uint32_t slot = static_cast<uint32_t>(b * kBlock); slot < end; ++slot) {
      if (StateOf(slot) == StateValue(SlotState::kLive)) RepairNode(slot, *lease);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(blocks, repair_block);
  } else {
    for (size_t b = 0; b < blocks; ++b) repair_block(b);
  }

  // 2. A deleted entry point gives way to the live node with the highest level.
  uint64_t entry = entry_.load(std::memory_order_acquire);
  if (entry != kNoEntry && StateOf(EntrySlot(entry)) != StateValue(SlotState::kLive)) {
    uint64_t best = kNoEntry;
    for (uint32_t slot = 0; slot < count; ++slot) {
      if (StateOf(slot) != StateValue(SlotState::kLive)) continue;
      int level = LevelOf(slot);
      if (best == kNoEntry || level > EntryLevel(best)) best = PackEntry(level, slot);
    }
    entry_.store(best, std::memory_order_release);
  }

  // 3. Whether every item left codes exactly: an index of integer data that
  // was sent one item off its grid walks exact codes again once that item
  // is deleted. No write runs meanwhile (the caller holds the write lock).
  const bool exact_again = codes_ready_.load(std::memory_order_acquire) &&
                           quantizer_->unit_grid() &&
                           !codes_exact_.load(std::memory_order_acquire) && LiveCodesExact();

  // 4. Wait until no reader can still hold a tombstone, then free them.
  std::unique_lock reclaim(reclaim_mutex_);
  for (uint32_t slot : tombstones_) {
    Location loc = Locate(slot);
    Chunk::Node& node = loc.chunk->nodes[loc.offset];
    const HeapTotals heap_before = SlotHeapOf(slot);
    Level0LinksOf(slot)[0] = 0;
    loc.chunk->upper_links[loc.offset].reset();
    loc.chunk->ids[loc.offset].clear();
    loc.chunk->ids[loc.offset].shrink_to_fit();
    loc.chunk->payloads[loc.offset].clear();
    loc.chunk->payloads[loc.offset].shrink_to_fit();
    node.level = 0;
    node.has_payload = 0;
    node.norm = 0;
    AdjustHeapBytes(heap_before, SlotHeapOf(slot));
    node.state.store(StateValue(SlotState::kFree), std::memory_order_release);
  }
  // Reuse low slots first: they sit in the older, denser chunks.
  free_slots_.insert(free_slots_.end(), tombstones_.begin(), tombstones_.end());
  std::sort(free_slots_.begin(), free_slots_.end(), std::greater<>());
  tombstones_.clear();
  tombstone_count_.store(0, std::memory_order_release);
  // Still under the reclaim lock: no search that could have returned an
  // inexact item is running, and the inexact items are now free slots.
  if (exact_again) codes_exact_.store(true, std::memory_order_release);
}

bool HnswIndex::LiveCodesExact() const {
  std::vector<uint8_t> codes(code_row_bytes_);
  const uint32_t count = slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (StateOf(slot) != StateValue(SlotState::kLive)) continue;
    if (!quantizer_->Encode(VectorOf(slot), codes.data()).exact) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Reads

void HnswIndex::FillResult(const Candidate& c, const SearchOptions& options,
                           SearchResult* out) const {
  Location loc = Locate(c.slot);
  out->slot = c.slot;
  out->distance = ReportedDistance(c.distance);
  out->id = loc.chunk->ids[loc.offset];
  if (options.with_payload && loc.chunk->nodes[loc.offset].has_payload) {
    out->payload = loc.chunk->payloads[loc.offset];
  }
  if (options.with_vector) out->vector = OriginalVector(c.slot);
}

std::vector<SearchResult> HnswIndex::ExactSearch(const float* query, size_t k,
                                                 const SlotBitset* filter,
                                                 const SearchOptions& options) const {
  std::vector<Candidate> heap;
  heap.reserve(k + 1);
  const uint32_t count = slot_count();
  auto consider = [&](uint32_t slot) {
    if (slot >= count || StateOf(slot) != StateValue(SlotState::kLive)) return;
    float d = Distance(query, VectorOf(slot));
    if (heap.size() < k || d < heap.front().distance) {
      heap.push_back({d, slot});
      std::push_heap(heap.begin(), heap.end(), ByDistance{});
      if (heap.size() > k) {
        std::pop_heap(heap.begin(), heap.end(), ByDistance{});
        heap.pop_back();
      }
    }
  };
  if (filter != nullptr) {
    filter->ForEach(consider);
  } else {
    for (uint32_t slot = 0; slot < count; ++slot) consider(slot);
  }
  std::sort_heap(heap.begin(), heap.end(), ByDistance{});
  std::vector<SearchResult> out;
  out.reserve(heap.size());
  for (const Candidate& c : heap) {
    if (StateOf(c.slot) != StateValue(SlotState::kLive)) continue;  // see Search
    FillResult(c, options, &out.emplace_back());
  }
  return out;
}

template <typename Space>
void HnswIndex::WalkGraph(const Space& space, uint64_t entry, size_t ef, const SlotBitset* filter,
                          Scratch& s) const {
  uint32_t current = EntrySlot(entry);
  float current_distance = space.Distance(current);
  GreedyDescend(space, EntryLevel(entry), 0, &current, &current_distance, s);
  SearchLayer<true>(space, current, current_distance, ef, 0, filter, s);
}

Result<std::vector<SearchResult>> HnswIndex::Search(std::span<const float> query,
                                                    const SearchOptions& options) const {
  if (query.size() != options_.dimension) {
    return Status::InvalidArgument("dim mismatch (index=" + std::to_string(options_.dimension) +
                                   ", got=" + std::to_string(query.size()) + ")");
  }
  VECTORD_RETURN_IF_ERROR(ValidateVector(query, options_.metric));
  const size_t k = options.k;
  std::vector<SearchResult> out;
  if (k == 0) return out;
  const size_t ef = std::max(options.ef == 0 ? options_.ef_search : options.ef, k);

  std::shared_lock reclaim(reclaim_mutex_);
  ScratchLease lease(*this);
  Scratch& s = *lease;
  float norm;
  PrepareVector(query, s.query.data(), &norm);
  const float* q = s.query.data();

  if (options.exact) return ExactSearch(q, k, options.filter, options);
  if (options.filter != nullptr) {
    // Walking the graph costs about ef * M distances per 1/selectivity; a scan
    // of the passing items costs one distance each. Scan when that is cheaper:
    // it is exact, and graph search degrades when few items pass.
    const double passing = static_cast<double>(options.filter->count());
    if (passing == 0) return out;
    const double graph_cost = static_cast<double>(ef) * options_.m *
                              static_cast<double>(std::max<size_t>(slot_count(), 1)) / passing;
    if (passing <= graph_cost) return ExactSearch(q, k, options.filter, options);
  }

  uint64_t entry = entry_.load(std::memory_order_acquire);
  if (entry == kNoEntry) return out;
  if (codes_ready_.load(std::memory_order_acquire)) {
    if (sign_ > 0 && codes_exact_.load(std::memory_order_acquire) &&
        quantizer_->PrepareGridQuery(q, &s.grid_query)) {
      // Exact distances from the codes: a re-rank would change nothing,
      // unless an inexact row went live during the walk.
      WalkGraph(GridSpace{*this, s.grid_query.data()}, entry, ef, options.filter, s);
      if (!codes_exact_.load(std::memory_order_acquire)) RerankOnFloats(q, s);
    } else {
      // Walk on the codes, then re-rank the ef found on the floats: the walk
      // only has to get the true neighbours into the candidate set.
      quantizer_->PrepareQuery(q, &s.query_code);
      WalkGraph(CodeSpace{*this, s.query_code}, entry, ef, options.filter, s);
      RerankOnFloats(q, s);
    }
  } else {
    WalkGraph(FloatSpace{*this, q}, entry, ef, options.filter, s);
  }

  std::sort(s.results.begin(), s.results.end(), ByDistance{});
  // A result's state was read when it was reached. Reading it again drops an
  // item that a concurrent Upsert replaced since: the old version is marked
  // deleted before the new one goes live, so once we have seen the new one
  // live, this second look sees the old one deleted.
  out.reserve(std::min(k, s.results.size()));
  for (const Candidate& c : s.results) {
    if (out.size() == k) break;
    if (StateOf(c.slot) != StateValue(SlotState::kLive)) continue;
    FillResult(c, options, &out.emplace_back());
  }
  return out;
}

std::string_view HnswIndex::IdAt(uint32_t slot) const {
  Location loc = Locate(slot);
  return loc.chunk->ids[loc.offset];
}

std::optional<uint32_t> HnswIndex::SlotOf(std::string_view id) const {
  std::shared_lock lock(ids_mutex_);
  return slot_by_id_.Find(id, [this](uint32_t slot) { return IdAt(slot); });
}

bool HnswIndex::Contains(std::string_view id) const { return SlotOf(id).has_value(); }

std::optional<Item> HnswIndex::Get(std::string_view id) const {
  std::shared_lock reclaim(reclaim_mutex_);
  std::shared_lock lock(ids_mutex_);
  const std::optional<uint32_t> found =
      slot_by_id_.Find(id, [this](uint32_t s) { return IdAt(s); });
  if (!found) return std::nullopt;
  return ItemAt(*found);
}

std::optional<Item> HnswIndex::GetAt(uint32_t slot) const {
  std::shared_lock reclaim(reclaim_mutex_);
  std::shared_lock lock(ids_mutex_);
  if (slot >= slot_count() || StateOf(slot) != StateValue(SlotState::kLive)) return std::nullopt;
  return ItemAt(slot);
}

Item HnswIndex::ItemAt(uint32_t slot) const {
  Location loc = Locate(slot);
  Item item;
  item.id = loc.chunk->ids[loc.offset];
  item.vector = OriginalVector(slot);
  if (loc.chunk->nodes[loc.offset].has_payload) item.payload = loc.chunk->payloads[loc.offset];
  return item;
}

std::optional<std::string> HnswIndex::PayloadAt(uint32_t slot) const {
  std::shared_lock reclaim(reclaim_mutex_);
  if (slot >= slot_count()) return std::nullopt;
  const uint8_t state = StateOf(slot);
  if (state != StateValue(SlotState::kLive) && state != StateValue(SlotState::kDeleted)) {
    return std::nullopt;
  }
  Location loc = Locate(slot);
  if (!loc.chunk->nodes[loc.offset].has_payload) return std::nullopt;
  return loc.chunk->payloads[loc.offset];
}

size_t HnswIndex::tombstone_count() const {
  return tombstone_count_.load(std::memory_order_acquire);
}

HnswIndex::HeapTotals HnswIndex::SlotHeapOf(uint32_t slot) const {
  Location loc = Locate(slot);
  HeapTotals heap;
  heap.upper_links =
      static_cast<size_t>(loc.chunk->nodes[loc.offset].level) * (upper_capacity_ + 1) * 4;
  heap.ids = StringHeapBytes(loc.chunk->ids[loc.offset]);
  heap.payloads = StringHeapBytes(loc.chunk->payloads[loc.offset]);
  return heap;
}

void HnswIndex::AdjustHeapBytes(const HeapTotals& before, const HeapTotals& after) {
  // Unsigned wrap-around makes a shrink a subtraction.
  heap_bytes_.upper_links.fetch_add(after.upper_links - before.upper_links,
                                    std::memory_order_relaxed);
  heap_bytes_.ids.fetch_add(after.ids - before.ids, std::memory_order_relaxed);
  heap_bytes_.payloads.fetch_add(after.payloads - before.payloads, std::memory_order_relaxed);
}

HnswIndex::HeapTotals HnswIndex::CountHeapBytes() const {
  HeapTotals totals;
  const uint32_t count = slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) {
    const HeapTotals heap = SlotHeapOf(slot);
    totals.upper_links += heap.upper_links;
    totals.ids += heap.ids;
    totals.payloads += heap.payloads;
  }
  return totals;
}

void HnswIndex::StoreHeapBytes(const HeapTotals& totals) {
  heap_bytes_.upper_links.store(totals.upper_links, std::memory_order_relaxed);
  heap_bytes_.ids.store(totals.ids, std::memory_order_relaxed);
  heap_bytes_.payloads.store(totals.payloads, std::memory_order_relaxed);
}

MemoryUsage HnswIndex::UsageWith(const HeapTotals& heap) const {
  MemoryUsage usage;
  const size_t count = slot_count();
  usage.vector_and_link_bytes = count * row_bytes_;
  usage.code_bytes = count * code_row_bytes_;
  usage.node_bytes = count * (sizeof(Chunk::Node) + sizeof(void*));
  usage.upper_link_bytes = heap.upper_links;
  usage.id_bytes = count * sizeof(std::string) + heap.ids;
  usage.payload_bytes = count * sizeof(std::string) + heap.payloads;
  std::shared_lock ids(ids_mutex_);
  usage.id_bytes += slot_by_id_.memory_bytes();
  return usage;
}

MemoryUsage HnswIndex::memory_usage() const {
  HeapTotals heap;
  heap.upper_links = heap_bytes_.upper_links.load(std::memory_order_relaxed);
  heap.ids = heap_bytes_.ids.load(std::memory_order_relaxed);
  heap.payloads = heap_bytes_.payloads.load(std::memory_order_relaxed);
  return UsageWith(heap);
}

MemoryUsage HnswIndex::CountMemoryUsage() const {
  std::lock_guard write(write_mutex_);
  return UsageWith(CountHeapBytes());
}

}  // namespace vectord::engine
