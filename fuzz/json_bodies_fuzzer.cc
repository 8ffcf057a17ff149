// Fuzz target: every route's JSON body decoder (http/request_decoding.h),
// including the filter language inside search bodies, and the index-name
// check. The first byte picks the decoder; the rest is the body. A decoder
// must return a value or an InvalidArgument "decode body: ..." status; a
// decoded value must satisfy what the handlers rely on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/request_decoding.h"
#include "service/index_name.h"

using namespace vectord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto expect_decode_error = [](const Status& status) {
    if (status.code() != StatusCode::kInvalidArgument) std::abort();
  };
  switch (data[0] % 6) {
    case 0: {
      auto spec = http::DecodeCreate(body);
      if (!spec.ok()) expect_decode_error(spec.status());
      break;
    }
    case 1: {
      auto items = http::DecodeAdd(body);
      if (!items.ok()) expect_decode_error(items.status());
      break;
    }
    case 2: {
      auto spec = http::DecodeSearch(body);
      if (!spec.ok()) expect_decode_error(spec.status());
      break;
    }
    case 3: {
      auto specs = http::DecodeSearchBatch(body);
      if (!specs.ok()) expect_decode_error(specs.status());
      break;
    }
    case 4: {
      auto ids = http::DecodeIds(body);
      if (!ids.ok()) expect_decode_error(ids.status());
      break;
    }
    case 5: (void)service::ValidateIndexName(body); break;
  }
  return 0;
}
