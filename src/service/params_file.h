// The params file of an index (docs/storage-layout.md, "Parameters file"):
// what an index is, in JSON, the same locally and in a bucket.
#pragma once

#include <string>

#include "common/status.h"
#include "service/index_registry.h"

namespace vectord::service {

std::string ParamsJson(const IndexParams& params);
// Corruption naming what is wrong; the caller adds the file's name.
Result<IndexParams> ParseParamsJson(const std::string& text);

}  // namespace vectord::service
