// The approval pages (web/approval_pages.h) against their real listener on 127.0.0.1, with
// httplib's client as the browser (no redirect followed by itself) and a fake clock.

#include "common/host.h"
#include "web/approval_pages.h"
#include "web/approval_request.h"

#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using web::ApprovalPageContent;
using web::ApprovalPages;
using web::OpenedPage;
using web::PageAnswer;

namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point base = std::chrono::steady_clock::time_point{} + std::chrono::hours(100);
  std::atomic<long long> elapsed_ms{0};
  ApprovalPages::Options options() {
    ApprovalPages::Options opts;
    opts.clock = [this] { return base + std::chrono::milliseconds(elapsed_ms.load()); };
    return opts;
  }
  void advance(std::chrono::milliseconds by) { elapsed_ms += by.count(); }
};

const ApprovalPageContent kContent{"Switch traffic for shop: BLUE → GREEN",
                                   "shop: BLUE -> GREEN\nbackend <b>&amp; \"quoted\" 'single'\n", false};
constexpr auto kTtl = std::chrono::minutes(5);

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool is_hex64(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

httplib::Client browser_for(const ApprovalPages& pages) {
  httplib::Client http("127.0.0.1", pages.port());
  http.set_follow_location(false);
  http.set_connection_timeout(2, 0);
  http.set_read_timeout(2, 0);
  return http;
}

std::string link_path(const OpenedPage& opened) {
  const auto at = opened.url.find("/approve/");
  REQUIRE(at != std::string::npos);
  return opened.url.substr(at);
}

std::string origin_of(const ApprovalPages& pages) { return "http://127.0.0.1:" + std::to_string(pages.port()); }

// What a browser holds once it has opened the link and loaded the page.
struct Session {
  std::string page_path;  // /page/<64 hex>
  std::string cookie;     // bluegreen_page=<64 hex>
  std::string secret;     // the form's hidden field
  std::string body;       // the page as first loaded
};

std::string hidden_secret(const std::string& body) {
  const std::string marker = "name=\"secret\" value=\"";
  const auto at = body.find(marker);
  REQUIRE(at != std::string::npos);
  return body.substr(at + marker.size(), 64);
}

Session open_link(httplib::Client& http, const OpenedPage& opened) {
  const auto link = http.Get(link_path(opened));
  REQUIRE(link);
  REQUIRE(link->status == 303);
  Session session;
  session.page_path = link->get_header_value("Location");
  const auto set_cookie = link->get_header_value("Set-Cookie");
  session.cookie = set_cookie.substr(0, set_cookie.find(';'));
  const auto page = http.Get(session.page_path, {{"Cookie", session.cookie}});
  REQUIRE(page);
  REQUIRE(page->status == 200);
  session.body = page->body;
  session.secret = hidden_secret(page->body);
  return session;
}

httplib::Headers post_headers(const ApprovalPages& pages, const Session& session) {
  return {{"Cookie", session.cookie}, {"Origin", origin_of(pages)}, {"Sec-Fetch-Site", "same-origin"}};
}

httplib::Result post(httplib::Client& http, const std::string& path, const httplib::Headers& headers,
                     const std::string& body) {
  return http.Post(path, headers, body, "application/x-www-form-urlencoded");
}

int post_status(httplib::Client& http, const std::string& path, const httplib::Headers& headers,
                const std::string& body) {
  const auto res = post(http, path, headers, body);
  REQUIRE(res);
  return res->status;
}

std::string answer(const std::string& decision, const Session& session) {
  return "decision=" + decision + "&secret=" + session.secret;
}

std::string page_body(httplib::Client& http, const Session& session) {
  const auto res = http.Get(session.page_path, {{"Cookie", session.cookie}});
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return res->body;
}

// Whether the page still waits for its answer: wait() with a stop already requested says so.
bool still_pending(ApprovalPages& pages, const std::string& id) {
  std::stop_source stopped;
  stopped.request_stop();
  return pages.wait(id, stopped.get_token()) == PageAnswer::kStopped;
}

}  // namespace

