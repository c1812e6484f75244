#include "transport/streamable_http.h"

#include "transport/http_session.h"

#include "common/base64.h"
#include "common/host.h"
#include "mcp/json_rpc.h"
#include "mcp/protocol_version.h"
#include "mcp/request_meta.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include "transport/streamable_http_state.h"

namespace bluegreen::transport {

using http::Session;
using http::Stream;
using http_detail::accepts;
using http_detail::error_body;
using http_detail::kEventStream;
using http_detail::kJson;
using http_detail::kKeepAlive;
using http_detail::kSessionHeader;
using http_detail::refuse;
using httplib::Request;
using httplib::Response;
using mcp::json;

namespace {

bool supported_version(const std::string& version) {
  return std::find(mcp::kSupportedProtocolVersions.begin(), mcp::kSupportedProtocolVersions.end(), version) !=
         mcp::kSupportedProtocolVersions.end();
}

}  // namespace

void StreamableHttpServer::State::configure() {
  const std::size_t threads = options.worker_threads != 0 ? options.worker_threads : 2 * options.max_sessions + 64;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_read_timeout(static_cast<time_t>(options.io_timeout.count()), 0);
  server.set_write_timeout(static_cast<time_t>(options.io_timeout.count()), 0);
  server.set_keep_alive_timeout(5);
  server.set_payload_max_length(options.max_message_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let another process of the
  // same user bind the same port beside this one.
  // TCP_NODELAY (inherited by accepted sockets): cpp-httplib writes a reply's headers and body in
  // two sends, and without it the body waits for the client's delayed ACK, 40 ms a reply.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  });
  server.set_keep_alive_max_count(1000);  // cpp-httplib's default closes a connection every 5 requests
  server.set_pre_routing_handler([this](const Request& req, Response& res) {
    return check_access(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                  : httplib::Server::HandlerResponse::Handled;
  });
  server.Post("/mcp", [this](const Request& req, Response& res) { handle_post(req, res); });
  server.Get("/mcp", [this](const Request& req, Response& res) { handle_get(req, res); });
  server.Delete("/mcp", [this](const Request& req, Response& res) { handle_delete(req, res); });
  for (const char* method : {"PUT", "PATCH", "OPTIONS"}) {
    const auto not_allowed = [](const Request&, Response& res) {
      res.set_header("Allow", "GET, POST, DELETE");
      refuse(res, 405, "Method not allowed: use POST, GET or DELETE");
    };
    if (std::string(method) == "PUT") server.Put("/mcp", not_allowed);
    if (std::string(method) == "PATCH") server.Patch("/mcp", not_allowed);
    if (std::string(method) == "OPTIONS") server.Options("/mcp", not_allowed);
  }
  // Errors httplib answers by itself (404, 413, 400): a JSON-RPC error body instead of none.
  server.set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Handled;
    const std::string what = res.status == 404   ? "Not found: the MCP endpoint is /mcp"
                             : res.status == 413 ? "Payload too large"
                                                 : "Bad request";
    res.set_content(error_body(mcp::error_code::kInvalidRequest, what), kJson);
    return httplib::Server::HandlerResponse::Handled;
  }));
}

bool StreamableHttpServer::State::check_access(const Request& req, Response& res) const {
  if (!policy.host_allowed(req.get_header_value("Host"))) {
    refuse(res, 421,
           "Misdirected request: Host \"" + req.get_header_value("Host").substr(0, 100) +
               "\" is not this server's (allow a name with --allow-host)");
    return false;
  }
  std::optional<std::string> origin;
  if (req.has_header("Origin")) origin = req.get_header_value("Origin");
  if (!policy.origin_allowed(origin)) {
    refuse(res, 403, "Forbidden: Origin \"" + origin->substr(0, 100) + "\" is not allowed (see --allow-origin)");
    return false;
  }
  // cpp-httplib 0.11.4 applies its body limit to Content-Length only: a chunked body would be read
  // whole, however large. No MCP client sends one, so it is refused before it is read.
  if (req.has_header("Transfer-Encoding")) {
    refuse(res, 411, "Length required: send the body with Content-Length, not Transfer-Encoding");
    return false;
  }
  if (options.tokens) {
    const bool sent = req.has_header("Authorization");
    if (!options.tokens->check(req.get_header_value("Authorization"))) {
      res.set_header("WWW-Authenticate", sent ? R"(Bearer realm="bluegreen-mcp", error="invalid_token")"
                                              : R"(Bearer realm="bluegreen-mcp")");
      refuse(res, 401,
             sent ? "Unauthorized: the bearer token is not accepted" : "Unauthorized: a bearer token is required");
      return false;
    }
  }
  return true;
}

