// vectorctl: the command-line client of vectord. Every command is one or a
// few calls of the server's HTTP API (docs/API.md); `vectorctl --help` and
// `vectorctl COMMAND --help` document them, README "vectorctl" the exit codes.
#include <simdjson.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "common/json_writer.h"
#include "common/uri_encoding.h"
#include "vectorctl/api_client.h"
#include "vectorctl/importer.h"
#include "vectorctl/progress.h"
#include "vectorctl/vector_source.h"

namespace vectord::vectorctl {
namespace {

// Exit codes (README "vectorctl"): scripts tell "fix the input" from "try
// again later" from "the server said no".
constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;      // the server answered with an error; import stopped part-way
constexpr int kExitUsage = 2;        // bad flags or arguments
constexpr int kExitUnreachable = 3;  // no answer from the server after the retries
constexpr int kExitBadInput = 4;     // an input file is missing, unreadable or malformed

struct GlobalFlags {
  std::string server = "http://127.0.0.1:8090";
  std::string token;
  double timeout_seconds = 120;
  int attempts = 5;
  bool quiet = false;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "vectorctl: %s\n", message.c_str());
  return code;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The outcome of one API call as an exit code, printing the error if any.
int CheckAnswer(const Result<ApiResponse>& response, long expected_status,
                const std::string& what) {
  if (!response.ok()) return Fail(kExitUnreachable, what + ": " + response.status().message());
  if (response->status != expected_status) {
    return Fail(kExitRefused, what + ": HTTP " + std::to_string(response->status) + " " +
                                  Trimmed(response->body));
  }
  return kExitOk;
}

std::string IndexPath(const std::string& name) { return "/vectors/index/" + UriEncode(name); }

Result<ApiClientOptions> ClientOptions(const GlobalFlags& flags) {
  ApiClientOptions options;
  VECTORD_ASSIGN_OR_RETURN(options.base_url, NormaliseBaseUrl(flags.server));
  options.token = flags.token;
  options.request_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000));
  options.max_attempts = std::max(1, flags.attempts);
  return options;
}

// Reads one vector: inline ("0.1,0.2" or "[0.1, 0.2]") or row `row` of a file.
Result<std::vector<float>> QueryVector(const std::string& inline_text, const std::string& file,
                                       uint64_t row, const std::string& format) {
  if (!inline_text.empty()) {
    std::string text = inline_text;
    if (text.front() != '[') text = "[" + text + "]";
    simdjson::dom::parser parser;
    simdjson::dom::array values;
    if (parser.parse(text).get_array().get(values) != simdjson::SUCCESS) {
      return Status::InvalidArgument("--vector: expected numbers separated by commas");
    }
    std::vector<float> vector;
    for (simdjson::dom::element v : values) {
      double x;
      if (v.get_double().get(x) != simdjson::SUCCESS) {
        return Status::InvalidArgument("--vector: element " + std::to_string(vector.size()) +
                                       " is not a number");
      }
      vector.push_back(static_cast<float>(x));
    }
    return vector;
  }
  VECTORD_ASSIGN_OR_RETURN(const SourceFormat detected, DetectFormat(file, format));
  SourceOptions source_options;
  source_options.skip_rows = row;
  source_options.max_rows = 1;
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<VectorSource> source,
                           VectorSource::Open(file, detected, source_options));
  std::vector<SourceItem> items;
  VECTORD_RETURN_IF_ERROR(source->Next(1, items));
  if (items.empty()) {
    return Status::InvalidArgument(file + ": has no row " + std::to_string(row));
  }
  return std::move(items.front().vector);
}

