#include "haproxy/runtime_api.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using haproxy::ServerStatus;
using haproxy::StatRows;

// Answers captured from a real HAProxy 2.6; see haproxy_fixtures/README.md. __FILE__ is absolute in
// this build, so the fixtures are found next to this file.
std::string fixture(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "haproxy_fixtures" / name;
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const ServerStatus* find(const std::vector<ServerStatus>& rows, const std::string& backend, const std::string& server) {
  for (const auto& row : rows) {
    if (row.backend == backend && row.server == server) return &row;
  }
  return nullptr;
}

std::vector<std::string> names(const std::vector<ServerStatus>& rows) {
  std::vector<std::string> result;
  for (const auto& row : rows) result.push_back(row.backend + "/" + row.server);
  return result;
}

}  // namespace

TEST_CASE("show stat: servers of a fresh instance", "[haproxy][runtime]") {
  const auto rows = haproxy::parse_show_stat(fixture("show_stat_initial.txt"));
  REQUIRE(rows.ok());
  CHECK(names(*rows) == std::vector<std::string>{"blue/blue", "green/green1", "green/green2"});

  const auto* blue = find(*rows, "blue", "blue");
  REQUIRE(blue != nullptr);
  CHECK(blue->status == "UP");
  CHECK(blue->check_status == "L7OK");
  CHECK(blue->current_sessions == 0);
  CHECK(blue->total_sessions == 0);

  const auto* green1 = find(*rows, "green", "green1");
  REQUIRE(green1 != nullptr);
  CHECK(green1->status == "DOWN");
  CHECK(green1->check_status == "L4CON");

  const auto* green2 = find(*rows, "green", "green2");
  REQUIRE(green2 != nullptr);
  CHECK(green2->status == "no check");
  CHECK(green2->check_status.empty());
}

TEST_CASE("show stat: backend aggregate rows on request", "[haproxy][runtime]") {
  const auto rows = haproxy::parse_show_stat(fixture("show_stat_initial.txt"), StatRows::servers_and_backends);
  REQUIRE(rows.ok());
  CHECK(names(*rows) == std::vector<std::string>{"blue/blue", "blue/BACKEND", "green/green1", "green/green2",
                                                 "green/BACKEND", "stats/BACKEND"});
  CHECK(find(*rows, "blue", "BACKEND")->status == "UP");
  CHECK(find(*rows, "green", "BACKEND")->status == "UP");  // green2 is unchecked, so counted as up
  CHECK(find(*rows, "fe_app", "FRONTEND") == nullptr);
}

TEST_CASE("show stat: maintenance, drain, sessions and check transitions", "[haproxy][runtime]") {
  SECTION("maint") {
    const auto rows = haproxy::parse_show_stat(fixture("show_stat_maint.txt"), StatRows::servers_and_backends);
    REQUIRE(rows.ok());
    CHECK(find(*rows, "green", "green2")->status == "MAINT");
    CHECK(find(*rows, "green", "BACKEND")->status == "DOWN");
    CHECK(find(*rows, "blue", "blue")->total_sessions == 6);
    CHECK(find(*rows, "blue", "BACKEND")->total_sessions == 6);
  }
  SECTION("drain") {
    const auto rows = haproxy::parse_show_stat(fixture("show_stat_drain.txt"), StatRows::servers_and_backends);
    REQUIRE(rows.ok());
    CHECK(find(*rows, "blue", "blue")->status == "DRAIN");
    CHECK(find(*rows, "blue", "blue")->check_status == "L7OK");
    CHECK(find(*rows, "blue", "BACKEND")->status == "DOWN");
  }
  SECTION("between two failed checks") {
    const auto rows = haproxy::parse_show_stat(fixture("show_stat_check_transition.txt"));
    REQUIRE(rows.ok());
    CHECK(find(*rows, "blue", "blue")->status == "UP 1/2");
    CHECK(find(*rows, "blue", "blue")->check_status == "L4CON");
  }
}

TEST_CASE("show stat: columns are found by name", "[haproxy][runtime]") {
  const std::string csv = "# stot,status,extra,svname,check_status,pxname,scur\r\n"
                          "12,UP,x,web1,L7OK,app,3\r\n"
                          "40,\"UP 1/3\",\"a,b \"\"c\"\"\",web2,L7STS,app,\r\n"
                          "52,UP,,FRONTEND,,app,3\r\n"
                          "\r\n";
  const auto rows = haproxy::parse_show_stat(csv);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].backend == "app");
  CHECK((*rows)[0].server == "web1");
  CHECK((*rows)[0].current_sessions == 3);
  CHECK((*rows)[0].total_sessions == 12);
  CHECK((*rows)[1].status == "UP 1/3");
  CHECK((*rows)[1].current_sessions == 0);  // empty counter
  CHECK((*rows)[1].total_sessions == 40);
}

