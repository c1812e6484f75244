#pragma once
// completion/complete (MCP "Completion", server utilities; the method is in 2024-11-05 too, the
// `completions` capability from 2025-03-26): values for a prompt's argument or a resource
// template's variable.
//
// Thread-safety: a pure function of the registries (which are read-only once the server runs);
// the registries' value functions are called on the caller's thread.

#include "common/result.h"
#include "mcp/prompt.h"
#include "mcp/resource.h"

#include <nlohmann/json.hpp>

#include <cstddef>

namespace bluegreen::mcp {

// The most values one completion/complete result carries (MCP "Completion": at most 100).
inline constexpr std::size_t kMaxCompletionValues = 100;

// In: the request's params, {"ref": REF, "argument": {"name": ARG, "value": PARTIAL}} where REF is
// {"type": "ref/prompt", "name": PROMPT} or {"type": "ref/resource", "uri": URI_TEMPLATE} (a
// template's uriTemplate exactly as resources/templates/list shows it, or a concrete URI that
// matches one); a "context" member, when present, must be an object and is not needed.
// `prompts` and `resources` may be null (the server has none of that kind).
// Out: {"completion": {"values": [...], "total": N, "hasMore": bool}}: the argument's values that
// start with PARTIAL, ASCII case ignored, in their order; at most kMaxCompletionValues of them,
// `total` counting all that match and `hasMore` saying some were left out.
// Errors (kInvalidArgument, for a -32602 Invalid params reply; client values in the message are
// cut to 100 bytes): `ref` or `argument` missing or not an object, a `context` that is not an
// object, an unknown ref type, prompt or template, a missing or non-string argument name or value,
// an argument the prompt or template does not have.
bluegreen::Result<nlohmann::json> complete_argument(const PromptRegistry* prompts, const ResourceRegistry* resources,
                                                    const nlohmann::json& params);

}  // namespace bluegreen::mcp
