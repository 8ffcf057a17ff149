// ShortString: a string in 16 bytes, for the id of every slot. Up to 15
// bytes are kept inline (most ids: numbers, UUIDs without dashes do not fit
// but most keys do); longer ones on the heap. A std::string takes 32 bytes
// for the same, a sixth of all an item costs with its vectors on disk.
//
// Thread safety: none of its own; SlotStorage's rules apply (written only
// while the slot cannot be reached).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace vectord::engine {

class alignas(8) ShortString {
 public:
  static constexpr size_t kInline = 15;

  ShortString() { bytes_[kTag] = 0; }
  ~ShortString() { Release(); }
  ShortString(const ShortString&) = delete;
  ShortString& operator=(const ShortString&) = delete;

  void assign(std::string_view text) {
    Release();
    if (text.size() <= kInline) {
      std::memcpy(bytes_, text.data(), text.size());
      bytes_[kTag] = static_cast<unsigned char>(text.size());
      return;
    }
    char* data = new char[text.size()];
    std::memcpy(data, text.data(), text.size());
    const auto size = static_cast<uint32_t>(text.size());
    std::memcpy(bytes_, &data, sizeof data);
    std::memcpy(bytes_ + sizeof data, &size, sizeof size);
    bytes_[kTag] = kOnHeap;
  }
  void clear() {
    Release();
    bytes_[kTag] = 0;
  }

  std::string_view view() const {
    if (bytes_[kTag] != kOnHeap) {
      return {reinterpret_cast<const char*>(bytes_), bytes_[kTag]};
    }
    return {HeapData(), HeapSize()};
  }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  size_t size() const { return view().size(); }
  bool empty() const { return size() == 0; }
  // Bytes on the heap beyond the 16 here.
  size_t heap_bytes() const { return bytes_[kTag] == kOnHeap ? HeapSize() : 0; }

 private:
  static constexpr size_t kTag = 15;
  static constexpr unsigned char kOnHeap = 0xff;

  char* HeapData() const {
    char* data;
    std::memcpy(&data, bytes_, sizeof data);
    return data;
  }
  uint32_t HeapSize() const {
    uint32_t size;
    std::memcpy(&size, bytes_ + sizeof(char*), sizeof size);
    return size;
  }
  void Release() {
    if (bytes_[kTag] == kOnHeap) delete[] HeapData();
  }

  // Inline: the text in [0, 15), its length in [15]. On the heap: the
  // pointer in [0, 8), the length in [8, 12), 0xff in [15].
  unsigned char bytes_[16];
};
static_assert(sizeof(ShortString) == 16);

}  // namespace vectord::engine
