#include "http/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>

#include "common/utf8.h"
#include "service/bucket_mirror.h"

namespace vectord::http {
namespace {

Status KeyError(std::string_view key, std::string_view what) {
  return Status::InvalidArgument("config: " + std::string(key) + ": " + std::string(what));
}

Status ParseUint(std::string_view key, std::string_view text, uint64_t max, uint32_t* out) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) {
    return KeyError(key, "expected a whole number up to " + std::to_string(max) + ", got '" +
                             std::string(text) + "'");
  }
  *out = static_cast<uint32_t>(v);
  return Status::Ok();
}

Status ParseBool(std::string_view key, std::string_view text, bool* out) {
  if (text == "true" || text == "1" || text == "yes") {
    *out = true;
  } else if (text == "false" || text == "0" || text == "no") {
    *out = false;
  } else {
    return KeyError(key, "expected true or false, got '" + std::string(text) + "'");
  }
  return Status::Ok();
}

// One setting: its names in each source and how to apply a textual value.
struct Setting {
  // "vectord", "auth" or "cluster". Naming a table here makes it vectord's own: keys in
  // it that no setting declares are refused (CheckKeys).
  std::string_view toml_table;
  std::string_view toml_key;
  std::string_view env;
  std::string_view flag;
  bool is_bool = false;
  bool is_number = false;
  std::function<Status(Config&, std::string_view key, std::string_view value)> apply;
  bool is_real = false;  // TOML float or integer
  // A TOML array of strings; in the environment and on the command line, the
  // items separated by commas (which is how apply receives it from TOML too).
  bool is_list = false;
};

// "a,b,,c" -> {"a", "b", "c"}, each trimmed of spaces.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    start = end + 1;
  }
  return items;
}

// "http://host:port" with nothing after the port.
bool IsHttpEndpoint(std::string_view url) {
  if (url.substr(0, 7) != "http://") return false;
  std::string_view rest = url.substr(7);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return false;
  for (char c : rest.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
  }
  return rest.find('/') == std::string_view::npos;
}

