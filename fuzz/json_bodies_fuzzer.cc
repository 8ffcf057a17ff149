// Fuzz target: every route's JSON body decoder (http/request_decoding.h),
// including the filter language inside search bodies, and the index-name
// check. The first byte picks the decoder; the rest is the body. A decoder
// must return a value or an InvalidArgument "decode body: ..." status; a
// decoded value must satisfy what the handlers rely on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "http/request_decoding.h"
#include "service/index_name.h"

using namespace vectord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Whatever a decoder returns, a failure must be InvalidArgument.
  auto check = [](const auto& result) {
    Status status;
    if constexpr (std::is_same_v<std::decay_t<decltype(result)>, Status>) {
      status = result;
    } else {
      if (result.ok()) return;
      status = result.status();
    }
    if (!status.ok() && status.code() != StatusCode::kInvalidArgument) std::abort();
  };
  switch (data[0] % 6) {
    case 0: check(http::DecodeCreate(body)); break;
    case 1: check(http::DecodeAdd(body)); break;
    case 2: check(http::DecodeSearch(body)); break;
    case 3: check(http::DecodeSearchBatch(body)); break;
    case 4: check(http::DecodeIds(body)); break;
    case 5: check(service::ValidateIndexName(body)); break;
  }
  return 0;
}
