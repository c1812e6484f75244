#include "web/approval_pages.h"

#include "common/host.h"
#include "web/approval_page_html.h"
#include "web/approval_request.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

namespace bluegreen::web {
namespace {

using Clock = std::chrono::steady_clock;
using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr std::size_t kMaxPages = 64;                   // pages kept at once
constexpr auto kRetention = std::chrono::minutes(10);   // an ended page is kept this long past its expiry
constexpr std::size_t kMaxBody = 4096;                  // bytes; a longer request body is refused (413)
constexpr auto kPoll = std::chrono::milliseconds(100);  // wait() compares the clock to the expiry this often
constexpr time_t kIoTimeoutSeconds = 5;
constexpr std::string_view kCookieName = "bluegreen_page";
constexpr const char* kHtml = "text/html; charset=utf-8";
// Referrer-Policy is same-origin, not no-referrer: under no-referrer, browsers send "Origin: null" with
// a form's POST (Fetch, "append a request Origin header"), and the page's own POST would be refused.
// The pages link to nothing outside their origin, so no URL of theirs reaches anyone else either way.
constexpr std::array<std::pair<const char*, const char*>, 6> kSecurityHeaders{{
    {"Cache-Control", "no-store"},
    {"Referrer-Policy", "same-origin"},
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Content-Security-Policy",
     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"Content-Type", kHtml},
}};

enum class PageStatus { kPending, kApproved, kRejected, kExpired, kWithdrawn };

struct Page {
  std::string handle;       // OpenedPage::id
  std::string link_id;      // secret: /approve/<link_id>, single use
  std::string page_id;      // secret: /page/<page_id>
  std::string cookie;       // secret: the session cookie's value
  std::string form_secret;  // secret: the form's hidden field
  ApprovalPageContent content;
  Clock::time_point expires_at;
  PageStatus status = PageStatus::kPending;
  bool link_used = false;
  std::optional<bool> outcome_ok;  // after show_outcome()
  std::string text;                // the outcome, or why the page was withdrawn
};

// Whether one of the request's cookies named kCookieName has the value `expected` (every Cookie
// header, every such cookie, each compared in constant time).
bool has_cookie(const Request& req, std::string_view expected) {
  bool found = false;
  const auto [begin, end] = req.headers.equal_range("Cookie");
  for (auto header = begin; header != end; ++header) {
    if (request::cookie_matches(header->second, kCookieName, expected)) found = true;
  }
  return found;
}

void reply(Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kHtml);
}

void redirect_to_page(Response& res, const Page& page) {
  res.status = 303;
  res.set_header("Location", "/page/" + page.page_id);
}

PageAnswer answer_of(PageStatus status) {
  switch (status) {
    case PageStatus::kApproved: return PageAnswer::kApproved;
    case PageStatus::kRejected: return PageAnswer::kRejected;
    case PageStatus::kExpired: return PageAnswer::kExpired;
    case PageStatus::kPending:
    case PageStatus::kWithdrawn: break;
  }
  return PageAnswer::kWithdrawn;
}

html::Shown shown_of(const Page& page) {
  switch (page.status) {
    case PageStatus::kPending: return html::Shown::kPending;
    case PageStatus::kApproved:
      if (!page.outcome_ok) return html::Shown::kSwitching;
      return *page.outcome_ok ? html::Shown::kSucceeded : html::Shown::kFailed;
    case PageStatus::kRejected: return html::Shown::kRejected;
    case PageStatus::kExpired: return html::Shown::kExpired;
    case PageStatus::kWithdrawn: break;
  }
  return html::Shown::kWithdrawn;
}

}  // namespace

struct ApprovalPages::State {
  explicit State(Options opts) : options(std::move(opts)) {}

  Options options;

  // The pages and everything about them.
  std::mutex mu;
  std::condition_variable_any cv;                      // a page changed, the server is stopping, or a wait() returned
  std::map<std::string, std::shared_ptr<Page>> pages;  // by handle
  std::uint64_t next_handle = 1;
  bool stopping = false;
  int waiters = 0;  // wait() calls in progress

  // The listener: set once by the first open() that binds, then read only.
  std::mutex listener_mu;
  std::unique_ptr<httplib::Server> server;
  std::thread listener;
  std::atomic<bool> listen_returned{false};
  std::atomic<int> port{0};
  std::string authority;  // host:port, the only Host accepted
  std::string origin;     // http://host:port, the only Origin accepted on POST

  bluegreen::Status start_listener_locked();
  void configure(httplib::Server& srv);
  void shutdown();

  // Under `mu`.
  void expire_if_due(Page& page, Clock::time_point now);
  void prune(Clock::time_point now);
  std::shared_ptr<Page> find_secret(std::string Page::*field, std::string_view value) const;
  std::string render(const Page& page, Clock::time_point now) const;