std::vector<Setting> Settings() {
  auto text = [](std::string Config::*field) {
    return [field](Config& c, std::string_view, std::string_view v) {
      c.*field = std::string(v);
      return Status::Ok();
    };
  };
  auto fraction = [](double Config::*field) {
    return [field](Config& c, std::string_view key, std::string_view v) {
      double x = -1;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || end != v.data() + v.size() || !(x >= 0 && x <= 1)) {
        return KeyError(key, "expected a number from 0 to 1, got '" + std::string(v) + "'");
      }
      c.*field = x;
      return Status::Ok();
    };
  };
  auto number = [](uint32_t Config::*field, uint64_t max) {
    return [field, max](Config& c, std::string_view key, std::string_view v) {
      return ParseUint(key, v, max, &(c.*field));
    };
  };
  return {
      {"vectord", "bind", "VECTORD_BIND", "--bind", false, false, text(&Config::bind)},
      {"vectord", "storaged_url", "VECTORD_STORAGED_URL", "--storaged-url", false, false,
       text(&Config::storaged_url)},
      {"vectord", "s3_access_key", "VECTORD_S3_ACCESS_KEY", "--s3-access-key", false, false,
       text(&Config::s3_access_key)},
      {"vectord", "s3_secret_key", "VECTORD_S3_SECRET_KEY", "--s3-secret-key", false, false,
       text(&Config::s3_secret_key)},
      {"vectord", "s3_region", "VECTORD_S3_REGION", "--s3-region", false, false,
       text(&Config::s3_region)},
      {"vectord", "s3_multipart_bytes", "VECTORD_S3_MULTIPART_BYTES", "--s3-multipart-bytes", false,
       true,
       [](Config& c, std::string_view key, std::string_view v) {
         uint64_t n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < (uint64_t{5} << 20)) {
           return KeyError(key, "expected a byte count of at least 5242880 (5 MiB), got '" +
                                    std::string(v) + "'");
         }
         c.s3_multipart_bytes = n;
         return Status::Ok();
       }},
      {"vectord", "data_dir", "VECTORD_DATA_DIR", "--data-dir", false, false,
       text(&Config::data_dir)},
      {"vectord", "disk_vectors_dir", "VECTORD_DISK_VECTORS_DIR", "--disk-vectors-dir", false,
       false, text(&Config::disk_vectors_dir)},
      {"vectord", "ephemeral", "VECTORD_EPHEMERAL", "--ephemeral", true, false,
       [](Config& c, std::string_view key, std::string_view v) {
         return ParseBool(key, v, &c.ephemeral);
       }},
      {"vectord", "fsync", "VECTORD_FSYNC", "--fsync", false, false,
       [](Config& c, std::string_view key, std::string_view v) {
         if (v == "always") {
           c.fsync = FsyncPolicy::kAlways;
         } else if (v == "interval") {
           c.fsync = FsyncPolicy::kInterval;
         } else {
           return KeyError(key,
                           "expected \"always\" or \"interval\", got '" + std::string(v) + "'");
         }
         return Status::Ok();
       }},
      {"vectord", "fsync_interval_ms", "VECTORD_FSYNC_INTERVAL_MS", "--fsync-interval-ms", false,
       true, number(&Config::fsync_interval_ms, 60000)},
      {"vectord", "checkpoint_bytes", "VECTORD_CHECKPOINT_BYTES", "--checkpoint-bytes", false, true,
       [](Config& c, std::string_view key, std::string_view v) {
         uint64_t n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 4096) {
           return KeyError(key,
                           "expected a byte count of at least 4096, got '" + std::string(v) + "'");
         }
         c.checkpoint_bytes = n;
         return Status::Ok();
       }},
      {"vectord", "memory_limit", "VECTORD_MEMORY_LIMIT", "--memory-limit", false, true,
       [](Config& c, std::string_view key, std::string_view v) {
         uint64_t n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() ||
             (n != 0 && n < (uint64_t{1} << 20))) {
           return KeyError(key,
                           "expected a byte count of at least 1048576 (1 MiB), or 0 for no "
                           "limit, got '" +
                               std::string(v) + "'");
         }
         c.memory_limit = n;
         return Status::Ok();
       }},
      {"vectord", "checkpoint_replay_seconds", "VECTORD_CHECKPOINT_REPLAY_SECONDS",
       "--checkpoint-replay-seconds", false, false,
       [](Config& c, std::string_view key, std::string_view v) {
         double x = -1;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
         if (ec != std::errc() || end != v.data() + v.size() || !(x >= 0.001 && x <= 86400)) {
           return KeyError(key,
                           "expected seconds from 0.001 to 86400, got '" + std::string(v) + "'");
         }
         c.checkpoint_replay_seconds = x;
         return Status::Ok();
       },
       true},
      {"vectord", "log_level", "VECTORD_LOG_LEVEL", "--log-level", false, false,
       [](Config& c, std::string_view key, std::string_view v) {
         if (v != "debug" && v != "info" && v != "warn" && v != "error") {
           return KeyError(key,
                           "expected debug, info, warn or error, got '" + std::string(v) + "'");
         }
         c.log_level = std::string(v);
         return Status::Ok();
       }},
      {"vectord", "workers", "VECTORD_WORKERS", "--workers", false, true,
       number(&Config::workers, 1024)},
      {"vectord", "write_nice", "VECTORD_WRITE_NICE", "--write-nice", false, true,
       number(&Config::write_nice, 19)},
      {"vectord", "io_threads", "VECTORD_IO_THREADS", "--io-threads", false, true,
       number(&Config::io_threads, 64)},
      {"vectord", "header_timeout_ms", "VECTORD_HEADER_TIMEOUT_MS", "--header-timeout-ms", false,
       true, number(&Config::header_timeout_ms, 3600000)},
      {"vectord", "body_timeout_ms", "VECTORD_BODY_TIMEOUT_MS", "--body-timeout-ms", false, true,
       number(&Config::body_timeout_ms, 3600000)},
      {"vectord", "idle_timeout_ms", "VECTORD_IDLE_TIMEOUT_MS", "--idle-timeout-ms", false, true,
       number(&Config::idle_timeout_ms, 3600000)},
      {"vectord", "max_connections", "VECTORD_MAX_CONNECTIONS", "--max-connections", false, true,
       number(&Config::max_connections, 1000000)},
      {"vectord", "recall_cpu_budget", "VECTORD_RECALL_CPU_BUDGET", "--recall-cpu-budget", false,
       false, fraction(&Config::recall_cpu_budget), true},
      {"vectord", "recall_sample_rate", "VECTORD_RECALL_SAMPLE_RATE", "--recall-sample-rate", false,
       false, fraction(&Config::recall_sample_rate), true},
      {"auth", "token", "VECTORD_AUTH_TOKEN", "--auth-token", false, false,
       text(&Config::auth_token)},
      {"auth", "tokens_file", "VECTORD_AUTH_TOKENS_FILE", "--auth-tokens-file", false, false,
       text(&Config::auth_tokens_file)},
      {"cluster", "etcd_endpoints", "VECTORD_ETCD_ENDPOINTS", "--etcd-endpoints", false, false,
       [](Config& c, std::string_view key, std::string_view v) {
         c.etcd_endpoints = SplitList(v);
         for (const std::string& endpoint : c.etcd_endpoints) {
           if (!IsHttpEndpoint(endpoint)) {
             return KeyError(key, "expected http://host:port endpoints, got '" + endpoint + "'");
           }
         }
         return Status::Ok();
       },
       false, true},
      {"cluster", "node_id", "VECTORD_NODE_ID", "--node-id", false, false, text(&Config::node_id)},
      {"cluster", "advertise_url", "VECTORD_ADVERTISE_URL", "--advertise-url", false, false,
       text(&Config::advertise_url)},
      {"cluster", "lease_ttl_ms", "VECTORD_LEASE_TTL_MS", "--lease-ttl-ms", false, true,
       number(&Config::lease_ttl_ms, 600000)},
      {"cluster", "key_prefix", "VECTORD_CLUSTER_KEY_PREFIX", "--cluster-key-prefix", false, false,
       text(&Config::cluster_key_prefix)},
  };
}

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable when it asks whether
// certain non-ASCII code points are whitespace (upstream issues #190 and
// #295, fixed after 3.3). It asks that of nearly any character when a
// document is malformed (found by the config fuzz target: in bare keys, and
// inside a value it misreads, even between quotes), which is undefined
// behaviour in a release build. So the file must be valid UTF-8 without
// those code points before toml++ sees it; strings can still carry them as
// \u escapes. This mirrors toml++'s is_non_ascii_horizontal_whitespace up to
// its unreachable default: U+00A1..U+0499, U+2C5E..U+3057 but U+3000, and
// U+FB26..U+FEFE.
bool TomlCannotClassify(int32_t c) {
  if (c < 0xa0 || c > 0xfeff) return false;
  const auto child = static_cast<uint64_t>(c - 0xa0) / 0x3fa;
  if (((uint64_t{1} << child) & 0x7fffffffffffF75eull) != 0) return false;
  if (c == 0xa0 || c == 0x3000 || c == 0xfeff) return false;
  return child != 5 && child != 7;  // those two have their own cases
}