TEST_CASE("approval page: link, cookie, page, approve, switching, outcome", "[web][approval_pages]") {
  FakeClock clock;
  ApprovalPages pages(clock.options());
  CHECK(pages.port() == 0);
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  REQUIRE(pages.port() > 0);
  CHECK(opened->url.rfind(origin_of(pages) + "/approve/", 0) == 0);
  CHECK(is_hex64(link_path(*opened).substr(9)));
  CHECK_FALSE(contains(opened->url, opened->id));
  auto http = browser_for(pages);

  const auto link = http.Get(link_path(*opened));
  REQUIRE(link);
  CHECK(link->status == 303);
  const auto location = link->get_header_value("Location");
  REQUIRE(location.rfind("/page/", 0) == 0);
  const std::string page_id = location.substr(6);
  CHECK(is_hex64(page_id));
  const auto set_cookie = link->get_header_value("Set-Cookie");
  CHECK(set_cookie.rfind("bluegreen_page=", 0) == 0);
  CHECK(contains(set_cookie, "; HttpOnly"));
  CHECK(contains(set_cookie, "; SameSite=Strict"));
  CHECK(contains(set_cookie, "; Path=/page/" + page_id));
  CHECK_FALSE(contains(set_cookie, "Secure"));
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const std::string cookie_value = cookie.substr(std::string("bluegreen_page=").size());
  CHECK(is_hex64(cookie_value));

  const auto page = http.Get(location, {{"Cookie", cookie}});
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(contains(page->body, "shop: BLUE -&gt; GREEN"));
  CHECK(contains(page->body, "backend &lt;b&gt;&amp;amp; &quot;quoted&quot; &#39;single&#39;"));
  CHECK_FALSE(contains(page->body, "<b>"));
  CHECK(contains(page->body, "<pre>"));
  CHECK(contains(page->body, "Switch traffic for shop: BLUE → GREEN"));
  CHECK_FALSE(contains(page->body, "class=\"banner\""));
  CHECK_FALSE(contains(page->body, "<script"));
  const Session session{location, cookie, hidden_secret(page->body), page->body};
  CHECK(is_hex64(session.secret));
  // Four independent secrets.
  const std::string link_id = link_path(*opened).substr(9);
  CHECK(link_id != page_id);
  CHECK(link_id != cookie_value);
  CHECK(link_id != session.secret);
  CHECK(page_id != cookie_value);
  CHECK(page_id != session.secret);
  CHECK(cookie_value != session.secret);

  const auto approved = post(http, location, post_headers(pages, session), answer("approve", session));
  REQUIRE(approved);
  CHECK(approved->status == 303);
  CHECK(approved->get_header_value("Location") == location);
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kApproved);

  const auto switching = page_body(http, session);
  CHECK(contains(switching, "Approved. Switching…"));
  CHECK(contains(switching, "<meta http-equiv=\"refresh\" content=\"1\">"));
  CHECK_FALSE(contains(switching, "<form"));

  pages.show_outcome(opened->id, true, "Traffic is on GREEN <now>.");
  const auto done = page_body(http, session);
  CHECK(contains(done, "Traffic is on GREEN &lt;now&gt;."));
  CHECK(contains(done, "class=\"ok\""));
  CHECK_FALSE(contains(done, "http-equiv=\"refresh\""));
  // Answered once: a second approve is refused.
  CHECK(post_status(http, location, post_headers(pages, session), answer("approve", session)) == 409);
}

