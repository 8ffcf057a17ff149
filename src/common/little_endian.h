// Little-endian fixed-width fields: how every vectord file and log record
// stores its integers (docs/index-file-format.md, docs/wal-format.md), on any
// host. The byte type may be char, unsigned char or std::byte, so that the
// same helpers serve std::string buffers and raw file bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vectord::little_endian {

template <typename Byte>
inline void PutU32(Byte* p, uint32_t v) {
  static_assert(sizeof(Byte) == 1);
  for (int i = 0; i < 4; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}

template <typename Byte>
inline void PutU64(Byte* p, uint64_t v) {
  static_assert(sizeof(Byte) == 1);
  for (int i = 0; i < 8; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}

template <typename Byte>
inline uint32_t GetU32(const Byte* p) {
  static_assert(sizeof(Byte) == 1);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

template <typename Byte>
inline uint64_t GetU64(const Byte* p) {
  static_assert(sizeof(Byte) == 1);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

inline void AppendU32(std::string& out, uint32_t v) {
  char b[4];
  PutU32(b, v);
  out.append(b, 4);
}

inline void AppendU64(std::string& out, uint64_t v) {
  char b[8];
  PutU64(b, v);
  out.append(b, 8);
}

}  // namespace vectord::little_endian
