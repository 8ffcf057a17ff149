#include "datasets.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "engine/distance.h"

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

std::vector<char> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    throw std::runtime_error("cannot read " + path);
  }
  return bytes;
}

// .fvecs (the TEXMEX format of SIFT1M, GIST1M, ...): each row is a
// little-endian int32 dimension followed by that many float32.
std::vector<float> ParseFvecs(const std::string& path, const std::vector<char>& bytes,
                              size_t* dim) {
  if (bytes.size() < 4) throw std::runtime_error(path + ": empty .fvecs file");
  int32_t first = 0;
  std::memcpy(&first, bytes.data(), 4);
  if (first <= 0 || first > 1 << 16) {
    throw std::runtime_error(path + ": dimension " + std::to_string(first) + " in row 0");
  }
  *dim = static_cast<size_t>(first);
  const size_t row_bytes = 4 + *dim * 4;
  if (bytes.size() % row_bytes != 0) {
    throw std::runtime_error(path + ": size " + std::to_string(bytes.size()) +
                             " is not a whole number of rows of " + std::to_string(row_bytes) +
                             " bytes");
  }
  const size_t rows = bytes.size() / row_bytes;
  std::vector<float> out(rows * *dim);
  for (size_t r = 0; r < rows; ++r) {
    const char* row = bytes.data() + r * row_bytes;
    int32_t d = 0;
    std::memcpy(&d, row, 4);
    if (static_cast<size_t>(d) != *dim) {
      throw std::runtime_error(path + ": row " + std::to_string(r) + " has dimension " +
                               std::to_string(d) + ", row 0 has " + std::to_string(*dim));
    }
    std::memcpy(out.data() + r * *dim, row + 4, *dim * 4);
  }
  return out;
}

// .npy version 1-3 holding a C-order little-endian float32 matrix of shape
// (rows, dim): numpy.save(path, array.astype("<f4")).
std::vector<float> ParseNpy(const std::string& path, const std::vector<char>& bytes, size_t* dim) {
  static constexpr char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    throw std::runtime_error(path + ": not a .npy file");
  }
  const auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_length = 0, header_start = 0;
  if (major == 1) {
    header_length = static_cast<uint8_t>(bytes[8]) | size_t{static_cast<uint8_t>(bytes[9])} << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw std::runtime_error(path + ": truncated .npy header");
    for (int i = 3; i >= 0; --i) header_length = header_length << 8 | static_cast<uint8_t>(bytes[8 + i]);
    header_start = 12;
  } else {
    throw std::runtime_error(path + ": .npy version " + std::to_string(major) + " is unknown");
  }
  if (header_start + header_length > bytes.size()) {
    throw std::runtime_error(path + ": truncated .npy header");
  }
  const std::string header(bytes.data() + header_start, header_length);
  auto value_of = [&](const std::string& key) {
    size_t at = header.find("'" + key + "'");
    if (at == std::string::npos) throw std::runtime_error(path + ": .npy header lacks " + key);
    at = header.find(':', at);
    return header.substr(at + 1);
  };
  const std::string descr = value_of("descr");
  if (descr.find("'<f4'") == std::string::npos && descr.find("'float32'") == std::string::npos) {
    throw std::runtime_error(path + ": only little-endian float32 (<f4) is supported; header " +
                             header);
  }
  const std::string order = value_of("fortran_order");
  if (order.compare(order.find_first_not_of(' '), 5, "False") != 0) {
    throw std::runtime_error(path + ": Fortran-order arrays are not supported");
  }
  const std::string shape = value_of("shape");
  size_t rows = 0;
  if (std::sscanf(shape.c_str(), " (%zu, %zu)", &rows, dim) != 2 || *dim == 0) {
    throw std::runtime_error(path + ": shape must be (rows, dim); header " + header);
  }
  const size_t data_start = header_start + header_length;
  if (bytes.size() - data_start != rows * *dim * 4) {
    throw std::runtime_error(path + ": holds " + std::to_string(bytes.size() - data_start) +
                             " data bytes, shape says " + std::to_string(rows * *dim * 4));
  }
  std::vector<float> out(rows * *dim);
  std::memcpy(out.data(), bytes.data() + data_start, out.size() * 4);
  return out;
}

std::vector<float> ReadVectorFile(const std::string& path, size_t* dim) {
  const std::vector<char> bytes = ReadWholeFile(path);
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".fvecs")) return ParseFvecs(path, bytes, dim);
  if (ends_with(".npy")) return ParseNpy(path, bytes, dim);
  throw std::runtime_error(path + ": expected a .fvecs or .npy file");
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace

Dataset LoadVectorFiles(const std::string& base_file, const std::string& query_file,
                        PeerMetric metric) {
  Dataset data;
  size_t dim_base = 0, dim_queries = 0;
  data.base = ReadVectorFile(base_file, &dim_base);
  data.queries = ReadVectorFile(query_file, &dim_queries);
  if (dim_base != dim_queries) {
    throw std::runtime_error("the base vectors have " + std::to_string(dim_base) +
                             " dimensions, the queries " + std::to_string(dim_queries));
  }
  for (float x : data.base) {
    if (!std::isfinite(x)) throw std::runtime_error(base_file + ": a component is not finite");
  }
  data.dim = dim_base;
  data.metric = metric;
  if (metric == PeerMetric::kCosine) {
    Normalise(data.base, data.dim);
    Normalise(data.queries, data.dim);
  }
  data.name = BaseName(base_file) + "-" + std::to_string(data.dim) + "-" +
              (metric == PeerMetric::kCosine ? "cosine"
               : metric == PeerMetric::kDot  ? "dot"
                                             : "euclidean");
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
  data.metric = PeerMetric::kCosine;
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
        float d = data.metric == PeerMetric::kEuclidean ? kernels.l2_squared(query, v, dim)
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