  // Handlers (on the listener's threads).
  HandlerResponse check_host(const Request& req, Response& res) const;
  void on_link(const Request& req, Response& res);
  void on_page_get(const Request& req, Response& res);
  void on_page_post(const Request& req, Response& res);
  [[nodiscard]] bool same_origin(const Request& req) const;
};

bluegreen::Status ApprovalPages::State::start_listener_locked() {
  if (server) {
    if (listen_returned) return Error("approval pages: the listener on " + authority + " has stopped");
    return ok_status();
  }
  auto srv = std::make_unique<httplib::Server>();
  configure(*srv);
  // "localhost" is bound as 127.0.0.1: what the name resolves to is not left to the resolver.
  const std::string bind_host = options.host == "localhost" ? "127.0.0.1" : options.host;
  errno = 0;
  const int bound = options.port == 0 ? srv->bind_to_any_port(bind_host)
                                      : (srv->bind_to_port(bind_host, options.port) ? options.port : -1);
  const int bind_errno = errno;
  if (bound <= 0) {
    const std::string why =
        bind_errno != 0 ? std::error_code(bind_errno, std::generic_category()).message() : std::string("unknown error");
    return Error("approval pages: cannot listen on " + host::authority_of(bind_host, options.port) + ": " + why);
  }
  authority = host::authority_of(options.host, bound);
  origin = "http://" + authority;
  port = bound;
  server = std::move(srv);
  httplib::Server* running = server.get();
  listener = std::thread([this, running] {
    running->listen_after_bind();
    listen_returned = true;
  });
  // Until the accept loop runs, Server::stop() would not reach it: the destructor relies on this.
  while (!running->is_running() && !listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return ok_status();
}

void ApprovalPages::State::configure(httplib::Server& srv) {
  srv.set_read_timeout(kIoTimeoutSeconds, 0);
  srv.set_write_timeout(kIoTimeoutSeconds, 0);
  srv.set_keep_alive_max_count(1);  // one request per connection
  srv.set_payload_max_length(kMaxBody);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let another process of the
  // same user bind the same port beside this one.
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  srv.set_pre_routing_handler([this](const Request& req, Response& res) { return check_host(req, res); });
  srv.Get(R"(/approve/([0-9a-f]{64}))", [this](const Request& req, Response& res) { on_link(req, res); });
  srv.Get(R"(/page/([0-9a-f]{64}))", [this](const Request& req, Response& res) { on_page_get(req, res); });
  srv.Post(R"(/page/([0-9a-f]{64}))", [this](const Request& req, Response& res) { on_page_post(req, res); });
  const auto not_allowed = [](const Request&, Response& res) {
    res.set_header("Allow", "GET, POST");
    reply(res, 405, html::render_notice("Method not allowed", "This server answers GET and POST only."));
  };
  srv.Put(".*", not_allowed);
  srv.Delete(".*", not_allowed);
  srv.Patch(".*", not_allowed);
  srv.Options(".*", not_allowed);
  // Errors httplib answers by itself (404, 413, 400): a short page instead of an empty body.
  srv.set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    const char* heading = res.status == 404 ? "Not found" : res.status == 413 ? "Request too large" : "Bad request";
    res.set_content(html::render_notice(heading, "This request was refused."), kHtml);
    return HandlerResponse::Handled;
  }));
  srv.set_post_routing_handler([](const Request&, Response& res) {
    for (const auto& [name, value] : kSecurityHeaders) {
      const auto range = res.headers.equal_range(name);
      res.headers.erase(range.first, range.second);
      res.headers.emplace(name, value);
    }
  });
}

void ApprovalPages::State::shutdown() {
  {
    std::unique_lock lock(mu);
    stopping = true;
    const auto now = options.clock();
    for (auto& entry : pages) {
      Page& page = *entry.second;
      expire_if_due(page, now);
      if (page.status != PageStatus::kPending) continue;
      page.status = PageStatus::kWithdrawn;
      page.text = "The approval server stopped.";
    }
    cv.notify_all();
    cv.wait(lock, [this] { return waiters == 0; });
  }
  std::lock_guard lock(listener_mu);
  if (server) server->stop();
  if (listener.joinable()) listener.join();
}

void ApprovalPages::State::expire_if_due(Page& page, Clock::time_point now) {
  if (page.status == PageStatus::kPending && now >= page.expires_at) {
    page.status = PageStatus::kExpired;
    cv.notify_all();
  }
}

void ApprovalPages::State::prune(Clock::time_point now) {
  for (auto it = pages.begin(); it != pages.end();) {
    expire_if_due(*it->second, now);
    const bool ended = it->second->status != PageStatus::kPending;
    it = ended && now > it->second->expires_at + kRetention ? pages.erase(it) : std::next(it);
  }
  if (pages.size() < kMaxPages) return;
  // Full: the ended page that expired first makes room, if there is one.
  auto oldest = pages.end();
  for (auto it = pages.begin(); it != pages.end(); ++it) {
    if (it->second->status == PageStatus::kPending) continue;
    if (oldest == pages.end() || it->second->expires_at < oldest->second->expires_at) oldest = it;
  }
  if (oldest != pages.end()) pages.erase(oldest);
}

