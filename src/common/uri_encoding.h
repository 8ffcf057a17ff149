// Percent-encoding of URI path segments and query values (RFC 3986): every
// byte but the unreserved A-Z a-z 0-9 - _ . ~ becomes %XX (upper-case hex),
// '/' too unless `keep_slash`. This is also exactly the encoding AWS SigV4
// signs, so the S3 client and vectorctl share it.
//
// Thread safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace vectord {

std::string UriEncode(std::string_view text, bool keep_slash = false);

}  // namespace vectord
