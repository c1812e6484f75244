#pragma once
// What a resource is to the protocol core (MCP "Resources", server features: resources/list,
// resources/templates/list, resources/read): templates of URIs with a reader each, and the
// concrete resources each template lists.
//
// A template's URI is an RFC 6570 template restricted to level 1 (simple string expansion):
// literal text with `{name}` expressions, e.g. "bluegreen://apps/{app}/status". A URI matches a
// template when the literal text is equal and each expression matches one or more characters other
// than '/', '?', '#', '{' and '}' (so one variable is one path segment). The first template in
// registration order that matches wins.
//
// A reader runs on a worker thread of the server (reading may take seconds: SSH, HTTP), with a
// stop_token the server requests on notifications/cancelled and at shutdown. It returns the
// `contents` of the resources/read result (text contents; this server has no binary resources).
// Its errors: code kInvalidArgument means "no such resource" (a variable value that names
// nothing, e.g. an app that is not configured): the client gets the revision's resource-not-found
// error; any other code is a failure to read an existing resource (an internal-error reply
// carrying the message). An exception escaping a reader is a bug (internal error).
//
// Thread-safety: fill a ResourceRegistry before the server starts; afterwards it is only read,
// from any thread. Readers are called from several threads at once; `instances` and
// `completions` are called on the transport's thread and must be quick and must not block.

#include "common/result.h"
#include "mcp/protocol_version.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::mcp {

// One item of a resources/read result's `contents` (MCP TextResourceContents).
struct ResourceContents {
  std::string uri;                       // the URI that was read
  std::string mime_type;                 // e.g. "text/plain", "application/json"
  std::string text;                      // UTF-8
  std::optional<nlohmann::json> meta{};  // the contents' `_meta` (e.g. MCP Apps' `ui` csp); nullopt for none
  // As MCP's TextResourceContents. Like tool results (ToolResult::to_json), the text goes through
  // bluegreen::neutralize_terminal_controls: resources carry remote text (commit subjects, log
  // lines) that CLI clients print to a terminal.
  [[nodiscard]] nlohmann::json to_json() const;
};

// A template's variables as matched in a URI: name -> value (percent-encoding is not decoded:
// values are compared as written).
using UriVariables = std::map<std::string, std::string>;

using ResourceReader = std::function<bluegreen::Result<std::vector<ResourceContents>>(
    const std::string& uri, const UriVariables& variables, std::stop_token stop)>;

// One concrete resource that resources/list shows (MCP Resource).
struct ResourceEntry {
  std::string uri;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  // The entry as MCP's Resource; `title` only when `features.titles` (2025-06-18 on).
  [[nodiscard]] nlohmann::json to_json(const ProtocolFeatures& features = {}) const;
};

struct ResourceTemplate {
  std::string uri_template;  // level-1 RFC 6570, e.g. "bluegreen://apps/{app}/status"
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  ResourceReader reader;
  // The concrete resources of this template for resources/list (e.g. one per configured app).
  // Empty function: none listed (the template is still readable).
  std::function<std::vector<ResourceEntry>()> instances{};
  // Per variable, the values completion/complete offers (ref/resource); a variable absent here
  // is completed with no values.
  std::map<std::string, std::function<std::vector<std::string>()>> completions{};
  // The template as MCP's ResourceTemplate; `title` only when `features.titles`.
  [[nodiscard]] nlohmann::json to_json(const ProtocolFeatures& features = {}) const;
};

// Matches `uri` against the level-1 template `uri_template` (rules above). Returns the variables,
// or nullopt when it does not match. A template with an unclosed '{' or an empty or repeated
// variable name never matches. Thread-safety: a pure function.
std::optional<UriVariables> match_uri_template(std::string_view uri_template, std::string_view uri);

// The set of resource templates a server offers, in registration order. A template without
// variables is one fixed resource: listed by its instances in resources/list, absent from
// resources/templates/list.
class ResourceRegistry {
 public:
  // Registers a template. One without a reader, with a malformed uri_template, or with the same
  // uri_template as an earlier one is a programming error (throws std::invalid_argument).
  void add(ResourceTemplate resource_template);

  struct Match {
    const ResourceTemplate* resource_template;
    UriVariables variables;
  };
  // The first template that matches `uri`, with its variables; nullopt when none does.
  [[nodiscard]] std::optional<Match> match(std::string_view uri) const;
  // The template whose uri_template is exactly `uri_template`; nullptr when none is.
  [[nodiscard]] const ResourceTemplate* find_template(std::string_view uri_template) const;
  [[nodiscard]] const std::vector<ResourceTemplate>& templates() const { return templates_; }
  [[nodiscard]] bool empty() const { return templates_.empty(); }

 private:
  std::vector<ResourceTemplate> templates_;
};

}  // namespace bluegreen::mcp