int RunCreate(const GlobalFlags& flags, const std::string& name, uint32_t dimension,
              const std::string& distance, std::optional<uint32_t> m,
              std::optional<uint32_t> ef_construction, std::optional<uint32_t> ef_search,
              const std::string& quantization, const std::string& vectors) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  JsonWriter w;
  w.BeginObject().Key("name").String(name).Key("dimension").Int(dimension);
  if (!distance.empty()) w.Key("distance").String(distance);
  if (m) w.Key("m").Int(*m);
  if (ef_construction) w.Key("ef_construction").Int(*ef_construction);
  if (ef_search) w.Key("ef_search").Int(*ef_search);
  if (!quantization.empty()) w.Key("quantization").String(quantization);
  if (!vectors.empty()) w.Key("vectors").String(vectors);
  w.EndObject();
  ApiClient client(*options);
  auto response = client.Send("POST", "/vectors/index", std::move(w).Finish());
  if (int code = CheckAnswer(response, 201, "create " + name); code != kExitOk) return code;
  std::fputs(response->body.c_str(), stdout);
  return kExitOk;
}

int RunList(const GlobalFlags& flags, bool json) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  ApiClient client(*options);
  auto response = client.Send("GET", "/vectors/index");
  if (int code = CheckAnswer(response, 200, "list"); code != kExitOk) return code;
  if (json) {
    std::fputs(response->body.c_str(), stdout);
    return kExitOk;
  }
  simdjson::dom::parser parser;
  simdjson::dom::array names;
  if (parser.parse(response->body)["names"].get_array().get(names) != simdjson::SUCCESS) {
    return Fail(kExitRefused, "list: unexpected answer: " + Trimmed(response->body));
  }
  for (simdjson::dom::element name : names) {
    std::string_view text;
    if (name.get_string().get(text) == simdjson::SUCCESS) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fputc('\n', stdout);
    }
  }
  return kExitOk;
}

// Prints a JSON object as "key: value" lines, nested objects as "a.b: value".
void PrintFlattened(simdjson::dom::element element, const std::string& prefix) {
  simdjson::dom::object object;
  if (element.get_object().get(object) == simdjson::SUCCESS) {
    for (auto [key, value] : object) {
      PrintFlattened(value, prefix.empty() ? std::string(key) : prefix + "." + std::string(key));
    }
    return;
  }
  std::string_view text;
  const std::string value = element.get_string().get(text) == simdjson::SUCCESS
                                ? std::string(text)
                                : simdjson::minify(element);
  std::printf("%s: %s\n", prefix.c_str(), value.c_str());
}

int RunInfo(const GlobalFlags& flags, const std::string& name, bool json) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  ApiClient client(*options);
  auto response = client.Send("GET", IndexPath(name));
  if (int code = CheckAnswer(response, 200, "info " + name); code != kExitOk) return code;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (json || parser.parse(response->body).get(root) != simdjson::SUCCESS) {
    std::fputs(response->body.c_str(), stdout);
    return kExitOk;
  }
  PrintFlattened(root, "");
  return kExitOk;
}

int RunDrop(const GlobalFlags& flags, const std::string& name) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  ApiClient client(*options);
  return CheckAnswer(client.Send("DELETE", IndexPath(name)), 204, "drop " + name);
}

// Rebuilds an index that failed to load; prints what was kept and lost.
int RunRecover(const GlobalFlags& flags, const std::string& name, bool json) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  ApiClient client(*options);
  auto response = client.Send("POST", IndexPath(name) + "/recover");
  if (int code = CheckAnswer(response, 200, "recover " + name); code != kExitOk) return code;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view summary, quarantine;
  if (json || parser.parse(response->body).get(root) != simdjson::SUCCESS ||
      root["summary"].get(summary) != simdjson::SUCCESS ||
      root["quarantine"].get(quarantine) != simdjson::SUCCESS) {
    std::fputs(response->body.c_str(), stdout);
    return kExitOk;
  }
  std::printf("recovered %s: %.*s\ndamaged files kept in %.*s\n", name.c_str(),
              static_cast<int>(summary.size()), summary.data(), static_cast<int>(quarantine.size()),
              quarantine.data());
  return kExitOk;
}

struct SearchFlags {
  std::string index;
  std::string vector_text;
  std::string vector_file;
  std::string format;
  uint64_t row = 0;
  std::string id;
  uint32_t k = 10;
  std::optional<uint32_t> ef;
  std::string filter;
  bool json = false;
};