std::optional<std::string> CheckTomlText(std::string_view text) {
  size_t line = 1;
  // A leading byte-order mark is read and skipped by toml++ itself.
  for (size_t at = text.starts_with("\xef\xbb\xbf") ? 3 : 0; at < text.size();) {
    const int32_t c = utf8::Decode(text, &at);
    if (c < 0) return "not valid UTF-8 (line " + std::to_string(line) + ")";
    if (c == '\n') ++line;
    if (TomlCannotClassify(c)) {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
      return "character " + std::string(code) + " on line " + std::to_string(line) +
             " cannot be read safely by the TOML parser (toml++ 3.3); write it as a \\u escape "
             "inside a string";
    }
  }
  return std::nullopt;
}

// Levenshtein distance, for suggesting the key a typo meant.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// [[auth.tokens]]: an array of tables, so not a Setting (those take one
// textual value from every source); read by ReadScopedTokens.
constexpr std::string_view kScopedTokensKey = "tokens";

// In the tables vectord reads (those its settings name), a key no setting
// declares is a typo: ignoring it would leave the setting it meant at its
// default without a word. The other top-level tables belong to the
// lakehouse's other services and are not vectord's to judge.
Status CheckKeys(const toml::table& root, const std::vector<Setting>& settings,
                 const std::string& path) {
  for (const auto& [table_key, node] : root) {
    const std::string_view table = table_key.str();
    const bool ours = std::any_of(settings.begin(), settings.end(),
                                  [&](const Setting& s) { return s.toml_table == table; });
    if (!ours) continue;
    const toml::table* keys = node.as_table();
    if (keys == nullptr) return KeyError(table, "expected a table");
    for (const auto& [key_name, value] : *keys) {
      const std::string_view key = key_name.str();
      const Setting* nearest = nullptr;
      size_t nearest_distance = 0;
      bool known = false;
      for (const Setting& s : settings) {
        if (s.toml_table == table && s.toml_key == key) known = true;
        // Ties go to a key of the same table, then to the first declared.
        const size_t d = EditDistance(key, s.toml_key) * 2 + (s.toml_table == table ? 0 : 1);
        if (nearest == nullptr || d < nearest_distance) {
          nearest = &s;
          nearest_distance = d;
        }
      }
      if (known || (table == "auth" && key == kScopedTokensKey)) continue;
      std::string suggestion(nearest->toml_key);
      if (nearest->toml_table != table) {
        suggestion = "[" + std::string(nearest->toml_table) + "] " + suggestion;
      }
      return Status::InvalidArgument("config: " + path + ": unknown key [" + std::string(table) +
                                     "] " + std::string(key) + " (did you mean " + suggestion +
                                     "?)");
    }
  }
  return Status::Ok();
}

