#include "store/s3_xml.h"

#include <expat.h>

#include <charconv>
#include <functional>
#include <limits>

namespace vectord::store::s3_xml {
namespace {

// Calls `on_element(path, text)` at the end of every element, where path is
// the element names from the root joined by '/', and text is the character
// data directly inside it.
class ElementWalker {
 public:
  using Callback = std::function<void(std::string_view path, std::string_view text)>;

  static Status Walk(std::string_view xml, const Callback& on_element) {
    if (xml.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return Status::Corruption("XML reply too large");
    }
    ElementWalker walker(on_element);
    XML_Parser parser = XML_ParserCreate(nullptr);
    if (parser == nullptr) return Status::Internal("expat: out of memory");
    walker.parser_ = parser;
    XML_SetUserData(parser, &walker);
    XML_SetElementHandler(parser, &ElementWalker::OnStart, &ElementWalker::OnEnd);
    XML_SetCharacterDataHandler(parser, &ElementWalker::OnText);
    // A DOCTYPE could declare entities that expand without bound; S3 never
    // sends one.
    XML_SetStartDoctypeDeclHandler(parser, &ElementWalker::OnDoctype);
    const XML_Status parsed = XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), 1);
    Status status;
    if (walker.refused_doctype_) {
      status = Status::Corruption("XML reply has a DOCTYPE declaration");
    } else if (parsed != XML_STATUS_OK) {
      status = Status::Corruption(std::string("malformed XML reply: ") +
                                  XML_ErrorString(XML_GetErrorCode(parser)) + " at line " +
                                  std::to_string(XML_GetCurrentLineNumber(parser)));
    }
    XML_ParserFree(parser);
    return status;
  }

 private:
  explicit ElementWalker(const Callback& on_element) : on_element_(on_element) {}

  static void OnStart(void* self_ptr, const XML_Char* name, const XML_Char** /*attributes*/) {
    auto* self = static_cast<ElementWalker*>(self_ptr);
    self->starts_.push_back(self->path_.size());
    if (!self->path_.empty()) self->path_ += '/';
    self->path_ += name;
    self->texts_.emplace_back();
  }
  static void OnEnd(void* self_ptr, const XML_Char* /*name*/) {
    auto* self = static_cast<ElementWalker*>(self_ptr);
    self->on_element_(self->path_, self->texts_.back());
    self->texts_.pop_back();
    self->path_.resize(self->starts_.back());
    self->starts_.pop_back();
  }
  static void OnText(void* self_ptr, const XML_Char* text, int length) {
    auto* self = static_cast<ElementWalker*>(self_ptr);
    if (!self->texts_.empty()) self->texts_.back().append(text, static_cast<size_t>(length));
  }
  static void OnDoctype(void* self_ptr, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    auto* self = static_cast<ElementWalker*>(self_ptr);
    self->refused_doctype_ = true;
    XML_StopParser(self->parser_, XML_FALSE);
  }

  const Callback& on_element_;
  std::string path_;
  std::vector<size_t> starts_;
  std::vector<std::string> texts_;
  bool refused_doctype_ = false;
  XML_Parser parser_ = nullptr;
};

bool ParseUnsigned(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<ListPage> ParseListObjectsV2(std::string_view xml) {
  ListPage page;
  ListedObject current;
  Status field_error;
  bool saw_root = false;
  Status walked = ElementWalker::Walk(xml, [&](std::string_view path, std::string_view text) {
    if (path == "ListBucketResult") {
      saw_root = true;
    } else if (path == "ListBucketResult/Contents/Key") {
      current.key = text;
    } else if (path == "ListBucketResult/Contents/Size") {
      if (!ParseUnsigned(text, &current.size) && field_error.ok()) {
        field_error = Status::Corruption("listing: object size is not a number: " +
                                         std::string(text.substr(0, 40)));
      }
    } else if (path == "ListBucketResult/Contents") {
      if (current.key.empty() && field_error.ok()) {
        field_error = Status::Corruption("listing: an entry has no key");
      }
      page.objects.push_back(std::move(current));
      current = ListedObject();
    } else if (path == "ListBucketResult/IsTruncated") {
      page.truncated = text == "true";
    } else if (path == "ListBucketResult/NextContinuationToken") {
      page.next_continuation_token = text;
    }
  });
  VECTORD_RETURN_IF_ERROR(walked);
  VECTORD_RETURN_IF_ERROR(field_error);
  if (!saw_root) return Status::Corruption("listing: no <ListBucketResult> element");
  if (page.truncated && page.next_continuation_token.empty()) {
    return Status::Corruption("listing: truncated without a continuation token");
  }
  return page;
}

Result<std::string> ParseUploadId(std::string_view xml) {
  std::string upload_id;
  Status walked = ElementWalker::Walk(xml, [&](std::string_view path, std::string_view text) {
    if (path == "InitiateMultipartUploadResult/UploadId") upload_id = text;
  });
  VECTORD_RETURN_IF_ERROR(walked);
  if (upload_id.empty()) return Status::Corruption("multipart upload reply has no UploadId");
  return upload_id;
}

std::optional<ErrorDocument> ParseError(std::string_view xml) {
  ErrorDocument error;
  bool saw_error = false;
  Status walked = ElementWalker::Walk(xml, [&](std::string_view path, std::string_view text) {
    if (path == "Error") saw_error = true;
    if (path == "Error/Code") error.code = text;
    if (path == "Error/Message") error.message = text;
  });
  if (!walked.ok() || !saw_error) return std::nullopt;
  return error;
}

std::string EscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace vectord::store::s3_xml