TEST_CASE("show stat: answers that are not a stat table", "[haproxy][runtime]") {
  SECTION("the command sent to the master socket") {
    const auto rows = haproxy::parse_show_stat(fixture("show_stat_on_master_socket.txt"));
    REQUIRE_FALSE(rows.ok());
    CHECK_THAT(rows.error().message, Catch::Contains("no CSV header"));
    CHECK_THAT(rows.error().message, Catch::Contains("Unknown command"));
  }
  SECTION("empty answer") {
    const auto rows = haproxy::parse_show_stat("\n");
    REQUIRE_FALSE(rows.ok());
    CHECK_THAT(rows.error().message, Catch::Contains("the answer was empty"));
  }
  SECTION("permission denied") {
    const auto rows = haproxy::parse_show_stat("Permission denied\n\n");
    REQUIRE_FALSE(rows.ok());
    CHECK_THAT(rows.error().message, Catch::Contains("Permission denied"));
  }
  SECTION("required columns missing") {
    const auto rows = haproxy::parse_show_stat("# pxname,svname,scur,stot\napp,web1,0,0\n");
    REQUIRE_FALSE(rows.ok());
    CHECK_THAT(rows.error().message, Catch::Contains("no column status, check_status"));
  }
  SECTION("short row") {
    const auto rows = haproxy::parse_show_stat("# pxname,svname,status,check_status,scur,stot\napp,web1,UP\n");
    REQUIRE_FALSE(rows.ok());
    CHECK_THAT(rows.error().message, Catch::Contains("line 2 has 3 fields"));
  }
  SECTION("counter that is not a number") {
    const auto rows =
        haproxy::parse_show_stat("# pxname,svname,status,check_status,scur,stot\napp,web1,UP,L7OK,lots,1\n");
    REQUIRE_FALSE(rows.ok());
    CHECK_THAT(rows.error().message, Catch::Contains("line 2 (app/web1)"));
  }
}

TEST_CASE("show proc: master and workers across reloads", "[haproxy][runtime]") {
  SECTION("fresh start") {
    const auto info = haproxy::parse_show_proc(fixture("show_proc_initial.txt"));
    REQUIRE(info.ok());
    CHECK(info->master_pid == 19583);
    CHECK(info->reloads == 0);
    CHECK(info->failed_reloads == 0);
    CHECK(info->current_worker_pids == std::vector<int>{19584});
    CHECK(info->old_worker_pids.empty());
  }
  SECTION("after a reload, the old worker still finishing a connection") {
    const auto info = haproxy::parse_show_proc(fixture("show_proc_after_reload.txt"));
    REQUIRE(info.ok());
    CHECK(info->master_pid == 19583);
    CHECK(info->reloads == 1);
    CHECK(info->failed_reloads == 0);
    CHECK(info->current_worker_pids == std::vector<int>{19777});
    CHECK(info->old_worker_pids == std::vector<int>{19584});
    CHECK(info->current_worker_uptime_s == 1);  // the new worker's, not the old one's 10 s
  }
  SECTION("after a reload that failed: same worker, failure counted") {
    const auto info = haproxy::parse_show_proc(fixture("show_proc_failed_reload.txt"));
    REQUIRE(info.ok());
    CHECK(info->reloads == 2);
    CHECK(info->failed_reloads == 1);
    CHECK(info->current_worker_pids == std::vector<int>{19777});
    CHECK(info->old_worker_pids == std::vector<int>{19584});
  }
  SECTION("the old worker has exited") {
    const auto info = haproxy::parse_show_proc(fixture("show_proc_old_worker_gone.txt"));
    REQUIRE(info.ok());
    CHECK(info->current_worker_pids == std::vector<int>{19777});
    CHECK(info->old_worker_pids.empty());
  }
  SECTION("external programs are not workers") {
    const auto info = haproxy::parse_show_proc(fixture("show_proc_with_program.txt"));
    REQUIRE(info.ok());
    CHECK(info->master_pid == 22180);
    CHECK(info->current_worker_pids == std::vector<int>{22182});
    CHECK(info->old_worker_pids.empty());
  }
}

