#pragma once
// Tools that exist only to exercise the protocol through the real binary (transcript and client
// interop tests). Registered by `bluegreen-mcp --enable-test-tools`; never in normal operation.

#include "mcp/tool_registry.h"

namespace bluegreen::tools {

// test_echo: returns its text (and structured content); test_sleep: a cancellable wait that
// reports progress; test_fail: returns an isError result; test_long: returns `bytes` bytes of
// numbered lines.
void register_test_tools(mcp::ToolRegistry& registry);

}  // namespace bluegreen::tools
