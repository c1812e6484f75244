// Fuzz target: a whole MCP session. The input is what a client writes on the server's stdin; it
// is read by the real StdioTransport (newline framing, CRLF, blank lines, an oversized-line limit)
// and handled by a real mcp::Server with the product's tool registry (the deployment tools with no
// apps configured, and the test tools), its prompts, schema validation of arguments, progress,
// logging, cancellation, and elicitation (through one harness-only tool, fuzz_elicit).
//
// Nothing can reach the network: no app is configured, and the executor and health probe given to
// the deployment tools abort if they are ever called.
//
// Invariants, for every input:
//  - no crash, no sanitizer report, no hang (libFuzzer's -timeout);
//  - every message the server sends is one line of valid UTF-8 JSON, and is a well-formed
//    response, notification or server request;
//  - no "Internal error" reply: that is an exception escaping a handler, i.e. a bug;
//  - a request other than tools/call, a rejected line and an oversized line get exactly one reply
//    before on_message returns, with the right id; a notification or a response gets none;
//  - no id gets more replies than the number of requests that carried it;
//  - the server's own requests (elicitation/create) use fresh "srv-N" ids;
//  - shutdown completes within its grace period, nothing is in flight afterwards, and nothing is
//    sent after it returned.
//
// Mutations: half structure-aware (json_mutator.h: one value in one line, or whole lines), half
// libFuzzer's own.

#include "config/config.h"
#include "deployment/approvals.h"
#include "deployment/services.h"
#include "fuzz_common.h"
#include "json_mutator.h"
#include "mcp/json_rpc.h"
#include "mcp/prompt.h"
#include "mcp/server.h"
#include "mcp/tool_registry.h"
#include "prompts/workflow_prompts.h"
#include "remote/executor.h"
#include "remote/http_probe.h"
#include "tools/deployment_tools.h"
#include "tools/test_tools.h"
#include "transport/stdio_transport.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using fuzz::json;
using namespace std::chrono_literals;

// Small, so the fuzzer reaches the transport's oversized-line path with short inputs.
constexpr std::size_t kMaxMessageBytes = 4096;
constexpr std::chrono::milliseconds kShutdownGrace = 10s;

// --- The outside world: must never be touched without configured apps -----------------------

class NoNetworkExecutor final : public remote::Executor {
 public:
  bluegreen::Result<remote::CommandResult> run(const std::string& host, const std::string& command,
                                               const remote::CommandOptions&) override {
    fuzz::fail("a remote command ran with no apps configured", host + ": " + command);
  }
  bluegreen::Result<std::unique_ptr<remote::HeldProcess>> hold(const std::string& host, const std::string& command,
                                                               const std::string&,
                                                               const remote::CommandOptions&) override {
    fuzz::fail("a remote process was started with no apps configured", host + ": " + command);
  }
};

// A tool that asks the client a question, so the fuzzer drives the server's own requests
// (elicitation/create) and the matching of the client's responses to them.
mcp::Tool elicit_tool() {
  mcp::ToolDefinition def;
  def.name = "fuzz_elicit";
  def.description = "Fuzz harness only: asks the user to confirm through elicitation/create.";
  def.input_schema = json{{"type", "object"},
                          {"properties", {{"question", {{"type", "string"}, {"maxLength", 200}}}}},
                          {"additionalProperties", false}};
  return {def, [](const json& args, mcp::ToolContext& context) {
            const json schema{{"type", "object"},
                              {"properties",
                               {{"approve", {{"type", "boolean"}}},
                                {"note", {{"type", "string"}, {"maxLength", 50}}},
                                {"count", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10}}}}},
                              {"required", {"approve"}}};
            // Long timeout: the call ends when the client answers, cancels, or at shutdown.
            auto answer = context.elicit(args.value("question", std::string("Proceed?")), schema, 60s);
            if (!answer) return mcp::ToolResult::error(answer.error().message);
            return mcp::ToolResult::text(answer->action + " " + answer->content.dump());
          }};
}

// Everything that lives as long as the process: the registries are read-only once filled.
struct World {
  config::Config config;  // no apps
  NoNetworkExecutor executor;
  deployment::ApprovalBook approvals;
  tools::DeploymentToolsContext context{
      config, deployment::Services{executor, approvals, [](const std::string& url, std::chrono::milliseconds) {
                                     fuzz::fail("a health probe ran with no apps configured", url);
                                     return remote::HealthReport{};
                                   }}};
  mcp::ToolRegistry tools;
  mcp::PromptRegistry prompts;
  int devnull = -1;

