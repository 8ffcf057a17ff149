// Fuzz target: the parsers of what an S3-compatible store answers
// (store/s3_xml.h): object listings, multipart-upload replies and error
// documents. They read bytes from a server we do not control: each must
// return its fields or a status, never crash or expand entities.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/s3_xml.h"

using namespace vectord::store;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view xml(reinterpret_cast<const char*>(data), size);
  (void)s3_xml::ParseListObjectsV2(xml);
  (void)s3_xml::ParseUploadId(xml);
  (void)s3_xml::ParseError(xml);
  return 0;
}