TEST_CASE("approval page: a failed outcome and the emergency banner", "[web][approval_pages]") {
  ApprovalPages pages;
  auto content = kContent;
  content.emergency = true;
  const auto opened = pages.open(content, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto session = open_link(http, *opened);
  CHECK(contains(session.body, "class=\"banner\""));
  CHECK(post_status(http, session.page_path, post_headers(pages, session), answer("approve", session)) == 303);
  pages.show_outcome(opened->id, false, "The reload failed; traffic stays on BLUE.");
  const auto body = page_body(http, session);
  CHECK(contains(body, "class=\"failed\""));
  CHECK(contains(body, "The reload failed; traffic stays on BLUE."));
}

TEST_CASE("approval page: the link opens once", "[web][approval_pages]") {
  FakeClock clock;
  ApprovalPages pages(clock.options());
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto session = open_link(http, *opened);

  const auto again = http.Get(link_path(*opened));
  REQUIRE(again);
  CHECK(again->status == 410);
  CHECK(contains(again->body, "already opened"));
  CHECK(contains(again->body, "cancel the request"));
  CHECK_FALSE(again->has_header("Set-Cookie"));
  CHECK_FALSE(again->has_header("Location"));
  // Nothing changed: a wait() stopped by its stop_source ends kStopped, and the page still works.
  std::stop_source stop;
  auto waiting = std::async(std::launch::async, [&] { return pages.wait(opened->id, stop.get_token()); });
  CHECK(waiting.wait_for(50ms) == std::future_status::timeout);
  stop.request_stop();
  REQUIRE(waiting.wait_for(2s) == std::future_status::ready);
  CHECK(waiting.get() == PageAnswer::kStopped);
  CHECK(contains(page_body(http, session), "<form"));
}

TEST_CASE("approval page: answers from anywhere but the page are refused", "[web][approval_pages]") {
  ApprovalPages pages;
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto session = open_link(http, *opened);
  const auto approve = answer("approve", session);
  const auto& path = session.page_path;

  CHECK(post_status(http, path, {{"Cookie", session.cookie}}, approve) == 403);
  CHECK(post_status(http, path, {{"Cookie", session.cookie}, {"Origin", "http://evil.example"}}, approve) == 403);
  CHECK(post_status(http, path, {{"Cookie", session.cookie}, {"Origin", "null"}}, approve) == 403);
  CHECK(post_status(http, path, post_headers(pages, session), "decision=approve&secret=" + std::string(64, '0')) ==
        403);
  CHECK(post_status(http, path, {{"Origin", origin_of(pages)}}, approve) == 403);
  CHECK(post_status(http, path, {{"Cookie", "bluegreen_page=" + std::string(64, 'a')}, {"Origin", origin_of(pages)}},
                    approve) == 403);
  CHECK(post_status(http, path,
                    {{"Cookie", session.cookie}, {"Origin", origin_of(pages)}, {"Sec-Fetch-Site", "cross-site"}},
                    approve) == 403);
  // Not what the form sends: 400.
  CHECK(post_status(http, path, post_headers(pages, session), "decision=maybe&secret=" + session.secret) == 400);
  CHECK(post_status(http, path, post_headers(pages, session), approve + "&decision=reject") == 400);
  CHECK(post_status(http, path, post_headers(pages, session), approve + "&extra=1") == 400);
  CHECK(post_status(http, path, post_headers(pages, session), "decision=approve") == 400);
  const auto json = http.Post(path, post_headers(pages, session), approve, "application/json");
  REQUIRE(json);
  CHECK(json->status == 400);
  CHECK(still_pending(pages, opened->id));
  CHECK(contains(page_body(http, session), "<form"));

  // Cookies parsed among others, with spaces: the right one is found, and the POST goes through
  // without Sec-Fetch-Site (older browsers do not send it).
  const auto cookies = "theme=dark;  bluegreen_page=" + std::string(64, 'b') + " ; " + session.cookie + " ;x=y";
  CHECK(post_status(http, path, {{"Cookie", cookies}, {"Origin", origin_of(pages)}}, approve) == 303);
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kApproved);
}

TEST_CASE("approval page: a page needs its own cookie", "[web][approval_pages]") {
  ApprovalPages pages;
  const auto first = pages.open(kContent, kTtl);
  const auto second = pages.open(kContent, kTtl);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->id != second->id);
  auto http = browser_for(pages);
  const auto one = open_link(http, *first);
  const auto two = open_link(http, *second);
  const auto without = http.Get(one.page_path);
  REQUIRE(without);
  CHECK(without->status == 403);
  CHECK_FALSE(contains(without->body, "<pre>"));
  CHECK_FALSE(contains(without->body, one.secret));
  const auto crossed = http.Get(one.page_path, {{"Cookie", two.cookie}});
  REQUIRE(crossed);
  CHECK(crossed->status == 403);
  CHECK(post_status(http, one.page_path, {{"Cookie", two.cookie}, {"Origin", origin_of(pages)}},
                    answer("approve", one)) == 403);
  CHECK(post_status(http, one.page_path, post_headers(pages, one), answer("approve", two)) == 403);
  CHECK(still_pending(pages, first->id));
  CHECK(still_pending(pages, second->id));
}

TEST_CASE("approval page: reject, then a later approve is refused", "[web][approval_pages]") {
  ApprovalPages pages;
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto session = open_link(http, *opened);
  CHECK(post_status(http, session.page_path, post_headers(pages, session), answer("reject", session)) == 303);
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kRejected);
  const auto late = post(http, session.page_path, post_headers(pages, session), answer("approve", session));
  REQUIRE(late);
  CHECK(late->status == 409);
  CHECK(contains(late->body, "Rejected. Nothing was changed."));
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kRejected);
  CHECK(contains(page_body(http, session), "Rejected. Nothing was changed."));
  pages.withdraw(opened->id, "too late");  // no effect on an answered page
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kRejected);
}