int RunSearch(const GlobalFlags& flags, const SearchFlags& search) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  const int sources =
      !search.vector_text.empty() + !search.vector_file.empty() + !search.id.empty();
  if (sources != 1) return Fail(kExitUsage, "search: give exactly one of --vector, --file, --id");
  ApiClient client(*options);
  std::vector<float> vector;
  if (!search.id.empty()) {
    // The item's own vector, as stored (the server returns it as it was sent).
    auto item = client.Send("GET", IndexPath(search.index) + "/items/" + UriEncode(search.id));
    if (int code = CheckAnswer(item, 200, "get item " + search.id); code != kExitOk) return code;
    simdjson::dom::parser parser;
    simdjson::dom::array values;
    if (parser.parse(item->body)["vector"].get_array().get(values) != simdjson::SUCCESS) {
      return Fail(kExitRefused, "get item " + search.id + ": no vector in the answer");
    }
    for (simdjson::dom::element v : values) {
      double x = 0;
      if (v.get_double().get(x) != simdjson::SUCCESS) {
        return Fail(kExitRefused, "get item " + search.id + ": a vector element is not a number");
      }
      vector.push_back(static_cast<float>(x));
    }
  } else {
    auto read = QueryVector(search.vector_text, search.vector_file, search.row, search.format);
    if (!read.ok()) {
      return Fail(search.vector_text.empty() ? kExitBadInput : kExitUsage, read.status().message());
    }
    vector = std::move(*read);
  }
  JsonWriter w;
  w.BeginObject().Key("vector").FloatArray(vector).Key("k").Int(search.k);
  if (search.ef) w.Key("ef").Int(*search.ef);
  if (!search.filter.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element filter;
    if (parser.parse(search.filter).get(filter) != simdjson::SUCCESS) {
      return Fail(kExitUsage, "--filter: not valid JSON");
    }
    w.Key("filter").Raw(simdjson::minify(filter));
  }
  w.EndObject();
  auto response = client.Send("POST", IndexPath(search.index) + "/search", std::move(w).Finish());
  if (int code = CheckAnswer(response, 200, "search " + search.index); code != kExitOk) return code;
  if (search.json) {
    std::fputs(response->body.c_str(), stdout);
    return kExitOk;
  }
  simdjson::dom::parser parser;
  simdjson::dom::array results;
  if (parser.parse(response->body)["results"].get_array().get(results) != simdjson::SUCCESS) {
    return Fail(kExitRefused, "search: unexpected answer: " + Trimmed(response->body));
  }
  std::printf("%-5s %-12s %s\n", "rank", "distance", "id  metadata");
  int rank = 0;
  for (simdjson::dom::element result : results) {
    std::string_view id;
    double distance = 0;
    if (result["id"].get_string().get(id) != simdjson::SUCCESS ||
        result["distance"].get_double().get(distance) != simdjson::SUCCESS) {
      return Fail(kExitRefused, "search: a result without id or distance");
    }
    simdjson::dom::element metadata;
    std::string metadata_text;
    if (result["metadata"].get(metadata) == simdjson::SUCCESS) {
      metadata_text = "  " + simdjson::minify(metadata);
    }
    std::printf("%-5d %-12.6g %.*s%s\n", ++rank, distance, static_cast<int>(id.size()), id.data(),
                metadata_text.c_str());
  }
  return kExitOk;
}

struct ImportFlags {
  std::string index;
  std::string file;
  std::string format;
  std::string id_prefix;
  uint64_t skip_rows = 0;
  uint64_t max_rows = 0;
  size_t batch_size = 1024;
  int connections = 2;
  bool resume = false;
  bool no_fsync_wait = false;
  std::string create_distance;  // non-empty: create the index if it does not exist
};