// Appends the entries of `[[auth.tokens]]` in `root` (a parsed file named
// `path`) to `out`. Errors name the entry by position, never its token.
Status ReadScopedTokens(const toml::table& root, const std::string& path,
                        std::vector<ScopedToken>* out) {
  const toml::node* node = root["auth"][kScopedTokensKey].node();
  if (node == nullptr) return Status::Ok();
  const toml::array* entries = node->as_array();
  if (entries == nullptr) {
    return Status::InvalidArgument("config: " + path +
                                   ": auth.tokens: expected [[auth.tokens]] tables");
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    const std::string which = "config: " + path + ": auth.tokens[" + std::to_string(i) + "]";
    const toml::table* entry = (*entries)[i].as_table();
    if (entry == nullptr) return Status::InvalidArgument(which + ": expected a table");
    ScopedToken token;
    for (const auto& [key_name, value] : *entry) {
      const std::string_view key = key_name.str();
      if (key == "token") {
        auto text = value.value_exact<std::string>();
        if (!text) return Status::InvalidArgument(which + ": token: expected a string");
        token.token = *text;
      } else if (key == "indexes") {
        if (auto one = value.value_exact<std::string>()) {
          token.indexes.push_back(*one);
        } else if (const toml::array* many = value.as_array()) {
          for (const toml::node& item : *many) {
            auto pattern = item.value_exact<std::string>();
            if (!pattern) {
              return Status::InvalidArgument(which + ": indexes: expected a string or strings");
            }
            token.indexes.push_back(*pattern);
          }
        } else {
          return Status::InvalidArgument(which + ": indexes: expected a string or strings");
        }
      } else if (key == "access") {
        auto text = value.value_exact<std::string>();
        if (!text) return Status::InvalidArgument(which + ": access: expected a string");
        Result<Access> access = ParseAccess(*text);
        if (!access.ok()) return Status::InvalidArgument(which + ": " + access.status().message());
        token.access = *access;
      } else {
        return Status::InvalidArgument(which + ": unknown key " + std::string(key) +
                                       " (expected token, indexes, access)");
      }
    }
    if (!entry->contains("access")) {
      return Status::InvalidArgument(which + ": access is missing (read, write or admin)");
    }
    out->push_back(std::move(token));
  }
  return Status::Ok();
}

