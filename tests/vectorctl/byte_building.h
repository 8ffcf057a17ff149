// Building binary input files byte by byte, for the tests of vectorctl's
// readers: native (little-endian) values and the big-endian integers of
// MNIST's idx headers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace vectord::vectorctl::testing {

template <typename T>
void Append(std::string& bytes, T value) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  bytes.append(raw, sizeof(T));
}

inline void AppendBigEndian32(std::string& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(value >> shift));
}

}  // namespace vectord::vectorctl::testing