TEST_CASE("show proc uptime: days, hours, minutes, seconds", "[haproxy][runtime]") {
  CHECK(haproxy::parse_proc_uptime("0d00h00m01s") == 1);
  CHECK(haproxy::parse_proc_uptime("0d00h05m12s") == 312);
  CHECK(haproxy::parse_proc_uptime("2d03h04m05s") == 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  CHECK(haproxy::parse_proc_uptime("123d00h00m00s") == 123 * 86400);
  for (const char* bad : {"", "1s", "0d00h00m", "0d00h00m01", "d00h00m01s", "0d00h00m01s1", "0d00x00m01s",
                          "-1d00h00m01s", "0d00h00m01s ", "99999999999d00h00m00s"}) {
    CHECK_FALSE(haproxy::parse_proc_uptime(bad).has_value());
  }
}

TEST_CASE("show proc: answers that are not a process list", "[haproxy][runtime]") {
  SECTION("the command sent to the stats socket") {
    const auto info = haproxy::parse_show_proc(fixture("show_proc_on_stats_socket.txt"));
    REQUIRE_FALSE(info.ok());
    CHECK_THAT(info.error().message, Catch::Contains("Unknown command"));
    CHECK_THAT(info.error().message, Catch::Contains("master socket"));
  }
  SECTION("empty answer") {
    const auto info = haproxy::parse_show_proc("");
    REQUIRE_FALSE(info.ok());
    CHECK_THAT(info.error().message, Catch::Contains("the answer was empty"));
  }
  SECTION("no master row") {
    const auto info = haproxy::parse_show_proc(
        "#<PID>          <type>          <reloads>       <uptime>        <version>\n# workers\n"
        "19584           worker          0               0d00h00m06s     2.6.12\n");
    REQUIRE_FALSE(info.ok());
    CHECK_THAT(info.error().message, Catch::Contains("no master process"));
  }
  SECTION("a row without a pid") {
    const auto info =
        haproxy::parse_show_proc("#<PID>          <type>          <reloads>       <uptime>        <version>\n"
                                 "19583           master          0 [failed: 0]   0d00h00m06s     2.6.12\n# workers\n"
                                 "worker          0               0d00h00m06s     2.6.12\n");
    REQUIRE_FALSE(info.ok());
    CHECK_THAT(info.error().message, Catch::Contains("line 4"));
  }
}

// --- maps: show map, prepare map, add map + commit map (HAProxy 2.6, captured) -----------------

namespace {

std::vector<std::string> entry_texts(const std::vector<haproxy::RuntimeMapEntry>& entries) {
  std::vector<std::string> texts;
  for (const auto& entry : entries) texts.push_back(entry.key + "=" + entry.value);
  return texts;
}

const std::string kUnknownMap = "Unknown map identifier. Please use #<id> or <file>.";

}  // namespace

TEST_CASE("show map: a map's entries as HAProxy runs them", "[haproxy][runtime][maps]") {
  const auto loaded = haproxy::parse_show_map(fixture("show_map.txt"));
  REQUIRE(loaded.ok());
  CHECK(entry_texts(*loaded) == std::vector<std::string>{"shop=blue", "blog=fallback"});

  const auto committed = haproxy::parse_show_map(fixture("show_map_after_commit.txt"));
  REQUIRE(committed.ok());
  CHECK(entry_texts(*committed) == std::vector<std::string>{"shop=green", "blog=fallback"});

  // A refused commit leaves the running map as it was.
  const auto after_failure = haproxy::parse_show_map(fixture("show_map_after_failed_commit.txt"));
  REQUIRE(after_failure.ok());
  CHECK(entry_texts(*after_failure) == entry_texts(*committed));

  const auto empty = haproxy::parse_show_map(fixture("show_map_empty.txt"));
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  // A value is the rest of the line (HAProxy keeps its blanks); the id is not part of the key.
  const auto spaced = haproxy::parse_show_map("0x55d0c2f0a1b0 shop blue and more\n0x55d0c2f0a1f0 blog x\n\n");
  REQUIRE(spaced.ok());
  CHECK(entry_texts(*spaced) == std::vector<std::string>{"shop=blue and more", "blog=x"});
}

TEST_CASE("show map: answers that are not a map", "[haproxy][runtime][maps]") {
  SECTION("a file HAProxy has not loaded as a map: its message, quoted, without the line breaks") {
    const auto unknown = haproxy::parse_show_map(fixture("show_map_unknown.txt"));
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message == "HAProxy answered `" + kUnknownMap + "`");
  }
  SECTION("a line without a value") {
    const auto no_value = haproxy::parse_show_map("0x55d0c2f0a1b0 shop blue\n0x55d0c2f0a1f0 blog\n\n");
    REQUIRE_FALSE(no_value.ok());
    CHECK_THAT(no_value.error().message, Catch::Contains("0x55d0c2f0a1f0 blog"));
  }
  SECTION("a line without the entry's id") {
    CHECK_FALSE(haproxy::parse_show_map("shop blue\n\n").ok());
    CHECK_FALSE(haproxy::parse_show_map("0x55d0c2f0a1b0 shop blue\nshop green\n\n").ok());
  }
  SECTION("another command's answer, e.g. a level that may not read maps") {
    const auto denied = haproxy::parse_show_map("Permission denied\n\n");
    REQUIRE_FALSE(denied.ok());
    CHECK(denied.error().message == "HAProxy answered `Permission denied`");
  }
  SECTION("a long answer is quoted in part") {
    const auto noise = haproxy::parse_show_map(std::string(5000, 'x'));
    REQUIRE_FALSE(noise.ok());
    CHECK(noise.error().message.size() < 400);
  }
}

