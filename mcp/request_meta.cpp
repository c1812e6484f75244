#include "mcp/request_meta.h"

#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace bluegreen::mcp {
namespace {

using nlohmann::json;

EnvelopeError malformed(const std::string& key, const std::string& problem) {
  return EnvelopeError{-32602, "Invalid params: _meta[\"" + key + "\"] " + problem,
                       json{{"envelope", {{"key", key}, {"problem", problem}}}}};
}

std::string cut(const json& value) {
  return value.is_string() ? bluegreen::utf8_prefix(value.get_ref<const std::string&>(), kMaxClientNameBytes)
                           : std::string();
}

const json* elicitation_of(const Peer& peer) {
  const auto it = peer.capabilities.find("elicitation");
  return it != peer.capabilities.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

RequestEra classify_request(const json& params) {
  if (!params.is_object()) return LegacyRequest{};
  const auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object()) return LegacyRequest{};
  const auto claim = meta->find(kMetaProtocolVersion);
  if (claim == meta->end()) return LegacyRequest{};
  if (!claim->is_string())
    return malformed(std::string(kMetaProtocolVersion), "must be a string such as \"2026-07-28\"");
  const std::string version = claim->get<std::string>();
  if (std::find(kModernProtocolVersions.begin(), kModernProtocolVersions.end(), version) ==
      kModernProtocolVersions.end()) {
    json supported = json::array();
    for (const auto v : kModernProtocolVersions) supported.push_back(v);
    return EnvelopeError{modern_error::kUnsupportedProtocolVersion, "Unsupported protocol version",
                         json{{"supported", std::move(supported)}, {"requested", version.substr(0, 40)}}};
  }
  ModernRequest request;
  request.version = version;
  request.peer.modern = true;
  request.peer.features = features_of(version);
  const auto capabilities = meta->find(kMetaClientCapabilities);
  if (capabilities == meta->end()) return malformed(std::string(kMetaClientCapabilities), "is required");
  if (!capabilities->is_object()) return malformed(std::string(kMetaClientCapabilities), "must be an object");
  request.peer.capabilities = *capabilities;
  if (const auto info = meta->find(kMetaClientInfo); info != meta->end()) {
    if (!info->is_object()) return malformed(std::string(kMetaClientInfo), "must be an object {name, version}");
    request.peer.client_name = cut(info->value("name", json()));
    request.peer.client_version = cut(info->value("version", json()));
  }
  if (const auto level = meta->find(kMetaLogLevel); level != meta->end()) {
    const auto parsed = level->is_string() ? parse_log_level(level->get<std::string>()) : std::nullopt;
    if (!parsed) {
      return malformed(std::string(kMetaLogLevel),
                       "must be one of debug, info, notice, warning, error, critical, alert, emergency");
    }
    request.peer.log_level = parsed;
  }
  return request;
}

bool wants_form_elicitation(const Peer& peer) {
  const json* elicitation = elicitation_of(peer);
  return peer.features.elicitation && elicitation != nullptr && (elicitation->empty() || elicitation->contains("form"));
}

bool wants_url_elicitation(const Peer& peer) {
  const json* elicitation = elicitation_of(peer);
  if (peer.modern || !peer.features.url_elicitation || elicitation == nullptr) return false;
  const auto url = elicitation->find("url");
  return url != elicitation->end() && url->is_object();
}

bool renders_apps(const Peer& peer) {
  const json* ui = nullptr;
  if (const auto extensions = peer.capabilities.find("extensions");
      extensions != peer.capabilities.end() && extensions->is_object()) {
    if (const auto it = extensions->find("io.modelcontextprotocol/ui"); it != extensions->end()) ui = &*it;
  }
  if (!peer.features.structured_output || ui == nullptr || !ui->is_object()) return false;
  const auto types = ui->find("mimeTypes");
  if (types == ui->end() || !types->is_array()) return false;
  const auto normalised = [](const std::string& type) {
    std::string out;
    for (const char c : type) {
      if (c != ' ' && c != '\t') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  };
  return std::any_of(types->begin(), types->end(), [&](const json& type) {
    return type.is_string() && normalised(type.get<std::string>()) == "text/html;profile=mcp-app";
  });
}

}  // namespace bluegreen::mcp