int RunImport(const GlobalFlags& flags, const ImportFlags& import) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  if (import.batch_size < 1 || import.batch_size > 100000) {
    return Fail(kExitUsage, "--batch must be between 1 and 100000");
  }
  if (import.connections < 1 || import.connections > 64) {
    return Fail(kExitUsage, "--connections must be between 1 and 64");
  }
  auto format = DetectFormat(import.file, import.format);
  if (!format.ok()) return Fail(kExitUsage, format.status().message());
  SourceOptions source_options;
  source_options.id_prefix = import.id_prefix;
  source_options.skip_rows = import.skip_rows;
  source_options.max_rows = import.max_rows;
  auto source = VectorSource::Open(import.file, *format, source_options);
  if (!source.ok()) return Fail(kExitBadInput, source.status().message());

  if (!import.create_distance.empty()) {
    ApiClient client(*options);
    auto existing = client.Send("GET", IndexPath(import.index));
    if (!existing.ok()) return Fail(kExitUnreachable, existing.status().message());
    if (existing->status == 404) {
      uint32_t dimension = (*source)->dimension();
      if (dimension == 0) {
        // JSON Lines says its dimension with the first item: read it from a
        // second reader, leaving the first at the start.
        auto first = QueryVector("", import.file, import.skip_rows, import.format);
        if (!first.ok()) return Fail(kExitBadInput, first.status().message());
        dimension = static_cast<uint32_t>(first->size());
      }
      JsonWriter w;
      w.BeginObject()
          .Key("name")
          .String(import.index)
          .Key("dimension")
          .Int(dimension)
          .Key("distance")
          .String(import.create_distance)
          .EndObject();
      auto created = client.Send("POST", "/vectors/index", std::move(w).Finish());
      if (int code = CheckAnswer(created, 201, "create " + import.index); code != kExitOk) {
        return code;
      }
    }
  }

  std::optional<uint64_t> total = (*source)->total_rows();
  if (total) {
    *total = *total > import.skip_rows ? *total - import.skip_rows : 0;
    if (import.max_rows > 0) *total = std::min(*total, import.max_rows);
  }
  ProgressLine progress(stderr, isatty(STDERR_FILENO) != 0, "imported", total);
  ImportOptions import_options;
  import_options.index = import.index;
  import_options.batch_size = import.batch_size;
  import_options.connections = import.connections;
  import_options.resume = import.resume;
  import_options.no_fsync_wait = import.no_fsync_wait;
  import_options.position_noun = *format == SourceFormat::kJsonLines ? "line" : "row";
  auto report =
      Import(**source, import.file, *options, import_options, flags.quiet ? nullptr : &progress);
  if (!flags.quiet) progress.Finish();
  if (!report.ok()) {
    return Fail(
        report.status().code() == StatusCode::kUnavailable ? kExitUnreachable : kExitRefused,
        report.status().message());
  }
  const double rate = report->seconds > 0 ? report->imported / report->seconds : 0;
  std::fprintf(
      stderr, "%s: %s items imported, %s skipped (already there), in %.1f s (%s/s)%s\n",
      import.file.c_str(), ProgressLine::Grouped(report->imported).c_str(),
      ProgressLine::Grouped(report->skipped).c_str(), report->seconds,
      ProgressLine::Grouped(static_cast<uint64_t>(rate)).c_str(),
      report->retries > 0 ? (", " + std::to_string(report->retries) + " retries").c_str() : "");
  if (!report->failure.empty()) {
    std::fprintf(stderr,
                 "vectorctl: import stopped after %s items: %s\n"
                 "vectorctl: fix the cause, then run the same command with --resume to import "
                 "the rest\n",
                 ProgressLine::Grouped(report->imported).c_str(), report->failure.c_str());
    // A malformed file, a refusal and an unreachable server are different fixes.
    switch (report->failure_kind) {
      case ImportFailure::kBadInput: return kExitBadInput;
      case ImportFailure::kUnreachable: return kExitUnreachable;
      case ImportFailure::kRefused:
      case ImportFailure::kNone: return kExitRefused;
    }
  }
  return kExitOk;
}