  World() {
    tools::register_deployment_tools(tools, context);
    tools::register_test_tools(tools);
    tools.add(elicit_tool());
    prompts::register_workflow_prompts(prompts);
    devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) fuzz::fail("cannot open /dev/null");
  }
};

World& world() {
  static World* instance = new World();  // never destroyed: worker threads are joined per input
  return *instance;
}

// --- The client's view: checks every message the server sends --------------------------------

class CheckingSink final : public mcp::MessageSink {
 public:
  explicit CheckingSink(mcp::MessageSink& next) : next_(next) {}

  void send(std::string line) override {
    const json message = fuzz::parse_outgoing(line);
    FUZZ_CHECK(message.is_object() && message.value("jsonrpc", json()) == "2.0", line);
    {
      std::lock_guard lock(mutex_);
      FUZZ_CHECK(!closed_, line);  // nothing may be sent after shutdown() returned
      if (message.contains("method")) {
        check_request_or_notification(message, line);
      } else {
        check_response(message, line);
        ++replies_[message["id"].dump()];
        if (std::this_thread::get_id() == reader_) synchronous_.push_back(message["id"]);
      }
    }
    changed_.notify_all();
    next_.send(std::move(line));
  }

  // Replies sent on the reader thread since the last call (the ids, in order).
  std::vector<json> take_synchronous() {
    std::lock_guard lock(mutex_);
    return std::exchange(synchronous_, {});
  }

  std::size_t replies(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = replies_.find(key);
    return it == replies_.end() ? 0 : it->second;
  }

  // Waits (bounded) until `key` has more than `seen_replies` replies or the server sent more than
  // `seen_requests` requests of its own. Used to let a quick tool call settle before the next line,
  // so a session behaves the same way each time it is replayed.
  void wait_for_progress(const std::string& key, std::size_t seen_replies, std::size_t seen_requests) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 2s, [&] {
      const auto it = replies_.find(key);
      return (it != replies_.end() && it->second > seen_replies) || server_requests_.size() > seen_requests;
    });
  }

  std::size_t server_requests() {
    std::lock_guard lock(mutex_);
    return server_requests_.size();
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

  [[nodiscard]] std::map<std::string, std::size_t> all_replies() {
    std::lock_guard lock(mutex_);
    return replies_;
  }

  void set_reader(std::thread::id reader) {
    std::lock_guard lock(mutex_);
    reader_ = reader;
  }

 private:
  void check_request_or_notification(const json& message, const std::string& line) {
    FUZZ_CHECK(message["method"].is_string(), line);
    FUZZ_CHECK(message.contains("params") && message["params"].is_object(), line);
    const std::string& method = message["method"].get_ref<const std::string&>();
    if (message.contains("id")) {
      // The server's own request: only elicitation/create, each with a fresh id.
      FUZZ_CHECK(method == "elicitation/create", line);
      FUZZ_CHECK(message["id"].is_string(), line);
      const auto& id = message["id"].get_ref<const std::string&>();
      FUZZ_CHECK(id.rfind("srv-", 0) == 0, line);
      FUZZ_CHECK(server_requests_.insert(id).second, line);
      return;
    }
    FUZZ_CHECK(method == "notifications/progress" || method == "notifications/message" ||
                   method == "notifications/cancelled",
               line);
  }

  static void check_response(const json& message, const std::string& line) {
    FUZZ_CHECK(message.contains("id"), line);
    if (message.contains("error")) {
      fuzz::check_error_reply(message);
      FUZZ_CHECK(message["error"]["code"] != mcp::error_code::kInternalError, line);
      return;
    }
    FUZZ_CHECK(message.size() == 3 && fuzz::is_valid_id(message["id"]), line);
    FUZZ_CHECK(message.contains("result") && message["result"].is_object(), line);
  }

  mcp::MessageSink& next_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::size_t> replies_;  // by id.dump(); "null" for replies without an id
  std::set<std::string> server_requests_;
  std::vector<json> synchronous_;
  std::thread::id reader_;
  bool closed_ = false;
};

