// ThreadSanitizer's defaults for bluegreen-mcp in a BLUEGREEN_TSAN build (the tsan preset only).
//
// MCP clients start the server with a minimal environment (the SDK's StdioClientTransport passes
// HOME, PATH and a few others), so the TSAN_OPTIONS that the tsan test preset sets would not reach
// a server that the e2e tests or the Inspector start: a race would be printed to a stderr that
// nobody reads instead of stopping the server, and the suppressions for uninstrumented libraries
// would be missing. TSAN_OPTIONS, where it is set, still applies on top of these.

// NOLINTNEXTLINE(bugprone-reserved-identifier): the name TSan's runtime looks up
extern "C" const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:suppressions=" BLUEGREEN_TSAN_SUPPRESSIONS;
}