// Every page is compared (at most kMaxPages), each in constant time: no timing tells how much of a
// guessed secret was right.
std::shared_ptr<Page> ApprovalPages::State::find_secret(std::string Page::*field, std::string_view value) const {
  std::shared_ptr<Page> found;
  for (const auto& entry : pages) {
    if (request::same_secret(value, (*entry.second).*field)) found = entry.second;
  }
  return found;
}

std::string ApprovalPages::State::render(const Page& page, Clock::time_point now) const {
  html::PageView view;
  view.title = page.content.title;
  view.plan = page.content.plan;
  view.emergency = page.content.emergency;
  view.shown = shown_of(page);
  const std::string path = "/page/" + page.page_id;
  view.page_path = path;
  view.form_secret = page.form_secret;
  view.text = page.text;
  view.seconds_left = std::chrono::duration_cast<std::chrono::seconds>(page.expires_at - now).count();
  return html::render_page(view);
}

HandlerResponse ApprovalPages::State::check_host(const Request& req, Response& res) const {
  if (req.get_header_value_count("Host") == 1 && req.get_header_value("Host") == authority) {
    return HandlerResponse::Unhandled;
  }
  reply(res, 421,
        html::render_notice("Wrong address", "This server answers only requests addressed to its own loopback "
                                             "address and port."));
  return HandlerResponse::Handled;
}

void ApprovalPages::State::on_link(const Request& req, Response& res) {
  if (req.method == "HEAD") {  // a HEAD must not use up the link
    res.set_header("Allow", "GET");
    reply(res, 405, html::render_notice("Method not allowed", "Open this link with GET."));
    return;
  }
  std::lock_guard lock(mu);
  const auto page = find_secret(&Page::link_id, req.matches[1].str());
  if (!page) {
    reply(res, 404, html::render_notice("Unknown link", "This approval link is unknown or no longer kept."));
    return;
  }
  if (page->link_used) {
    reply(res, 410,
          html::render_notice("This link was already opened",
                              "An approval link opens once. If it was not you who opened it, cancel the request "
                              "in the assistant and do not approve it."));
    return;
  }
  page->link_used = true;
  res.set_header("Set-Cookie", std::string(kCookieName) + "=" + page->cookie +
                                   "; HttpOnly; SameSite=Strict; Path=/page/" + page->page_id);
  redirect_to_page(res, *page);
}

void ApprovalPages::State::on_page_get(const Request& req, Response& res) {
  std::lock_guard lock(mu);
  const auto page = find_secret(&Page::page_id, req.matches[1].str());
  if (!page) {
    reply(res, 404, html::render_notice("Unknown page", "This approval page is unknown or no longer kept."));
    return;
  }
  if (!has_cookie(req, page->cookie)) {
    // A cross-site navigation's redirect may arrive without the SameSite=Strict cookie; a click on
    // this same-origin link sends it. Without the cookie the link shows nothing more than this.
    reply(res, 403,
          html::render_notice("Open the approval link first",
                              "This page opens only in the browser that opened its approval link. If you have "
                              "just opened the link in this browser, continue.",
                              "/page/" + page->page_id));
    return;
  }
  const auto now = options.clock();
  expire_if_due(*page, now);
  reply(res, 200, render(*page, now));
}

bool ApprovalPages::State::same_origin(const Request& req) const {
  if (req.get_header_value_count("Origin") != 1 || req.get_header_value("Origin") != origin) return false;
  const auto fetch_site = req.get_header_value_count("Sec-Fetch-Site");
  return fetch_site == 0 || (fetch_site == 1 && req.get_header_value("Sec-Fetch-Site") == "same-origin");
}

void ApprovalPages::State::on_page_post(const Request& req, Response& res) {
  const auto refuse = [&res](int status, std::string_view text) {
    reply(res, status, html::render_notice("Refused", text));
  };
  if (!same_origin(req)) return refuse(403, "This answer did not come from the approval page itself.");
  std::lock_guard lock(mu);
  const auto page = find_secret(&Page::page_id, req.matches[1].str());
  if (!page) return refuse(404, "This approval page is unknown or no longer kept.");
  if (!has_cookie(req, page->cookie)) return refuse(403, "This answer did not come from the approval page itself.");
  const auto form = request::parse_form(req.get_header_value("Content-Type"), req.body);
  if (!form) return refuse(400, "This answer is not one the approval page sends.");
  if (!request::same_secret(form->secret, page->form_secret)) {
    return refuse(403, "This answer did not come from the approval page itself.");
  }
  const auto now = options.clock();
  expire_if_due(*page, now);
  if (page->status != PageStatus::kPending) {
    reply(res, 409, render(*page, now));
    return;
  }
  page->status = form->approve ? PageStatus::kApproved : PageStatus::kRejected;
  cv.notify_all();
  redirect_to_page(res, *page);
}

