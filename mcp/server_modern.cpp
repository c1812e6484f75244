// The server's protocol-2026-07-28 side (mcp/request_meta.h): server/discover, the methods of
// that revision answered for the request's own peer, and the stamping of their replies.

#include "mcp/server.h"

#include <array>
#include <string>

namespace bluegreen::mcp {
namespace {

// How long, and for whom, a client may reuse a result (2026-07-28 server/utilities/caching).
// Lists and discover depend on the client's declared capabilities (app-only tools), so they are
// private to it; reads are live status, so they are not reused at all.
constexpr int kListTtlMs = 300000;

bool lists_things(const std::string& method) {
  return method == "server/discover" || method == "tools/list" || method == "prompts/list" ||
         method == "resources/list" || method == "resources/templates/list";
}

}  // namespace

void Server::dispatch_modern(Request& request, const ModernRequest& modern) {
  const std::string& method = request.method;
  const json& id = request.id.value;
  {
    std::lock_guard lock(modern_mutex_);
    modern_replies_[request.id.key()] = method;
  }
  if (method == "server/discover") {
    send(make_result(id, handle_discover()));
  } else if (!dispatch_shared(request, modern.peer)) {
    // initialize, ping, logging/setLevel and resources/(un)subscribe are not methods of 2026-07-28
    // (changelog; SEP-2575 "Deprecated and Removed RPCs").
    send(make_error(id, error_code::kMethodNotFound,
                    "Method not found: " + method + " (protocol " + modern.version + ")"));
  }
}

json Server::handle_discover() const {
  Peer peer;
  peer.modern = true;
  peer.features = features_of(kModernProtocolVersions.front());
  json versions = json::array();
  for (const auto version : kModernProtocolVersions) versions.push_back(version);
  json result{{"supportedVersions", std::move(versions)}, {"capabilities", capabilities_for(peer)}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return result;
}

json Server::stamp_modern_reply(const std::string& method, json message) const {
  if (const auto error = message.find("error"); error != message.end()) {
    if (error->is_object() && error->value("code", 0) == error_code::kResourceNotFound) {
      (*error)["code"] = error_code::kInvalidParams;
    }
    return message;
  }
  json& result = message["result"];
  if (!result.is_object()) return message;
  if (!result.contains("resultType")) result["resultType"] = "complete";
  json server_info{{"name", info_.name}, {"version", info_.version}};
  if (!info_.title.empty()) server_info["title"] = info_.title;
  result["_meta"][std::string(kMetaServerInfo)] = std::move(server_info);
  if (lists_things(method)) {
    result["ttlMs"] = kListTtlMs;
    result["cacheScope"] = "private";
  } else if (method == "resources/read") {
    result["ttlMs"] = 0;
    result["cacheScope"] = "private";
  }
  return message;
}

}  // namespace bluegreen::mcp
