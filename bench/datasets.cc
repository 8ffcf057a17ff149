#include "datasets.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/status.h"
#include "engine/distance.h"
#include "vectorctl/vector_source.h"

namespace vectord::bench {
namespace {

std::vector<uint8_t> ReadGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> out;
  uint8_t buffer[1 << 16];
  int n;
  while ((n = gzread(f, buffer, sizeof(buffer))) > 0) out.insert(out.end(), buffer, buffer + n);
  gzclose(f);
  if (n < 0) throw std::runtime_error("cannot read " + path);
  return out;
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::vector<float> ReadIdxImages(const std::string& path, size_t* dim) {
  std::vector<uint8_t> bytes = ReadGzip(path);
  if (bytes.size() < 16 || BigEndian32(bytes.data()) != 2051) {
    throw std::runtime_error(path + ": not an idx3 image file");
  }
  size_t count = BigEndian32(bytes.data() + 4);
  *dim = size_t{BigEndian32(bytes.data() + 8)} * BigEndian32(bytes.data() + 12);
  if (bytes.size() != 16 + count * *dim) throw std::runtime_error(path + ": truncated");
  std::vector<float> out(count * *dim);
  for (size_t i = 0; i < out.size(); ++i) out[i] = bytes[16 + i];
  return out;
}

void Normalise(std::vector<float>& data, size_t dim) {
  for (size_t i = 0; i < data.size(); i += dim) {
    double sum = 0;
    for (size_t d = 0; d < dim; ++d) sum += double{data[i + d]} * data[i + d];
    if (sum == 0) {
      throw std::runtime_error("row " + std::to_string(i / dim) +
                               " is all zeros: it has no cosine direction");
    }
    auto inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (size_t d = 0; d < dim; ++d) data[i + d] *= inv;
  }
}

// Through vectorctl's reader: every format `vectorctl import` takes
// (.fvecs, .bvecs, .npy of any numeric dtype, gzip), with its errors.
std::vector<float> ReadVectorFile(const std::string& path, size_t* dim) {
  auto fail = [&](const Status& status) { throw std::runtime_error(status.ToString()); };
  Result<vectorctl::SourceFormat> format = vectorctl::DetectFormat(path, "");
  if (!format.ok()) fail(format.status());
  auto source = vectorctl::VectorSource::Open(path, *format);
  if (!source.ok()) fail(source.status());
  std::vector<float> out;
  if (std::optional<uint64_t> rows = (*source)->total_rows()) {
    out.reserve(*rows * (*source)->dimension());
  }
  std::vector<vectorctl::SourceItem> batch;
  while (true) {
    if (Status read = (*source)->Next(4096, batch); !read.ok()) fail(read);
    if (batch.empty()) break;
    for (const vectorctl::SourceItem& item : batch) {
      out.insert(out.end(), item.vector.begin(), item.vector.end());
    }
  }
  *dim = (*source)->dimension();
  if (*dim == 0 || out.empty()) throw std::runtime_error(path + ": holds no vectors");
  return out;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace

Dataset LoadVectorFiles(const std::string& base_file, const std::string& query_file,
                        engine::Metric metric) {
  Dataset data;
  size_t dim_base = 0, dim_queries = 0;
  data.base = ReadVectorFile(base_file, &dim_base);
  data.queries = ReadVectorFile(query_file, &dim_queries);
  if (dim_base != dim_queries) {
    throw std::runtime_error("the base vectors have " + std::to_string(dim_base) +
                             " dimensions, the queries " + std::to_string(dim_queries));
  }
  data.dim = dim_base;
  data.metric = metric;
  if (metric == engine::Metric::kCosine) {
    Normalise(data.base, data.dim);
    Normalise(data.queries, data.dim);
  }
  data.name = BaseName(base_file) + "-" + std::to_string(data.dim) + "-" +
              std::string(engine::MetricName(metric));
  return data;
}

Dataset LoadFashionMnist(const std::string& dir) {
  Dataset data;
  data.name = "fashion-mnist-784-euclidean";
  size_t dim_base = 0, dim_queries = 0;
  data.base = ReadIdxImages(dir + "/train-images-idx3-ubyte.gz", &dim_base);
  data.queries = ReadIdxImages(dir + "/t10k-images-idx3-ubyte.gz", &dim_queries);
  if (dim_base != dim_queries) throw std::runtime_error("fashion-mnist: dimensions differ");
  data.dim = dim_base;
  return data;
}

Dataset MakeEmbeddingLike(const EmbeddingParams& p) {
  Dataset data;
  data.name = "embedding-like-" + std::to_string(p.dim) + "-cosine";
  data.dim = p.dim;
  data.metric = engine::Metric::kCosine;
  std::mt19937_64 rng(p.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> spread(p.dim);
  for (size_t d = 0; d < p.dim; ++d) {
    spread[d] = static_cast<float>(std::pow(1.0 + static_cast<double>(d), -p.decay));
  }
  // Shuffle which dimensions carry the most spread, as a learned embedding
  // would not order them.
  std::shuffle(spread.begin(), spread.end(), rng);
  std::vector<float> centres(p.clusters * p.dim);
  for (size_t c = 0; c < p.clusters; ++c) {
    for (size_t d = 0; d < p.dim; ++d) centres[c * p.dim + d] = normal(rng) * spread[d];
  }
  // Cluster sizes follow a Zipf-like law: a few big topics, many small ones.
  std::vector<double> weights(p.clusters);
  for (size_t c = 0; c < p.clusters; ++c)
    weights[c] = 1.0 / std::sqrt(1.0 + static_cast<double>(c));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  auto sample = [&](std::vector<float>& out, size_t count) {
    out.resize(count * p.dim);
    for (size_t i = 0; i < count; ++i) {
      size_t c = pick(rng);
      for (size_t d = 0; d < p.dim; ++d) {
        out[i * p.dim + d] =
            centres[c * p.dim + d] + static_cast<float>(p.hardness) * normal(rng) * spread[d];
      }
    }
    Normalise(out, p.dim);
  };
  sample(data.base, p.n);
  sample(data.queries, p.queries);
  return data;
}

std::vector<uint32_t> GroundTruth(const Dataset& data, size_t k, int threads,
                                  const std::string& cache_path) {
  const size_t nq = data.query_count(), n = data.size(), dim = data.dim;
  std::vector<uint32_t> truth(nq * k);
  if (!cache_path.empty()) {
    std::ifstream in(cache_path, std::ios::binary);
    if (in.read(reinterpret_cast<char*>(truth.data()),
                static_cast<std::streamsize>(truth.size() * 4)) &&
        in.peek() == EOF) {
      return truth;
    }
  }
  const engine::KernelSet& kernels = engine::ActiveKernels();
  auto work = [&](size_t first) {
    std::vector<std::pair<float, uint32_t>> all(n);
    for (size_t q = first; q < nq; q += static_cast<size_t>(threads)) {
      const float* query = data.queries.data() + q * dim;
      for (size_t i = 0; i < n; ++i) {
        const float* v = data.base.data() + i * dim;
        float d = data.metric == engine::Metric::kEuclidean ? kernels.l2_squared(query, v, dim)
                                                            : -kernels.inner_product(query, v, dim);
        all[i] = {d, static_cast<uint32_t>(i)};
      }
      std::partial_sort(all.begin(), all.begin() + static_cast<long>(k), all.end());
      for (size_t j = 0; j < k; ++j) truth[q * k + j] = all[j].second;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, static_cast<size_t>(t));
  for (auto& t : pool) t.join();
  if (!cache_path.empty()) {
    std::ofstream out(cache_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(truth.data()),
              static_cast<std::streamsize>(truth.size() * 4));
  }
  return truth;
}

}  // namespace vectord::bench