// toml++ over a file's text, after CheckTomlText; errors carry path:line:col.
Result<toml::table> ParseTomlText(const std::string& text, const std::string& path) {
  if (std::optional<std::string> problem = CheckTomlText(text)) {
    return Status::InvalidArgument("config: " + path + ": " + *problem);
  }
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument("config: " + path + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " +
                                   std::string(e.description()));
  }
}

// auth_tokens_file: nothing but [[auth.tokens]] entries, added to those of
// the main file.
Status ReadTokensFile(Config& config) {
  const std::string& path = config.auth_tokens_file;
  std::ifstream in(path, std::ios::binary);
  if (!in) return KeyError("auth.tokens_file", "cannot read '" + path + "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<toml::table> root = ParseTomlText(text, path);
  VECTORD_RETURN_IF_ERROR(root.status());
  for (const auto& [table_key, node] : *root) {
    const toml::table* keys = node.as_table();
    if (table_key.str() != "auth" || keys == nullptr || keys->size() != 1 ||
        !keys->contains(kScopedTokensKey)) {
      return Status::InvalidArgument("config: " + path +
                                     ": a tokens file holds only [[auth.tokens]] entries");
    }
  }
  return ReadScopedTokens(*root, path, &config.auth_tokens);
}

Status ApplyToml(Config& config, const std::vector<Setting>& settings) {
  std::ifstream in(config.config_path, std::ios::binary);
  if (!in) {
    if (config.config_path_explicit) {
      return KeyError("-config", "cannot read '" + config.config_path + "'");
    }
    return Status::Ok();  // the default file is optional
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<toml::table> parsed = ParseTomlText(text, config.config_path);
  VECTORD_RETURN_IF_ERROR(parsed.status());
  const toml::table& root = *parsed;
  VECTORD_RETURN_IF_ERROR(CheckKeys(root, settings, config.config_path));
  VECTORD_RETURN_IF_ERROR(ReadScopedTokens(root, config.config_path, &config.auth_tokens));
  for (const Setting& s : settings) {
    const toml::node* node = root[s.toml_table][s.toml_key].node();
    if (node == nullptr) continue;
    std::string key = std::string(s.toml_table) + "." + std::string(s.toml_key);
    std::string value;
    if (s.is_bool) {
      auto b = node->value_exact<bool>();
      if (!b) return KeyError(key, "expected true or false");
      value = *b ? "true" : "false";
    } else if (s.is_real) {
      auto x = node->value<double>();  // a float, or an integer widened
      if (!x) return KeyError(key, "expected a number");
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, *x);
      value.assign(buffer, end);
    } else if (s.is_list) {
      const toml::array* items = node->as_array();
      if (items == nullptr) return KeyError(key, "expected an array of strings");
      for (const toml::node& item : *items) {
        auto str = item.value_exact<std::string>();
        if (!str || str->find(',') != std::string::npos) {
          return KeyError(key, "expected an array of strings without commas");
        }
        if (!value.empty()) value += ',';
        value += *str;
      }
    } else if (s.is_number) {
      auto n = node->value_exact<int64_t>();
      if (!n || *n < 0) return KeyError(key, "expected a whole number");
      value = std::to_string(*n);
    } else {
      auto str = node->value_exact<std::string>();
      if (!str) return KeyError(key, "expected a string");
      value = *str;
    }
    VECTORD_RETURN_IF_ERROR(s.apply(config, key, value));
  }
  return Status::Ok();
}

Status ParseBind(Config& config) {
  const std::string& bind = config.bind;
  size_t colon = bind.rfind(':');
  if (colon == std::string::npos) {
    return KeyError("vectord.bind", "expected host:port, got '" + bind + "'");
  }
  std::string host = bind.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  uint32_t port = 0;
  Status s = ParseUint("vectord.bind", std::string_view(bind).substr(colon + 1), 65535, &port);
  if (!s.ok()) return KeyError("vectord.bind", "expected host:port, got '" + bind + "'");
  config.host = host;
  config.port = static_cast<uint16_t>(port);
  return Status::Ok();
}

// Cluster mode's settings, checked only when etcd_endpoints names etcd.
Status CheckClusterSettings(const Config& config) {
  if (!config.cluster_mode()) return Status::Ok();
  if (config.storaged_url.empty()) {
    return KeyError("cluster.etcd_endpoints",
                    "cluster mode needs vectord.storaged_url (the bucket every node shares)");
  }
  const std::string& id = config.node_id;
  if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    return KeyError("cluster.node_id",
                    "cluster mode needs a node id of 1 to 64 letters, digits, '-', '_' or '.', "
                    "unique and stable in the cluster; got '" +
                        id + "'");
  }
  if (!IsHttpEndpoint(config.advertise_url)) {
    return KeyError("cluster.advertise_url",
                    "cluster mode needs the http://host:port the other nodes reach this one at; "
                    "got '" +
                        config.advertise_url + "'");
  }
  if (config.lease_ttl_ms < 1000) {
    return KeyError("cluster.lease_ttl_ms", "must be at least 1000 (etcd leases are in seconds)");
  }
  const std::string& prefix = config.cluster_key_prefix;
  if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() != '/') {
    return KeyError("cluster.key_prefix",
                    "expected a key prefix like /vectord/, got '" + prefix + "'");
  }
  return Status::Ok();
}

}  // namespace