int RunExport(const GlobalFlags& flags, const std::string& index, const std::string& output) {
  auto options = ClientOptions(flags);
  if (!options.ok()) return Fail(kExitUsage, options.status().message());
  ApiClient client(*options);
  auto info = client.Send("GET", IndexPath(index));
  if (int code = CheckAnswer(info, 200, "export " + index); code != kExitOk) return code;
  simdjson::dom::parser parser;
  std::optional<uint64_t> total;
  uint64_t length = 0;
  if (parser.parse(info->body)["length"].get_uint64().get(length) == simdjson::SUCCESS) {
    total = length;
  }

  std::FILE* out = stdout;
  const bool to_file = !output.empty() && output != "-";
  const std::string partial = output + ".partial";
  if (to_file) {
    // Written beside the target and renamed at the end: an interrupted export
    // never leaves a file that looks complete.
    out = std::fopen(partial.c_str(), "wb");
    if (out == nullptr) return Fail(kExitBadInput, partial + ": " + std::strerror(errno));
  }
  ProgressLine progress(stderr, isatty(STDERR_FILENO) != 0, "exported", total);
  std::string cursor;
  uint64_t written = 0;
  int code = kExitOk;
  while (true) {
    std::string target = IndexPath(index) + "/items?limit=1000&include_vector=true";
    if (!cursor.empty()) target += "&cursor=" + UriEncode(cursor);
    auto page = client.Send("GET", target);
    if ((code = CheckAnswer(page, 200, "export " + index)) != kExitOk) break;
    simdjson::dom::element root;
    simdjson::dom::array items;
    if (parser.parse(page->body).get(root) != simdjson::SUCCESS ||
        root["items"].get_array().get(items) != simdjson::SUCCESS) {
      code = Fail(kExitRefused, "export " + index + ": unexpected answer from the server");
      break;
    }
    std::string lines;
    size_t count = 0;
    // Each scrolled item already has the import format's fields: id,
    // metadata, vector.
    for (simdjson::dom::element item : items) {
      lines += simdjson::minify(item);
      lines += '\n';
      ++count;
    }
    if (std::fwrite(lines.data(), 1, lines.size(), out) != lines.size()) {
      code = Fail(kExitBadInput, (to_file ? partial : std::string("stdout")) + ": write failed");
      break;
    }
    written += count;
    if (!flags.quiet) progress.Add(count);
    std::string_view next;
    if (root["next_cursor"].get_string().get(next) != simdjson::SUCCESS) break;
    cursor.assign(next);
  }
  if (!flags.quiet) progress.Finish();
  if (std::fflush(out) != 0 && code == kExitOk) code = Fail(kExitBadInput, "write failed");
  if (to_file) {
    const bool closed = std::fclose(out) == 0;
    if (code == kExitOk && !closed) code = Fail(kExitBadInput, partial + ": write failed");
    if (code == kExitOk && std::rename(partial.c_str(), output.c_str()) != 0) {
      code = Fail(kExitBadInput, output + ": " + std::strerror(errno));
    }
  }
  if (code == kExitOk) {
    std::fprintf(stderr, "%s items exported\n", ProgressLine::Grouped(written).c_str());
  }
  return code;
}