// --- The server's input: classifies each line itself and checks what the server did with it ---

class CheckingHandler final : public mcp::MessageHandler {
 public:
  CheckingHandler(mcp::Server& server, CheckingSink& sink) : server_(server), sink_(sink) {}

  void on_message(std::string_view text) override {
    const mcp::ParsedMessage parsed = mcp::parse_message(text);
    const std::size_t server_requests = sink_.server_requests();
    std::string call_key;
    std::size_t call_replies = 0;
    bool quick_call = false;
    if (const auto* request = std::get_if<mcp::Request>(&parsed)) {
      call_key = request->id.key();
      call_replies = sink_.replies(call_key);
      const auto name = request->params.find("name");
      quick_call = request->method == "tools/call" && !(name != request->params.end() && *name == "test_sleep");
    }

    server_.on_message(text);
    const std::vector<json> replies = sink_.take_synchronous();

    if (const auto* rejected = std::get_if<mcp::Rejected>(&parsed)) {
      FUZZ_CHECK(replies.size() == 1 && replies.front() == rejected->reply["id"], text);
      allowed_[rejected->reply["id"].dump()] += 1;
    } else if (const auto* request = std::get_if<mcp::Request>(&parsed)) {
      allowed_[call_key] += 1;
      if (request->method == "tools/call") {
        FUZZ_CHECK(replies.size() <= 1, text);
        if (replies.empty() && quick_call) sink_.wait_for_progress(call_key, call_replies, server_requests);
      } else {
        FUZZ_CHECK(replies.size() == 1, text);
      }
      for (const auto& id : replies) FUZZ_CHECK(id == request->id.value, text);
    } else {
      FUZZ_CHECK(replies.empty(), text);  // notifications and responses are not answered
    }
  }

  void on_oversized_message(std::size_t limit_bytes) override {
    server_.on_oversized_message(limit_bytes);
    const std::vector<json> replies = sink_.take_synchronous();
    FUZZ_CHECK(replies.size() == 1 && replies.front().is_null(), "oversized line");
    allowed_["null"] += 1;
  }

  // Replies each id may have had: one per line that carried it.
  [[nodiscard]] const std::map<std::string, std::size_t>& allowed() const { return allowed_; }

 private:
  mcp::Server& server_;
  CheckingSink& sink_;
  std::map<std::string, std::size_t> allowed_;
};

// The input as a file descriptor the transport reads to its end, like a client's stdin.
int input_fd(const std::uint8_t* data, std::size_t size) {
  const int fd = ::memfd_create("fuzz-input", MFD_CLOEXEC);
  if (fd < 0) fuzz::fail("memfd_create failed");
  for (std::size_t written = 0; written < size;) {
    const ssize_t n = ::write(fd, data + written, size - written);
    if (n <= 0) fuzz::fail("writing the input to the memfd failed");
    written += static_cast<std::size_t>(n);
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) fuzz::fail("lseek failed");
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Log everything (so formatting of every log line runs) into nothing.
  auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = world();
  const int fd = input_fd(data, size);
  transport::StdioTransport transport(fd, w.devnull, kMaxMessageBytes);
  CheckingSink sink(transport);
  sink.set_reader(std::this_thread::get_id());
  {
    mcp::Server server(mcp::ServerInfo{"bluegreen-mcp", "Blue/Green Deployment", "0.0.0-fuzz", "Fuzzing.", ""}, w.tools,
                       sink, mcp::ServerLimits{4}, &w.prompts);
    CheckingHandler handler(server, sink);
    transport.run(handler);

    FUZZ_CHECK(server.shutdown(kShutdownGrace), "shutdown did not finish within its grace period");
    FUZZ_CHECK(server.calls_in_flight() == 0, "calls in flight after shutdown");
    FUZZ_CHECK(server.client_requests_pending() == 0, "server requests pending after shutdown");
    sink.close();

    const auto& allowed = handler.allowed();
    for (const auto& [key, count] : sink.all_replies()) {
      const auto it = allowed.find(key);
      FUZZ_CHECK(it != allowed.end() && count <= it->second, "more replies than requests for id " + key);
    }
  }
  ::close(fd);
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  return fuzz::JsonLineMutator(seed).mutate(data, size, max_size);
}