std::string Config::DiskVectorsDirectory() const {
  if (!disk_vectors_dir.empty()) return disk_vectors_dir;
  if (!ephemeral) return data_dir;
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

std::string Config::Describe() const {
  std::string out =
      "config=" + config_path + " bind=" + bind + " data_dir=" + data_dir +
      " disk_vectors_dir=" + (disk_vectors_dir.empty() ? "\"\"" : disk_vectors_dir) +
      " ephemeral=" + (ephemeral ? "true" : "false") +
      " storaged_url=" + (storaged_url.empty() ? "\"\"" : storaged_url) +
      " s3_access_key=" + (s3_access_key.empty() ? "\"\"" : "***") +
      " s3_secret_key=" + (s3_secret_key.empty() ? "\"\"" : "***") + " s3_region=" + s3_region +
      " fsync=" + (fsync == FsyncPolicy::kAlways ? "always" : "interval") +
      " fsync_interval_ms=" + std::to_string(fsync_interval_ms) +
      " checkpoint_bytes=" + std::to_string(checkpoint_bytes) +
      " checkpoint_replay_seconds=" + std::to_string(checkpoint_replay_seconds) +
      " memory_limit=" + (memory_limit ? std::to_string(*memory_limit) : "default") +
      " workers=" + std::to_string(workers) + " write_nice=" + std::to_string(write_nice) +
      " io_threads=" + std::to_string(io_threads) +
      " max_connections=" + std::to_string(max_connections) +
      " recall_cpu_budget=" + std::to_string(recall_cpu_budget) +
      " recall_sample_rate=" + std::to_string(recall_sample_rate) +
      " auth_token=" + (auth_token.empty() ? "\"\"" : "***") +
      " auth_tokens=" + std::to_string(auth_tokens.size()) + " log_level=" + log_level;
  if (cluster_mode()) {
    out += " etcd_endpoints=";
    for (size_t i = 0; i < etcd_endpoints.size(); ++i)
      out += (i > 0 ? "," : "") + etcd_endpoints[i];
    out += " node_id=" + node_id + " advertise_url=" + advertise_url +
           " lease_ttl_ms=" + std::to_string(lease_ttl_ms) + " key_prefix=" + cluster_key_prefix;
  }
  return out;
}

std::string ConfigUsage() {
  std::string out =
      "usage: vectord [-config PATH | --config PATH] [--flag value ...]\n\n"
      "Settings (flag, environment variable, [table] key in the TOML file):\n";
  for (const Setting& s : Settings()) {
    out += "  " + std::string(s.flag) + (s.is_bool ? "" : " VALUE") + "\t" + std::string(s.env) +
           "\t[" + std::string(s.toml_table) + "] " + std::string(s.toml_key) + "\n";
  }
  return out;
}

Result<Config> LoadConfig(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& environment) {
  Config config;
  const std::vector<Setting> settings = Settings();

  // Pass 1: where the file is. Go's flag package spelled it -config; both
  // -config and --config, with a space or '=', are accepted.
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    for (std::string_view name : {"-config", "--config"}) {
      if (a == name) {
        if (i + 1 >= args.size()) return KeyError(name, "needs a path");
        config.config_path = args[i + 1];
        config.config_path_explicit = true;
      } else if (a.size() > name.size() &&
                 a.substr(0, name.size() + 1) == std::string(name) + "=") {
        config.config_path = std::string(a.substr(name.size() + 1));
        config.config_path_explicit = true;
      }
    }
  }
  if (!config.config_path_explicit) {
    if (auto it = environment.find("VECTORD_CONFIG"); it != environment.end()) {
      config.config_path = it->second;
      config.config_path_explicit = true;
    }
  }
  // The standard AWS variables sit below everything vectord's own sources say.
  for (auto [variable, field] : {std::pair{"AWS_ACCESS_KEY_ID", &Config::s3_access_key},
                                 std::pair{"AWS_SECRET_ACCESS_KEY", &Config::s3_secret_key},
                                 std::pair{"AWS_REGION", &Config::s3_region}}) {
    if (auto it = environment.find(variable); it != environment.end() && !it->second.empty()) {
      config.*field = it->second;
    }
  }
  VECTORD_RETURN_IF_ERROR(ApplyToml(config, settings));

  for (const Setting& s : settings) {
    auto it = environment.find(std::string(s.env));
    if (it != environment.end()) VECTORD_RETURN_IF_ERROR(s.apply(config, s.env, it->second));
  }

  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "-config" || a == "--config") {
      ++i;
      continue;
    }
    if (a.rfind("-config=", 0) == 0 || a.rfind("--config=", 0) == 0) continue;
    std::string_view name = a, value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    const Setting* match = nullptr;
    for (const Setting& s : settings) {
      if (name == s.flag) match = &s;
    }
    if (match == nullptr) return KeyError(a, "unknown flag (see --help)");
    if (!has_value) {
      if (match->is_bool) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) return KeyError(name, "needs a value");
        value = args[++i];
      }
    }
    VECTORD_RETURN_IF_ERROR(match->apply(config, name, value));
  }

  VECTORD_RETURN_IF_ERROR(ParseBind(config));
  if (!config.ephemeral && config.data_dir.empty()) {
    return KeyError("vectord.data_dir", "must not be empty unless vectord.ephemeral is true");
  }
  if (!config.storaged_url.empty()) {
    if (config.ephemeral) {
      return KeyError("vectord.storaged_url", "cannot be used with vectord.ephemeral");
    }
    if (Status s = service::CheckStorageUrl(config.storaged_url); !s.ok()) {
      return KeyError("vectord.storaged_url", s.message());
    }
    if (config.s3_access_key.empty() || config.s3_secret_key.empty()) {
      return KeyError("vectord.s3_access_key",
                      "storaged_url needs credentials: s3_access_key and s3_secret_key (or "
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
    }
    if (config.s3_region.empty()) return KeyError("vectord.s3_region", "must not be empty");
  }
  if (config.fsync_interval_ms == 0) {
    return KeyError("vectord.fsync_interval_ms", "must be at least 1");
  }
  VECTORD_RETURN_IF_ERROR(CheckClusterSettings(config));
  if (!config.auth_tokens_file.empty()) VECTORD_RETURN_IF_ERROR(ReadTokensFile(config));
  if (Status s = ValidateScopedTokens(config.auth_tokens, config.auth_token); !s.ok()) {
    return Status::InvalidArgument(
        "config: " + s.message() +
        (config.auth_tokens_file.empty()
             ? ""
             : " (counting the main file's [[auth.tokens]] first, then " + config.auth_tokens_file +
                   "'s)"));
  }
  return config;
}

}  // namespace vectord::http