int Main(int argc, char** argv) {
  CLI::App app{"vectorctl: the command-line client of vectord"};
  app.footer(
      "Exit codes: 0 done; 1 the server refused a request, or an import stopped part-way; "
      "2 bad usage; 3 the server could not be reached; 4 an input file is missing or malformed.");
  GlobalFlags flags;
  app.add_option("--server", flags.server, "vectord's address (host:port or http://host:port)")
      ->envname("VECTORD_SERVER")
      ->capture_default_str();
  app.add_option("--token", flags.token, "Bearer token (default: $VECTORD_TOKEN)")
      ->envname("VECTORD_TOKEN");
  app.add_option("--timeout", flags.timeout_seconds, "seconds per request")->capture_default_str();
  app.add_option("--attempts", flags.attempts,
                 "tries per request before giving up (network errors, 429 and 5xx are retried)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", flags.quiet, "no progress output");
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also come after the command

  std::string name, distance = "cosine", quantization, vectors;
  uint32_t dimension = 0;
  std::optional<uint32_t> m, ef_construction, ef_search;
  bool json = false;
  auto* create = app.add_subcommand("create", "create an index");
  create->add_option("name", name, "index name")->required();
  create->add_option("-d,--dimension", dimension, "vector dimension")->required();
  create->add_option("--distance", distance, "cosine, euclidean or dot")->capture_default_str();
  create->add_option("--m", m, "graph degree (default 16)");
  create->add_option("--ef-construction", ef_construction, "build-time ef (default 200)");
  create->add_option("--ef-search", ef_search, "default search ef (default 64)");
  create->add_option("--quantization", quantization, "none or sq8");
  create->add_option("--vectors", vectors,
                     "memory or disk (full-precision vectors in a local file, read only to "
                     "re-rank; implies sq8)");

  auto* list = app.add_subcommand("list", "list the indexes");
  list->add_flag("--json", json, "print the server's JSON");

  auto* info = app.add_subcommand("info", "show an index's parameters and size");
  info->add_option("name", name, "index name")->required();
  info->add_flag("--json", json, "print the server's JSON");

  auto* drop = app.add_subcommand("drop", "delete an index and everything in it");
  drop->add_option("name", name, "index name")->required();

  auto* recover = app.add_subcommand(
      "recover", "rebuild an index that failed to load from what is intact in its files");
  recover->add_option("name", name, "index name")->required();
  recover->add_flag("--json", json, "print the server's JSON");

  SearchFlags search;
  auto* search_command =
      app.add_subcommand("search", "k nearest neighbours of a vector or an item");
  search_command->add_option("index", search.index, "index name")->required();
  search_command->add_option("--vector", search.vector_text, "the query: 0.1,0.2,... or [0.1,...]");
  search_command->add_option(
      "--file", search.vector_file,
      "read the query from a vector file (fvecs, bvecs, ivecs, npy, jsonl, idx)");
  search_command->add_option("--row", search.row, "0-based row of --file (default 0)");
  search_command->add_option("--format", search.format,
                             "format of --file when its name does not say");
  search_command->add_option("--id", search.id, "search with this stored item's vector");
  search_command->add_option("-k", search.k, "neighbours to return")->capture_default_str();
  search_command->add_option("--ef", search.ef, "search breadth for this query");
  search_command->add_option("--filter", search.filter, "metadata filter (JSON, docs/API.md)");
  search_command->add_flag("--json", search.json, "print the server's JSON");

  ImportFlags import;
  auto* import_command = app.add_subcommand(
      "import",
      "add the vectors of a file to an index (fvecs, bvecs, ivecs, npy, jsonl, idx; .gz too)");
  import_command->add_option("index", import.index, "index name")->required();
  import_command->add_option("file", import.file, "input file")->required();
  import_command->add_option("--format", import.format,
                             "fvecs, bvecs, ivecs, npy, jsonl or idx (default: from the name)");
  import_command
      ->add_option("--id-prefix", import.id_prefix,
                   "ids of positional formats are PREFIX + row number")
      ->capture_default_str();
  import_command->add_option("--skip", import.skip_rows, "skip the first N rows");
  import_command->add_option("--limit", import.max_rows, "import at most N rows (0: all)");
  import_command->add_option("--batch", import.batch_size, "items per request")
      ->capture_default_str();
  import_command->add_option("--connections", import.connections, "parallel connections")
      ->capture_default_str();
  import_command->add_flag("--resume", import.resume, "skip items whose ids the index already has");
  import_command->add_flag("--no-fsync-wait", import.no_fsync_wait,
                           "let the server acknowledge before its fsync (durability=none)");
  import_command->add_option("--create", import.create_distance,
                             "create the index with this distance if it does not exist");

  std::string output;
  auto* export_command = app.add_subcommand("export", "write every item of an index as JSON Lines");
  export_command->add_option("index", name, "index name")->required();
  export_command->add_option("-o,--output", output, "output file (default: standard output)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (*create) {
    return RunCreate(flags, name, dimension, distance, m, ef_construction, ef_search, quantization,
                     vectors);
  }
  if (*list) return RunList(flags, json);
  if (*info) return RunInfo(flags, name, json);
  if (*drop) return RunDrop(flags, name);
  if (*recover) return RunRecover(flags, name, json);
  if (*search_command) return RunSearch(flags, search);
  if (*import_command) return RunImport(flags, import);
  if (*export_command) return RunExport(flags, name, output);
  return kExitUsage;
}

}  // namespace
}  // namespace vectord::vectorctl

int main(int argc, char** argv) { return vectord::vectorctl::Main(argc, argv); }
