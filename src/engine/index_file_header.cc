#include <cstring>

#include "common/crc32c.h"
#include "common/little_endian.h"
#include "engine/index_file.h"

namespace vectord::engine::index_file {

using little_endian::GetU32;
using little_endian::GetU64;
using little_endian::PutU32;
using little_endian::PutU64;

IndexOptions OptionsOf(const Header& h) {
  IndexOptions options;
  options.dimension = h.dimension;
  options.metric = h.metric;
  options.quantization = h.quantization;
  options.m = h.m;
  options.ef_construction = h.ef_construction;
  options.ef_search = h.ef_search;
  return options;
}

void SetOptions(const IndexOptions& o, Header* h) {
  h->dimension = o.dimension;
  h->metric = o.metric;
  h->quantization = o.quantization;
  h->m = o.m;
  h->ef_construction = o.ef_construction;
  h->ef_search = o.ef_search;
}

HeaderBytes EncodeHeader(const Header& h) {
  HeaderBytes bytes{};
  std::byte* p = bytes.data();
  std::memcpy(p + offset::kMagic, kMagic, sizeof kMagic);
  PutU32(p + offset::kFormatVersion, h.format_version);
  PutU32(p + offset::kHeaderSize, kHeaderSize);
  PutU32(p + offset::kDimension, h.dimension);
  p[offset::kMetric] = static_cast<std::byte>(h.metric);
  p[offset::kQuantization] = static_cast<std::byte>(h.quantization);
  PutU32(p + offset::kM, h.m);
  PutU32(p + offset::kEfConstruction, h.ef_construction);
  PutU32(p + offset::kEfSearch, h.ef_search);
  PutU32(p + offset::kRowBytes, h.row_bytes);
  PutU64(p + offset::kRngState, h.rng_state);
  PutU32(p + offset::kSlotCount, h.slot_count);
  PutU32(p + offset::kLiveCount, h.live_count);
  PutU32(p + offset::kMaxLevel, static_cast<uint32_t>(h.max_level));
  PutU32(p + offset::kEntryPoint, h.entry_point);
  PutU64(p + offset::kLogSequence, h.log_sequence);
  PutU32(p + offset::kHeaderCrc, crc32c::Mask(crc32c::Value(p, offset::kHeaderCrc)));
  return bytes;
}

Result<Header> DecodeHeader(const std::byte* p) {
  if (std::memcmp(p + offset::kMagic, kMagic, sizeof kMagic) != 0) {
    return Status::Corruption("not an index file (bad magic)");
  }
  if (!crc32c::StoredMatches(GetU32(p + offset::kHeaderCrc),
                             crc32c::Value(p, offset::kHeaderCrc))) {
    return Status::Corruption("header checksum mismatch");
  }
  if (GetU32(p + offset::kHeaderSize) != kHeaderSize) {
    return Status::Corruption("bad header size");
  }
  for (size_t i = offset::kReservedA; i < offset::kM; ++i) {
    if (p[i] != std::byte{0}) return Status::Corruption("reserved header bytes are not zero");
  }
  for (size_t i = offset::kReservedB; i < offset::kHeaderCrc; ++i) {
    if (p[i] != std::byte{0}) return Status::Corruption("reserved header bytes are not zero");
  }
  Header h;
  h.format_version = GetU32(p + offset::kFormatVersion);
  h.dimension = GetU32(p + offset::kDimension);
  h.metric = static_cast<Metric>(p[offset::kMetric]);
  h.quantization = static_cast<Quantization>(p[offset::kQuantization]);
  h.m = GetU32(p + offset::kM);
  h.ef_construction = GetU32(p + offset::kEfConstruction);
  h.ef_search = GetU32(p + offset::kEfSearch);
  h.row_bytes = GetU32(p + offset::kRowBytes);
  h.rng_state = GetU64(p + offset::kRngState);
  h.slot_count = GetU32(p + offset::kSlotCount);
  h.live_count = GetU32(p + offset::kLiveCount);
  h.max_level = static_cast<int32_t>(GetU32(p + offset::kMaxLevel));
  h.entry_point = GetU32(p + offset::kEntryPoint);
  h.log_sequence = GetU64(p + offset::kLogSequence);
  return h;
}

}  // namespace vectord::engine::index_file
