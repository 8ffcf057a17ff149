// Standard base64 (RFC 4648, with padding): etcd's JSON gateway carries keys
// and values in it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vectord::base64 {

std::string Encode(std::string_view bytes);
// nullopt for text that is not padded base64 of the standard alphabet.
std::optional<std::string> Decode(std::string_view text);

}  // namespace vectord::base64
