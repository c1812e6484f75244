// ConnectionPool: how calls to one host share its SSH sessions. Nothing here touches the network:
// a leased connection is only opened by its user (SshConnection::ensure_connected()).
#include "remote/connection_pool.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using bluegreen::ErrorCode;
using bluegreen::remote::ConnectionPool;
using bluegreen::remote::PooledConnection;
using bluegreen::remote::SshClock;
using bluegreen::remote::SshSettings;

namespace {

const SshSettings& settings() {
  static const SshSettings instance;
  return instance;
}

// Never asked: these tests open no connection.
bluegreen::remote::SshConfigResolver& resolver() {
  static bluegreen::remote::SshConfigResolver instance{bluegreen::remote::SshConfigSources{}};
  return instance;
}

ConnectionPool::Lease lease_from(ConnectionPool& pool, std::chrono::milliseconds wait = 1s) {
  auto leased = pool.acquire(SshClock::now() + wait, {});
  REQUIRE(leased.ok());
  return std::move(leased.value());
}

}  // namespace

TEST_CASE("a pool opens connections only while all are busy, up to its bound", "[ssh][pool]") {
  ConnectionPool pool("host.example", settings(), resolver(), 3, 60s);
  CHECK(pool.size() == 0);
  std::set<PooledConnection*> seen;
  {
    auto first = lease_from(pool);
    seen.insert(&*first);
    CHECK(pool.size() == 1);
  }
  {
    // Returned, so it is taken again rather than a second one opened.
    auto again = lease_from(pool);
    CHECK(seen.count(&*again) == 1);
    auto second = lease_from(pool);
    auto third = lease_from(pool);
    seen.insert(&*second);
    seen.insert(&*third);
    CHECK(seen.size() == 3);
    CHECK(pool.size() == 3);
    CHECK(pool.leased() == 3);
    CHECK(again->connection.host() == "host.example");
  }
  CHECK(pool.leased() == 0);
}

TEST_CASE("beyond the bound a call waits for a connection, within its deadline and stop", "[ssh][pool]") {
  ConnectionPool pool("host.example", settings(), resolver(), 2, 60s);
  std::optional<ConnectionPool::Lease> a(lease_from(pool));
  auto b = lease_from(pool);

  SECTION("the deadline passes: kDeadlineExceeded, after the deadline and not much later") {
    const auto started = SshClock::now();
    auto waited = pool.acquire(started + 200ms, {});
    const auto took = SshClock::now() - started;
    REQUIRE_FALSE(waited.ok());
    CHECK(waited.error().code == ErrorCode::kDeadlineExceeded);
    CHECK_THAT(waited.error().message, Catch::Contains("host.example") && Catch::Contains("all 2 connections"));
    CHECK(took >= 200ms);
    CHECK(took < 2s);
    CHECK(pool.size() == 2);
  }
  SECTION("stop is requested: kCancelled, at once") {
    std::stop_source stop;
    auto waiter = std::async(std::launch::async, [&] { return pool.acquire(SshClock::now() + 30s, stop.get_token()); });
    CHECK(waiter.wait_for(200ms) == std::future_status::timeout);
    const auto requested = SshClock::now();
    stop.request_stop();
    REQUIRE(waiter.wait_for(2s) == std::future_status::ready);
    auto waited = waiter.get();
    REQUIRE_FALSE(waited.ok());
    CHECK(waited.error().code == ErrorCode::kCancelled);
    CHECK(SshClock::now() - requested < 1s);
  }
  SECTION("a connection is returned: the waiter gets that one") {
    PooledConnection* returned = &**a;
    auto waiter = std::async(std::launch::async, [&] { return pool.acquire(SshClock::now() + 30s, {}); });
    CHECK(waiter.wait_for(200ms) == std::future_status::timeout);
    a.reset();
    REQUIRE(waiter.wait_for(2s) == std::future_status::ready);
    auto waited = waiter.get();
    REQUIRE(waited.ok());
    CHECK(&*waited.value() == returned);
    CHECK(pool.size() == 2);
  }
}

TEST_CASE("connections beyond the first close once idle, unless a held process keeps one", "[ssh][pool]") {
  ConnectionPool pool("host.example", settings(), resolver(), 4, 0ms);  // idle for 0 ms is idle too long
  std::shared_ptr<bluegreen::remote::SshConnection> held;
  {
    auto first = lease_from(pool);
    auto second = lease_from(pool);
    auto third = lease_from(pool);
    held = third.shared_connection();  // as hold() does: its channel lives on after the lease
    CHECK(pool.size() == 3);
  }
  // The first stays; the second was closed when a later lease ended; the held one stays.
  CHECK(pool.size() == 2);
  held.reset();
  { auto again = lease_from(pool); }
  CHECK(pool.size() == 1);
}

TEST_CASE("many threads share a small pool: never more leased than the bound, every call served", "[ssh][pool]") {
  ConnectionPool pool("host.example", settings(), resolver(), 2, 60s);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto leased = pool.acquire(SshClock::now() + 10s, {});
        if (!leased.ok()) continue;
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(1ms);
        --inside;
        ++served;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(served == 160);
  CHECK(most <= 2);
  CHECK(pool.size() == 2);
}