std::shared_ptr<Session> StreamableHttpServer::State::session_of(const Request& req, Response& res) {
  if (!req.has_header(kSessionHeader)) {
    refuse(res, 400, "Bad request: Mcp-Session-Id header is required (send initialize first)");
    return nullptr;
  }
  // A session belongs to the token that started it: another token's holder does not find it.
  const std::string label =
      options.tokens ? options.tokens->check(req.get_header_value("Authorization")).value_or("") : std::string();
  std::lock_guard lock(sessions_mu);
  const auto it = sessions.find(req.get_header_value(kSessionHeader));
  if (it == sessions.end() || it->second->label != label) {
    refuse(res, 404, "Session not found: it ended or expired; initialize a new one");
    return nullptr;
  }
  std::lock_guard session_lock(it->second->mu);
  it->second->last_used = std::chrono::steady_clock::now();
  return it->second;
}

bool StreamableHttpServer::State::make_room(const std::string& label) {
  std::shared_ptr<Session> victim;
  {
    std::lock_guard lock(sessions_mu);
    if (stopping) return false;
    const auto own =
        static_cast<std::size_t>(std::count_if(sessions.begin(), sessions.end(),
                                               [&label](const auto& entry) { return entry.second->label == label; }));
    // A token at its quota gives up one of its own sessions; else, at the cap, anyone's.
    const bool at_quota = options.tokens && own >= options.max_sessions_per_token;
    if (!at_quota && sessions.size() < options.max_sessions) return true;
    auto cutoff = std::chrono::steady_clock::now() - options.evict_after_idle;
    for (const auto& [id, session] : sessions) {
      if ((!at_quota || session->label == label) && session->idle_since(cutoff)) {
        victim = session;
        cutoff = session->last_use();
      }
    }
    if (!victim) return false;
    sessions.erase(victim->id);
  }
  end_session(victim, "the least recently used idle session, ended to make room for a new one");
  return true;
}

std::shared_ptr<Session> StreamableHttpServer::State::new_session(const std::string& label, Response& res, bool kept) {
  if (kept && !make_room(label)) {
    refuse(res, 503,
           "Server busy: the sessions this token may open (" + std::to_string(options.max_sessions_per_token) +
               ") or the server's (" + std::to_string(options.max_sessions) +
               ") are open and each has a call or stream running; end one (DELETE) or retry when one ends",
           mcp::error_code::kServerBusy);
    return nullptr;
  }
  auto id = http::random_hex(16);
  if (!id) {
    refuse(res, 500, id.error().message, mcp::error_code::kInternalError);
    return nullptr;
  }
  auto session = std::make_shared<Session>(*id);
  session->label = label;
  {
    std::lock_guard lock(factory_mu);
    session->server = factory(*session, label);
  }
  return session;
}

bool StreamableHttpServer::State::deliver(Session& session, const std::string& text) {
  std::lock_guard lock(session.deliver_mutex);
  if (session.ended) return false;
  session.server->on_message(text);
  return true;
}

std::optional<mcp::ParsedMessage> StreamableHttpServer::State::read_post(const Request& req, Response& res) {
  if (!accepts(req, kJson) || !accepts(req, kEventStream)) {
    refuse(res, 406, "Not acceptable: Accept must admit application/json and text/event-stream");
    return std::nullopt;
  }
  const std::string content_type = req.get_header_value("Content-Type");
  if (content_type.substr(0, content_type.find(';')) != kJson) {
    refuse(res, 415, "Unsupported media type: Content-Type must be application/json");
    return std::nullopt;
  }
  auto parsed = mcp::parse_message(req.body);
  if (auto* rejected = std::get_if<mcp::Rejected>(&parsed)) {
    res.status = 400;
    res.set_content(mcp::serialize(rejected->reply), kJson);
    return std::nullopt;
  }
  return parsed;
}

std::shared_ptr<Session> StreamableHttpServer::State::session_for_post(const Request& req, Response& res,
                                                                       bool initialize) {
  if (!initialize) return session_of(req, res);
  if (req.has_header(kSessionHeader)) {
    refuse(res, 400, "Bad request: initialize starts a new session; send it without Mcp-Session-Id");
    return nullptr;
  }
  std::string label;
  if (options.tokens) label = options.tokens->check(req.get_header_value("Authorization")).value_or("");
  return new_session(label, res, true);
}

bool StreamableHttpServer::State::keep_if_initialized(const std::shared_ptr<Session>& session,
                                                      const std::shared_ptr<Stream>& stream, Response& res) {
  bool accepted = false;
  {
    std::lock_guard lock(session->mu);
    accepted = stream->done && stream->events.size() == 1 &&
               json::parse(stream->events.front(), nullptr, false).contains("result");
  }
  if (!accepted) return true;  // the error reply goes out; no session is kept
  std::lock_guard sessions_lock(sessions_mu);
  if (stopping) {
    refuse(res, 503, "Server busy: the server is stopping", mcp::error_code::kServerBusy);
    return false;
  }
  sessions.emplace(session->id, session);
  res.set_header(kSessionHeader, session->id);
  spdlog::info("http session {}… started: client {}{}, protocol {}", session->id.substr(0, 8),
               json(session->server->client_name()).dump(-1, ' ', false, json::error_handler_t::replace),
               session->label.empty() ? "" : " with token \"" + session->label + "\"",
               session->server->protocol_version());
  return true;
}