TEST_CASE("prepare map: the new version's number", "[haproxy][runtime][maps]") {
  const auto first = haproxy::parse_prepare_map(fixture("prepare_map.txt"));
  REQUIRE(first.ok());
  CHECK(*first == 1);
  CHECK(haproxy::parse_prepare_map("New version created: 42\n\n").value() == 42);
  CHECK(haproxy::parse_prepare_map("New version created: 7").value() == 7);  // the final line breaks cut off
  CHECK(haproxy::parse_prepare_map("New version created: 123456789012345678\n\n").value() == 123456789012345678ULL);

  const auto unknown = haproxy::parse_prepare_map(fixture("prepare_map_unknown.txt"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "HAProxy answered `" + kUnknownMap + "`");

  for (const char* bad :
       {"", "\n", "New version created: \n\n", "New version created: 3x\n\n", "New version created: -3\n\n",
        "New version created:  3\n\n", "new version created: 3\n\n", "New version created: 1234567890123456789\n\n",
        "Permission denied\n\n", " New version created: 3\n\n"}) {
    INFO("answer: " << bad);
    const auto parsed = haproxy::parse_prepare_map(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::StartsWith("HAProxy answered `"));
  }
}

TEST_CASE("add map + commit map: one request, the payload ended by one empty line", "[haproxy][runtime][maps]") {
  const std::string file = "/etc/haproxy/bluegreen.map";
  const auto request = haproxy::add_and_commit_map_request(file, 3, {{"shop", "green"}, {"blog", "fallback"}});
  CHECK(request == "add map @3 /etc/haproxy/bluegreen.map <<\nshop green\nblog fallback\n\ncommit map @3 "
                   "/etc/haproxy/bluegreen.map");
  // As sent (the socket query adds the line break that ends the last command): exactly one empty
  // line, the payload's end; another would be a command of its own (HAProxy answers it with help).
  const std::string sent = request + "\n";
  CHECK(sent.find("\n\n") == sent.find("fallback\n") + std::string("fallback").size());
  CHECK(sent.find("\n\n\n") == std::string::npos);
  CHECK(sent.rfind("\n\n") == sent.find("\n\n"));

  // The version and file are those given, for both commands.
  const auto other = haproxy::add_and_commit_map_request("/srv/maps/a.map", 12, {{"k", "v"}});
  CHECK(other == "add map @12 /srv/maps/a.map <<\nk v\n\ncommit map @12 /srv/maps/a.map");
}

TEST_CASE("add map + commit map: HAProxy's reply", "[haproxy][runtime][maps]") {
  // One empty line per command: both succeeded.
  CHECK(haproxy::map_commit_problem(fixture("add_commit_map.txt")).empty());

  // The add succeeded, the commit was refused: HAProxy's message, without the add's empty line.
  CHECK(haproxy::map_commit_problem(fixture("add_commit_map_out_of_range.txt")) ==
        "HAProxy answered `Version number out of range.`");

  // Both refused (a version never prepared).
  const auto future = haproxy::map_commit_problem(
      "Version number in the future, please use 'prepare map' before.\n\nVersion number out of range.\n\n");
  CHECK_THAT(future, Catch::Contains("Version number in the future"));

  CHECK_THAT(haproxy::map_commit_problem(kUnknownMap + "\n\n" + kUnknownMap + "\n\n"),
             Catch::Contains("Unknown map identifier"));
  CHECK_THAT(haproxy::map_commit_problem("Missing value for key 'shop'.\n\n\n"), Catch::Contains("Missing value"));
}

TEST_CASE("add map + commit map: a reply that does not answer both commands is no success",
          "[haproxy][runtime][maps]") {
  // HAProxy answers every command, so an empty or half reply means the connection ended before
  // the commit was answered (HAProxy stopped, the reply cut off): the commit cannot be trusted.
  CHECK(haproxy::map_commit_problem("") == "HAProxy sent no answer, so the commit is not confirmed");
  CHECK(haproxy::map_commit_problem("\n") ==
        "HAProxy answered the add map but not the commit map, so the commit is not confirmed");
  CHECK_FALSE(haproxy::map_commit_problem("\r\n").empty());
}