TEST_CASE("approval page: expiry on the clock, with no request", "[web][approval_pages]") {
  FakeClock clock;
  ApprovalPages pages(clock.options());
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto session = open_link(http, *opened);

  auto waiting = std::async(std::launch::async, [&] { return pages.wait(opened->id, {}); });
  clock.advance(kTtl - 1ms);
  CHECK(waiting.wait_for(150ms) == std::future_status::timeout);  // still answerable
  clock.advance(1ms);
  REQUIRE(waiting.wait_for(1s) == std::future_status::ready);
  CHECK(waiting.get() == PageAnswer::kExpired);

  const auto late = post(http, session.page_path, post_headers(pages, session), answer("approve", session));
  REQUIRE(late);
  CHECK(late->status == 409);
  CHECK(contains(late->body, "This approval expired. Nothing was changed."));
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kExpired);
  const auto body = page_body(http, session);
  CHECK(contains(body, "This approval expired. Nothing was changed."));
  CHECK_FALSE(contains(body, "<form"));
}

TEST_CASE("approval page: wait() ticks with the time left while the page is pending", "[web][approval_pages]") {
  FakeClock clock;
  ApprovalPages pages(clock.options());
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  std::mutex mu;
  std::vector<std::chrono::milliseconds> ticks;
  const auto tick = [&](std::chrono::milliseconds left) {
    std::lock_guard lock(mu);
    ticks.push_back(left);
  };
  const auto tick_count = [&] {
    std::lock_guard lock(mu);
    return ticks.size();
  };
  auto waiting = std::async(std::launch::async, [&] { return pages.wait(opened->id, {}, tick, 10s); });
  std::this_thread::sleep_for(150ms);
  CHECK(tick_count() == 0);  // none before the first interval
  clock.advance(10s);
  for (int i = 0; i < 50 && tick_count() < 1; ++i) std::this_thread::sleep_for(20ms);
  clock.advance(10s);
  for (int i = 0; i < 50 && tick_count() < 2; ++i) std::this_thread::sleep_for(20ms);
  clock.advance(kTtl);  // expires: no tick after that
  REQUIRE(waiting.wait_for(1s) == std::future_status::ready);
  CHECK(waiting.get() == PageAnswer::kExpired);
  std::lock_guard lock(mu);
  REQUIRE(ticks.size() == 2);
  CHECK(ticks[0] == kTtl - 10s);
  CHECK(ticks[1] == kTtl - 20s);
}

TEST_CASE("approval page: withdraw", "[web][approval_pages]") {
  ApprovalPages pages;
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto session = open_link(http, *opened);
  auto waiting = std::async(std::launch::async, [&] { return pages.wait(opened->id, {}); });
  pages.withdraw(opened->id, "The client declined <the request>.");
  REQUIRE(waiting.wait_for(1s) == std::future_status::ready);
  CHECK(waiting.get() == PageAnswer::kWithdrawn);
  CHECK(contains(page_body(http, session), "The client declined &lt;the request&gt;."));
  CHECK(post_status(http, session.page_path, post_headers(pages, session), answer("approve", session)) == 409);
  CHECK(pages.wait(opened->id, {}) == PageAnswer::kWithdrawn);
  CHECK(pages.wait("page-999", {}) == PageAnswer::kWithdrawn);  // unknown id
}

TEST_CASE("approval page: wrong Host, large bodies, unknown paths and methods", "[web][approval_pages]") {
  ApprovalPages pages;
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const std::string port = std::to_string(pages.port());

  const auto rebound = http.Get(link_path(*opened), {{"Host", "evil.example:" + port}});
  REQUIRE(rebound);
  CHECK(rebound->status == 421);
  const auto by_name = http.Get(link_path(*opened), {{"Host", "localhost:" + port}});
  REQUIRE(by_name);
  CHECK(by_name->status == 421);
  const auto no_port = http.Get(link_path(*opened), {{"Host", "127.0.0.1"}});
  REQUIRE(no_port);
  CHECK(no_port->status == 421);
  const auto session = open_link(http, *opened);  // the refused requests did not use up the link

  auto large = answer("approve", session) + "&pad=" + std::string(5000, 'x');
  CHECK(post_status(http, session.page_path, post_headers(pages, session), large) == 413);
  CHECK(still_pending(pages, opened->id));

  const std::vector<std::string> unknown{"/",
                                         "/nope",
                                         "/approve/" + std::string(64, 'c'),
                                         "/page/" + std::string(64, 'c'),
                                         "/page/abc",
                                         "/approve/" + std::string(64, 'C')};
  for (const auto& path : unknown) {
    const auto res = http.Get(path);
    REQUIRE(res);
    CHECK(res->status == 404);
  }
  const auto put = http.Put(session.page_path, answer("approve", session), "application/x-www-form-urlencoded");
  REQUIRE(put);
  CHECK(put->status == 405);
  CHECK(still_pending(pages, opened->id));
}