ApprovalPages::ApprovalPages(Options options) : state_(std::make_unique<State>(std::move(options))) {}

ApprovalPages::ApprovalPages() : ApprovalPages(Options{}) {}

ApprovalPages::~ApprovalPages() { state_->shutdown(); }

bluegreen::Result<OpenedPage> ApprovalPages::open(ApprovalPageContent content, std::chrono::milliseconds ttl) {
  State& s = *state_;
  if (!host::is_loopback(s.options.host)) {
    return Error("approval pages: \"" + s.options.host +
                     "\" is not a loopback address (127.0.0.0/8, ::1 or localhost); the pages are served on "
                     "loopback only",
                 ErrorCode::kInvalidArgument);
  }
  if (s.options.port < 0 || s.options.port > 65535) {
    return Error("approval pages: port " + std::to_string(s.options.port) + " is not 0..65535",
                 ErrorCode::kInvalidArgument);
  }
  if (ttl <= std::chrono::milliseconds::zero()) {
    return Error("approval pages: the time to answer must be positive", ErrorCode::kInvalidArgument);
  }
  std::string authority;
  {
    std::lock_guard lock(s.listener_mu);
    if (auto started = s.start_listener_locked(); !started) return started.error();
    authority = s.authority;
  }
  auto page = std::make_shared<Page>();
  page->link_id = request::random_hex();
  page->page_id = request::random_hex();
  page->cookie = request::random_hex();
  page->form_secret = request::random_hex();
  page->content = std::move(content);

  std::lock_guard lock(s.mu);
  const auto now = s.options.clock();
  s.prune(now);
  if (s.pages.size() >= kMaxPages) {
    return Error("approval pages: " + std::to_string(kMaxPages) +
                     " pages are already waiting for an answer; withdraw some before opening another",
                 ErrorCode::kBusy);
  }
  page->handle = "page-" + std::to_string(s.next_handle++);
  page->expires_at = now + ttl;
  s.pages.emplace(page->handle, page);
  return OpenedPage{page->handle, "http://" + authority + "/approve/" + page->link_id};
}

// By value, as the standard library passes stop tokens (a copy is a reference count).
PageAnswer ApprovalPages::wait(const std::string& id,
                               std::stop_token stop,  // NOLINT(performance-unnecessary-value-param)
                               const std::function<void(std::chrono::milliseconds left)>& tick,
                               std::chrono::milliseconds tick_every) {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  const auto it = s.pages.find(id);
  if (it == s.pages.end()) return PageAnswer::kWithdrawn;
  const std::shared_ptr<Page> page = it->second;  // kept even if pruned meanwhile
  ++s.waiters;
  PageAnswer answer = PageAnswer::kWithdrawn;
  auto next_tick = s.options.clock() + tick_every;
  while (true) {
    const auto now = s.options.clock();
    s.expire_if_due(*page, now);
    if (tick && page->status == PageStatus::kPending && !s.stopping && now >= next_tick) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(page->expires_at - now);
      next_tick = now + tick_every;
      lock.unlock();
      tick(std::max(left, std::chrono::milliseconds(0)));
      lock.lock();
      continue;  // the page may have been answered meanwhile
    }
    if (page->status != PageStatus::kPending) {
      answer = answer_of(page->status);
      break;
    }
    if (s.stopping) break;
    if (stop.stop_requested()) {
      answer = PageAnswer::kStopped;
      break;
    }
    // Bounded: the clock may move with no request at all (expiry), and may be a test's fake.
    s.cv.wait_for(lock, stop, kPoll, [&] { return page->status != PageStatus::kPending || s.stopping; });
  }
  --s.waiters;
  s.cv.notify_all();
  return answer;
}

void ApprovalPages::show_outcome(const std::string& id, bool ok, std::string text) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  const auto it = s.pages.find(id);
  if (it == s.pages.end() || it->second->status != PageStatus::kApproved) return;
  it->second->outcome_ok = ok;
  it->second->text = std::move(text);
}

void ApprovalPages::withdraw(const std::string& id, std::string why) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  const auto it = s.pages.find(id);
  if (it == s.pages.end()) return;
  Page& page = *it->second;
  s.expire_if_due(page, s.options.clock());
  if (page.status != PageStatus::kPending) return;
  page.status = PageStatus::kWithdrawn;
  page.text = std::move(why);
  s.cv.notify_all();
}

int ApprovalPages::port() const { return state_->port; }

}  // namespace bluegreen::web