void StreamableHttpServer::State::handle_post(const Request& req, Response& res) {
  auto read = read_post(req, res);
  if (!read) return;
  const mcp::ParsedMessage& parsed = *read;
  const auto* request = std::get_if<mcp::Request>(&parsed);
  const auto* notification = std::get_if<mcp::Notification>(&parsed);
  if (request != nullptr || notification != nullptr) {
    auto era = mcp::classify_request(request != nullptr ? request->params : notification->params);
    if (!std::holds_alternative<mcp::LegacyRequest>(era)) {
      handle_modern(req, res, parsed, era);
      return;
    }
  }
  const bool initialize = request != nullptr && request->method == "initialize";
  if (req.has_header("MCP-Protocol-Version") && !initialize &&
      !supported_version(req.get_header_value("MCP-Protocol-Version"))) {
    const std::string sent = req.get_header_value("MCP-Protocol-Version").substr(0, 40);
    refuse(res, 400,
           std::find(mcp::kModernProtocolVersions.begin(), mcp::kModernProtocolVersions.end(), sent) !=
                   mcp::kModernProtocolVersions.end()
               ? "Bad request: MCP-Protocol-Version \"" + sent +
                     "\" needs the request's params._meta to claim it (\"io.modelcontextprotocol/protocolVersion\")"
               : "Bad request: unsupported MCP-Protocol-Version \"" + sent + "\"");
    return;
  }
  auto session = session_for_post(req, res, initialize);
  if (!session) return;

  if (request == nullptr) {  // a notification, or the client's answer to the server's request
    if (const auto* note = std::get_if<mcp::Notification>(&parsed);
        note != nullptr && note->method == "notifications/cancelled" && note->params.is_object() &&
        note->params.contains("requestId")) {
      session->end_stream(note->params["requestId"].dump());
    }
    if (!deliver(*session, req.body)) {
      refuse(res, 404, "Session not found: it ended");
      return;
    }
    res.status = 202;
    return;
  }

  const std::string key = request->id.key();
  auto stream = std::make_shared<Stream>();
  {
    std::lock_guard lock(session->mu);
    if (session->requests.count(key) != 0) {
      refuse(res, 400, "Bad request: request id " + key.substr(0, 40) + " is already running in this session");
      return;
    }
    session->requests.emplace(key, stream);
  }
  if (!deliver(*session, req.body)) {
    refuse(res, 404, "Session not found: it ended");
    return;
  }
  if (initialize && !keep_if_initialized(session, stream, res)) return;
  respond(res, session, stream);
}

void StreamableHttpServer::State::respond(Response& res, const std::shared_ptr<Session>& session,
                                          const std::shared_ptr<Stream>& stream) {
  {
    std::lock_guard lock(session->mu);
    if (stream->done && stream->events.size() == 1) {
      res.set_content(stream->events.front(), kJson);
      return;
    }
  }
  stream_events(res, session, stream);
}

void StreamableHttpServer::State::stream_events(Response& res, const std::shared_ptr<Session>& session,
                                                const std::shared_ptr<Stream>& stream) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      kEventStream,
      [this, session, stream](std::size_t, httplib::DataSink& sink) {
        std::unique_lock lock(session->mu);
        session->changed.wait_for(lock, kKeepAlive,
                                  [&] { return !stream->events.empty() || stream->done || stopping.load(); });
        std::string chunk;
        while (!stream->events.empty()) {
          chunk += "event: message\ndata: " + stream->events.front() + "\n\n";
          stream->events.pop_front();
        }
        const bool finished = stream->done || stopping.load();
        lock.unlock();
        if (chunk.empty() && !finished) chunk = ": keep-alive\n\n";
        if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) {
          std::lock_guard gone_lock(session->mu);
          stream->gone = true;
          return false;
        }
        if (finished) sink.done();
        return true;
      },
      [session, stream](bool) {
        std::lock_guard lock(session->mu);
        if (!stream->done) stream->gone = true;
        if (session->standalone == stream) session->standalone.reset();
      });
}

void StreamableHttpServer::State::handle_get(const Request& req, Response& res) {
  if (!accepts(req, kEventStream)) {
    refuse(res, 406, "Not acceptable: the GET stream is text/event-stream");
    return;
  }
  auto session = session_of(req, res);
  if (!session) return;
  auto stream = std::make_shared<Stream>();
  {
    std::lock_guard lock(session->mu);
    if (session->ended) {
      refuse(res, 404, "Session not found: it ended");
      return;
    }
    if (session->standalone && !session->standalone->gone && !session->standalone->done) {
      refuse(res, 409, "Conflict: this session already has a GET stream open");
      return;
    }
    session->standalone = stream;
  }
  stream_events(res, session, stream);
}