TEST_CASE("approval page: the destructor withdraws a page being waited for", "[web][approval_pages]") {
  auto pages = std::make_unique<ApprovalPages>();
  const auto opened = pages->open(kContent, kTtl);
  REQUIRE(opened.ok());
  std::atomic<PageAnswer> answer{PageAnswer::kApproved};
  std::latch started(1);
  // The object, not the unique_ptr: the pointer itself is reset below while the thread waits.
  ApprovalPages* const waited_on = pages.get();
  std::thread waiter([&] {
    started.count_down();
    answer = waited_on->wait(opened->id, {});
  });
  started.wait();
  std::this_thread::sleep_for(20ms);  // into wait(): the destructor waits for the calls in progress only
  pages.reset();
  waiter.join();
  CHECK(answer.load() == PageAnswer::kWithdrawn);
}

TEST_CASE("approval page: security headers on every response", "[web][approval_pages]") {
  ApprovalPages pages;
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  auto http = browser_for(pages);
  const auto link = http.Get(link_path(*opened));
  REQUIRE(link);
  const std::string page_path = link->get_header_value("Location");
  const std::string cookie = link->get_header_value("Set-Cookie");
  const auto page = http.Get(page_path, {{"Cookie", cookie.substr(0, cookie.find(';'))}});
  const auto missing = http.Get("/nope");
  const auto wrong_host = http.Get("/nope", {{"Host", "evil.example"}});
  const auto large =
      http.Post(page_path, {{"Origin", origin_of(pages)}}, std::string(5000, 'x'), "application/x-www-form-urlencoded");
  for (const auto* res : {&link, &page, &missing, &wrong_host, &large}) {
    REQUIRE(*res);
    INFO("status " << (*res)->status);
    CHECK((*res)->get_header_value("Content-Security-Policy") ==
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    CHECK((*res)->get_header_value("Cache-Control") == "no-store");
    CHECK((*res)->get_header_value("X-Frame-Options") == "DENY");
    CHECK((*res)->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK((*res)->get_header_value("Referrer-Policy") == "same-origin");
    CHECK((*res)->get_header_value("Content-Type") == "text/html; charset=utf-8");
    CHECK((*res)->get_header_value_count("Content-Type") == 1);
  }
  CHECK(page->status == 200);
  CHECK(missing->status == 404);
  CHECK(wrong_host->status == 421);
  CHECK(large->status == 413);
}

TEST_CASE("approval page: loopback only", "[web][approval_pages]") {
  for (const std::string host : {"0.0.0.0", "192.0.2.1", "::", "example.com", "127.0.0.1.example.com"}) {
    ApprovalPages::Options options;
    options.host = host;
    ApprovalPages pages(options);
    const auto opened = pages.open(kContent, kTtl);
    INFO(host);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().code == ErrorCode::kInvalidArgument);
    CHECK(pages.port() == 0);
  }
  ApprovalPages::Options by_name;
  by_name.host = "localhost";
  ApprovalPages pages(by_name);
  const auto opened = pages.open(kContent, kTtl);
  REQUIRE(opened.ok());
  CHECK(opened->url.rfind("http://localhost:" + std::to_string(pages.port()) + "/approve/", 0) == 0);
  auto http = browser_for(pages);  // connects to 127.0.0.1, where "localhost" is bound
  const auto by_address = http.Get(link_path(*opened));
  REQUIRE(by_address);
  CHECK(by_address->status == 421);  // the Host must be the configured name
  const auto by_host = http.Get(link_path(*opened), {{"Host", "localhost:" + std::to_string(pages.port())}});
  REQUIRE(by_host);
  CHECK(by_host->status == 303);
}

TEST_CASE("approval page: a port in use, bad arguments", "[web][approval_pages]") {
  ApprovalPages first;
  REQUIRE(first.open(kContent, kTtl).ok());
  ApprovalPages::Options same_port;
  same_port.port = first.port();
  ApprovalPages second(same_port);
  const auto refused = second.open(kContent, kTtl);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailed);
  CHECK(contains(refused.error().message, "127.0.0.1:" + std::to_string(first.port())));
  CHECK(second.port() == 0);
  CHECK_FALSE(first.open(kContent, 0ms).ok());
}

