// Import: streams a VectorSource into an index over several keep-alive
// connections, in batches, with retries and progress.
//
// The reading thread decodes the file batch by batch into a bounded queue;
// `connections` sender threads each turn a batch into an add request and
// send it on their own connection. A batch the server refuses (4xx other
// than 429) or that still fails after its retries stops the import: batches
// already sent stay (each add is atomic on the server), and the report says
// which rows were not imported, so `--resume` can finish the job.
//
// Resume: the ids the index already holds are listed first (the scroll
// cursor) and items with those ids are skipped — an item is imported once
// even when an earlier run stopped half-way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "vectorctl/api_client.h"
#include "vectorctl/progress.h"
#include "vectorctl/vector_source.h"

namespace vectord::vectorctl {

struct ImportOptions {
  std::string index;
  size_t batch_size = 1024;
  int connections = 2;
  bool resume = false;
  // "?durability=none" on every add: acknowledged before the fsync (docs/API.md).
  bool no_fsync_wait = false;
  // What the file's positions are called in messages: "row" (0-based rows
  // of the binary formats) or "line" (JSON Lines).
  std::string position_noun = "row";
};

// Why an import stopped; the exit code follows from it.
enum class ImportFailure {
  kNone,
  kBadInput,     // the file: unreadable, or a malformed row
  kRefused,      // the server answered a batch with an error
  kUnreachable,  // no answer after the retries
};

struct ImportReport {
  uint64_t imported = 0;  // items the server acknowledged
  uint64_t skipped = 0;   // already in the index (resume)
  uint64_t read = 0;      // items read from the file
  int retries = 0;        // requests sent again after a failure
  double seconds = 0;
  // Empty when everything was imported; otherwise what went wrong, naming
  // the file and its rows ("base.fvecs: rows 1024-2047: HTTP 400 items[3]:
  // dim mismatch (index=784, got=12) (row 1027)").
  std::string failure;
  ImportFailure failure_kind = ImportFailure::kNone;
};

// Reads `source` (named `source_name` in messages) to its end or to the first
// failure. The returned Status is non-ok only when nothing could start (the
// resume listing failed); a failure during the import is in the report.
Result<ImportReport> Import(VectorSource& source, const std::string& source_name,
                            const ApiClientOptions& client_options, const ImportOptions& options,
                            ProgressLine* progress);

// Every id of `index`, through the scroll cursor (no vectors or metadata).
Result<std::vector<std::string>> ListIds(ApiClient& client, const std::string& index);

// The body of POST /vectors/index/{name}/add for `items`.
std::string AddRequestBody(const std::vector<SourceItem>& items);

}  // namespace vectord::vectorctl