void StreamableHttpServer::State::handle_delete(const Request& req, Response& res) {
  auto session = session_of(req, res);
  if (!session) return;
  {
    std::lock_guard lock(sessions_mu);
    sessions.erase(session->id);
  }
  end_session(session, "the client deleted it");
  res.status = 200;
}

bool StreamableHttpServer::State::end_session(const std::shared_ptr<Session>& session, const char* why) const {
  {
    std::lock_guard lock(session->deliver_mutex);
    session->end_streams();
  }
  const bool ended = session->server->shutdown(options.shutdown_grace);
  spdlog::info("http session {}… ended: {}", session->id.substr(0, 8), why);
  if (!ended) {
    spdlog::error("http session {}…: a call ignored cancellation; its server is left running",
                  session->id.substr(0, 8));
    static_cast<void>(session->server.release());  // destroying it under a running call would crash
  }
  return ended;
}

void StreamableHttpServer::State::reap_idle() {
  // Every 5 s, or twice per idle timeout when that is shorter (tests use a second).
  const auto every = std::clamp<std::chrono::milliseconds>(options.session_idle_timeout / 2,
                                                           std::chrono::milliseconds(100), std::chrono::seconds(5));
  std::unique_lock lock(sessions_mu);
  while (!stopping) {
    reaper_wake.wait_for(lock, every);
    if (stopping) break;
    const auto cutoff = std::chrono::steady_clock::now() - options.session_idle_timeout;
    std::vector<std::shared_ptr<Session>> idle;
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (it->second->idle_since(cutoff)) {
        idle.push_back(it->second);
        it = sessions.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (const auto& session : idle) end_session(session, "idle");
    lock.lock();
  }
}

StreamableHttpServer::StreamableHttpServer(Options options, SessionFactory factory)
    : state_(std::make_unique<State>(std::move(options), std::move(factory))) {}

StreamableHttpServer::~StreamableHttpServer() { stop(); }

bluegreen::Status StreamableHttpServer::start() {
  State& s = *state_;
  if (!host::is_loopback(s.options.host) && !s.options.tokens) {
    return bluegreen::Error{"refusing to listen on " + s.options.host +
                            ", which is not a loopback address, without bearer tokens (--tokens-file FILE)"};
  }
  s.configure();
  const std::string bind_host = s.options.host == "localhost" ? "127.0.0.1" : s.options.host;
  errno = 0;
  const int bound = s.options.port == 0 ? s.server.bind_to_any_port(bind_host)
                                        : (s.server.bind_to_port(bind_host, s.options.port) ? s.options.port : -1);
  if (bound < 0) {
    const int why = errno;
    return bluegreen::Error{"cannot listen on " + host::authority_of(bind_host, s.options.port) + ": " +
                            (why != 0 ? std::error_code(why, std::generic_category()).message() : "unknown error")};
  }
  s.bound_port = bound;
  s.listener = std::thread([&s] { s.server.listen_after_bind(); });
  while (!s.server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.reaper = std::thread([&s] { s.reap_idle(); });
  return bluegreen::ok_status();
}

int StreamableHttpServer::port() const { return state_->bound_port; }

std::string StreamableHttpServer::endpoint_url() const {
  return "http://" + host::authority_of(state_->options.host, state_->bound_port) + "/mcp";
}

bool StreamableHttpServer::stop() {
  State& s = *state_;
  if (s.stopping.exchange(true)) return true;
  {
    std::lock_guard lock(s.sessions_mu);
    s.reaper_wake.notify_all();
  }
  if (s.reaper.joinable()) s.reaper.join();
  std::map<std::string, std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(s.sessions_mu);
    sessions.swap(s.sessions);
  }
  bool all_ended = true;
  for (const auto& [id, session] : sessions) all_ended = s.end_session(session, "the server is stopping") && all_ended;
  std::vector<std::shared_ptr<Session>> answering;
  {
    std::lock_guard lock(s.sessions_mu);
    for (const auto& weak : s.transient) {
      if (auto session = weak.lock()) answering.push_back(std::move(session));
    }
    s.transient.clear();
  }
  for (const auto& session : answering) all_ended = s.end_session(session, "the server is stopping") && all_ended;
  s.server.stop();
  if (s.listener.joinable()) s.listener.join();
  return all_ended;
}

std::size_t StreamableHttpServer::session_count() const {
  std::lock_guard lock(state_->sessions_mu);
  return state_->sessions.size();
}

}  // namespace bluegreen::transport