TEST_CASE("approval page: at most 64 pages", "[web][approval_pages]") {
  FakeClock clock;
  ApprovalPages pages(clock.options());
  std::vector<std::string> ids;
  for (int i = 0; i < 64; ++i) {
    const auto opened = pages.open(kContent, kTtl);
    REQUIRE(opened.ok());
    ids.push_back(opened->id);
  }
  const auto full = pages.open(kContent, kTtl);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().code == ErrorCode::kBusy);
  CHECK(contains(full.error().message, "64"));
  // An ended page makes room (the one that expired first), and only then.
  pages.withdraw(ids[10], "declined");
  const auto room = pages.open(kContent, kTtl);
  REQUIRE(room.ok());
  CHECK(still_pending(pages, ids[11]));
  CHECK_FALSE(pages.open(kContent, kTtl).ok());
  // All expired, and 10 minutes past: every one is dropped when the next page opens.
  clock.advance(kTtl + std::chrono::minutes(10) + 1ms);
  REQUIRE(pages.open(kContent, kTtl).ok());
  CHECK(pages.wait(ids[11], {}) == PageAnswer::kWithdrawn);
}

TEST_CASE("approval request: loopback, authority, secrets, cookies, form", "[web][approval_pages]") {
  using namespace web::request;  // NOLINT(google-build-using-namespace): the module under test
  CHECK(host::is_loopback("127.0.0.1"));
  CHECK(host::is_loopback("127.255.1.2"));
  CHECK(host::is_loopback("::1"));
  CHECK(host::is_loopback("localhost"));
  CHECK_FALSE(host::is_loopback("128.0.0.1"));
  CHECK_FALSE(host::is_loopback("::ffff:127.0.0.1"));
  CHECK_FALSE(host::is_loopback("127.1"));
  CHECK_FALSE(host::is_loopback("localhost.example"));
  CHECK_FALSE(host::is_loopback(""));
  CHECK(host::authority_of("::1", 8080) == "[::1]:8080");
  CHECK(host::authority_of("127.0.0.1", 80) == "127.0.0.1:80");

  const auto first = random_hex();
  CHECK(is_hex64(first));
  CHECK(first != random_hex());
  CHECK(same_secret(first, first));
  CHECK_FALSE(same_secret(first, first.substr(0, 63) + (first.back() == '0' ? "1" : "0")));
  CHECK_FALSE(same_secret(first.substr(0, 63), first));

  CHECK(cookie_matches("bluegreen_page=abc", "bluegreen_page", "abc"));
  CHECK(cookie_matches(" a=1 ;\tbluegreen_page = abc ; b=2", "bluegreen_page", "abc"));
  CHECK(cookie_matches("bluegreen_page=zzz; bluegreen_page=abc", "bluegreen_page", "abc"));
  CHECK_FALSE(cookie_matches("xbluegreen_page=abc; bluegreen_page=ab", "bluegreen_page", "abc"));
  CHECK_FALSE(cookie_matches("bluegreen_page", "bluegreen_page", "abc"));
  CHECK_FALSE(cookie_matches("", "bluegreen_page", ""));

  const std::string form = "application/x-www-form-urlencoded";
  const auto approve = parse_form(form, "decision=approve&secret=s1");
  REQUIRE(approve);
  CHECK(approve->approve);
  CHECK(approve->secret == "s1");
  const auto reject = parse_form(form + "; charset=UTF-8", "secret=s2&decision=reject");
  REQUIRE(reject);
  CHECK_FALSE(reject->approve);
  CHECK(reject->secret == "s2");
  CHECK_FALSE(parse_form(form + "x", "decision=approve&secret=s1"));
  CHECK_FALSE(parse_form("text/plain", "decision=approve&secret=s1"));
  CHECK_FALSE(parse_form(form, "decision=approve&secret=s1&"));
  CHECK_FALSE(parse_form(form, "decision=approve&decision=approve&secret=s1"));
  CHECK_FALSE(parse_form(form, "decision=Approve&secret=s1"));
  CHECK_FALSE(parse_form(form, "secret=s1"));
  CHECK_FALSE(parse_form(form, ""));
}
