#include "caddy/admin_http.h"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using caddy::AdminRequest;
using caddy::parse_admin_response;

// Bytes captured from a real Caddy 2.6.2; see caddy_fixtures/README.md. __FILE__ is absolute in
// this build, so the fixtures are found next to this file.
std::string fixture(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "caddy_fixtures" / name;
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("admin request: GET on a unix socket sends an empty Host", "[caddy][admin_http]") {
  const auto bytes = caddy::admin_request(AdminRequest{"GET", "/config/", "", std::nullopt, ""});
  REQUIRE(bytes.ok());
  // Exactly what the fixtures were captured with (printf ... | socat).
  CHECK(*bytes == "GET /config/ HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n");
}

TEST_CASE("admin request: PATCH with a JSON body and If-Match", "[caddy][admin_http]") {
  const std::string body = R"([{"dial":"127.0.31.12:9000"}])";
  const auto bytes = caddy::admin_request(
      AdminRequest{"PATCH", "/config/apps/http/servers/srv0/routes", "localhost:2019", body, "\"/config/ adde9030\""});
  REQUIRE(bytes.ok());
  CHECK(*bytes == "PATCH /config/apps/http/servers/srv0/routes HTTP/1.1\r\n"
                  "Host: localhost:2019\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 29\r\n"
                  "If-Match: \"/config/ adde9030\"\r\n"
                  "Connection: close\r\n"
                  "\r\n" +
                      body);
}

TEST_CASE("admin request: an empty body still has its Content-Length", "[caddy][admin_http]") {
  const auto bytes = caddy::admin_request(AdminRequest{"POST", "/load", "", std::string(), ""});
  REQUIRE(bytes.ok());
  CHECK(bytes->find("Content-Length: 0\r\n") != std::string::npos);
  CHECK(bytes->size() >= 4);
  CHECK(bytes->substr(bytes->size() - 4) == "\r\n\r\n");
}

TEST_CASE("admin request: bad fields are refused, naming the field", "[caddy][admin_http]") {
  const auto refused = [](AdminRequest request, const std::string& word) {
    const auto bytes = caddy::admin_request(request);
    REQUIRE_FALSE(bytes.ok());
    CHECK(bytes.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(bytes.error().message, Catch::Contains(word));
  };
  refused(AdminRequest{"GET", "config/", "", std::nullopt, ""}, "path");
  refused(AdminRequest{"GET", "", "", std::nullopt, ""}, "path");
  refused(AdminRequest{"GET", "/config/ HTTP/1.0", "", std::nullopt, ""}, "path");
  refused(AdminRequest{"GET", "/config/\r\nX-Evil: 1", "", std::nullopt, ""}, "path");
  refused(AdminRequest{"GET", "/config/\n", "", std::nullopt, ""}, "path");
  refused(AdminRequest{"get", "/config/", "", std::nullopt, ""}, "method");
  refused(AdminRequest{"", "/config/", "", std::nullopt, ""}, "method");
  refused(AdminRequest{"GET", "/config/", "localhost\r\n", std::nullopt, ""}, "Host");
  refused(AdminRequest{"PATCH", "/config/", "", "{}", "\"x\"\r\nEvil: 1"}, "If-Match");
}

TEST_CASE("admin response: GET /config/ from Caddy 2.6.2 is chunked with the Etag as a trailer",
          "[caddy][admin_http]") {
  const auto response = parse_admin_response(fixture("get_config_single.raw"));
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->reason == "OK");
  CHECK(response->headers.at("content-type") == "application/json");
  CHECK(response->headers.at("TRANSFER-ENCODING") == "chunked");
  CHECK(response->headers.at("Trailer") == "ETag");
  CHECK(response->headers.count("Etag") == 0);  // not a header in 2.6: only announced
  CHECK(response->trailers.at("ETag") == "\"/config/ adde9030\"");
  CHECK(response->etag() == "\"/config/ adde9030\"");
  CHECK(response->field("connection") == "close");
  CHECK(response->body == fixture("config_single.json"));
  const auto config = nlohmann::json::parse(response->body);
  CHECK(config["apps"]["http"]["servers"]["srv0"]["listen"][0] == "127.0.31.1:8080");
}

TEST_CASE("admin response: other captured GETs", "[caddy][admin_http]") {
  SECTION("a nested config") {
    const auto response = parse_admin_response(fixture("get_config_handle_blocks.raw"));
    REQUIRE(response.ok());
    CHECK(response->body == fixture("config_handle_blocks.json"));
    CHECK(response->etag().has_value());
  }
  SECTION("a sub-path: its Etag names that path") {
    const auto response = parse_admin_response(fixture("get_config_upstreams_path.raw"));
    REQUIRE(response.ok());
    CHECK(response->body == "[{\"dial\":\"127.0.31.11:9000\"}]\n");
    CHECK(response->etag() ==
          "\"/config/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0/upstreams a87dee14\"");
  }
  SECTION("a path that does not exist: 200 and null") {
    const auto response = parse_admin_response(fixture("get_config_missing_path.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(response->body == "null\n");
  }
  SECTION("after a PATCH the Etag changes") {
    const auto response = parse_admin_response(fixture("get_config_after_patch.raw"));
    REQUIRE(response.ok());
    CHECK(response->etag() == "\"/config/ 3241f081\"");
    CHECK(response->body.find("127.0.31.12:9000") != std::string::npos);
  }
  SECTION("/reverse_proxy/upstreams: Content-Length") {
    const auto response = parse_admin_response(fixture("reverse_proxy_upstreams.raw"));
    REQUIRE(response.ok());
    CHECK(response->trailers.empty());
    CHECK_FALSE(response->etag().has_value());
    const auto upstreams = nlohmann::json::parse(response->body);
    CHECK(upstreams[0]["address"] == "127.0.31.12:9000");
    CHECK(upstreams[0]["num_requests"] == 0);
  }
}

TEST_CASE("admin response: captured PATCH answers", "[caddy][admin_http]") {
  SECTION("success: 200 and an empty body") {
    const auto response = parse_admin_response(fixture("patch_if_match_ok.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(response->body.empty());
    CHECK(response->headers.at("Content-Length") == "0");
  }
  SECTION("stale If-Match: 412") {
    const auto response = parse_admin_response(fixture("patch_stale_if_match.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 412);
    CHECK(caddy::admin_error_text(*response) ==
          "412 Precondition Failed: If-Match header did not match current config hash");
  }
  SECTION("wrong Content-Type: 400") {
    const auto response = parse_admin_response(fixture("patch_wrong_content_type.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 400);
    CHECK(caddy::admin_error_text(*response) ==
          "400 Bad Request: unacceptable content-type: text/plain; 'application/json' required");
  }
  SECTION("a path that does not exist: 500, not 404") {
    const auto response = parse_admin_response(fixture("patch_missing_path.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 500);
    CHECK(caddy::admin_error_text(*response) ==
          "500 Internal Server Error: invalid traversal path at: config/apps/http/servers/srv9/routes");
    const auto key = parse_admin_response(fixture("patch_missing_key.raw"));
    REQUIRE(key.ok());
    CHECK(key->status == 500);
    CHECK_THAT(caddy::admin_error_text(*key), Catch::Contains("key does not exist: nosuchkey"));
  }
  SECTION("a config that does not load: 500 with the reason") {
    const auto response = parse_admin_response(fixture("patch_invalid_config.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 500);
    CHECK_THAT(caddy::admin_error_text(*response), Catch::Contains("invalid listener address '127.0.31.1:notaport'"));
  }
}

TEST_CASE("admin response: captured 4xx answers to the wrong Host", "[caddy][admin_http]") {
  SECTION("Host: localhost:2019 on the unix socket: 403") {
    const auto response = parse_admin_response(fixture("host_localhost_on_unix.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 403);
    CHECK(response->reason == "Forbidden");
    CHECK(caddy::admin_error_text(*response) == "403 Forbidden: host not allowed: localhost:2019");
  }
  SECTION("no Host header: Go's own 400, read to the end") {
    const auto response = parse_admin_response(fixture("no_host.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 400);
    CHECK(response->reason == "Bad Request: missing required Host header");
    CHECK(response->headers.count("Content-Length") == 0);
    CHECK(response->body == "400 Bad Request: missing required Host header");
    CHECK(caddy::admin_error_text(*response) ==
          "400 Bad Request: missing required Host header: `400 Bad Request: missing required Host header`");
  }
  SECTION("an unknown endpoint: 404 in plain text") {
    const auto response = parse_admin_response(fixture("unknown_endpoint.raw"));
    REQUIRE(response.ok());
    CHECK(response->status == 404);
    CHECK(caddy::admin_error_text(*response) == "404 Not Found: `404 page not found`");
  }
}

TEST_CASE("admin response: a cut anywhere in a captured answer is an error", "[caddy][admin_http]") {
  const std::string bytes = fixture("get_config_single.raw");
  // Every proper prefix is incomplete: the chunked body ends with the trailer section's blank line.
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const auto response = parse_admin_response(std::string_view(bytes).substr(0, size));
    INFO("first " << size << " bytes");
    REQUIRE_FALSE(response.ok());
  }
  const auto cut = parse_admin_response(std::string_view(bytes).substr(0, bytes.size() / 2));
  REQUIRE_FALSE(cut.ok());
  CHECK_THAT(cut.error().message, Catch::Contains("truncated at byte " + std::to_string(bytes.size() / 2)));
  CHECK_THAT(cut.error().message, Catch::Contains("a chunk of 373 bytes"));

  const std::string fixed = fixture("patch_stale_if_match.raw");
  const auto short_body = parse_admin_response(std::string_view(fixed).substr(0, fixed.size() - 1));
  REQUIRE_FALSE(short_body.ok());
  CHECK_THAT(short_body.error().message, Catch::Contains("a body of 62 bytes (Content-Length), 61 received"));
}

TEST_CASE("admin response: garbled input says what was expected and where", "[caddy][admin_http]") {
  const auto error_of = [](std::string_view bytes) {
    const auto response = parse_admin_response(bytes);
    REQUIRE_FALSE(response.ok());
    return response.error().message;
  };
  CHECK_THAT(error_of(""), Catch::Contains("sent nothing"));
  CHECK_THAT(error_of("SSH-2.0-OpenSSH_9.2\r\n"),
             Catch::Contains("expected a status line `HTTP/1.1 NNN reason` at byte 0, found `SSH-2.0-OpenSSH_9.2??`"));
  CHECK_THAT(error_of("HTTP/1.1 2x0 OK\r\n\r\n"), Catch::Contains("a three-digit status code at byte 9"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"),
             Catch::Contains("`Name: value` in the header section at byte 17"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n"), Catch::Contains("folded"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"),
             Catch::Contains("Content-Length that is one number"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
             Catch::Contains("found `2, 3`"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
             Catch::Contains("a chunk size in hex at byte 47"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"),
             Catch::Contains("the CRLF that ends a chunk of 3 bytes at byte 53"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nEtag: \"x\"\r\n"),
             Catch::Contains("the blank line that ends the trailer section"));
  CHECK_THAT(error_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc"),
             Catch::Contains(
                 "expected the end of the response (the server closes the connection after it) at byte 40"));
}

TEST_CASE("admin response: other framings", "[caddy][admin_http]") {
  SECTION("chunk extensions, several chunks, bare LF, several trailers") {
    const auto response = parse_admin_response("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, "
                                               "chunked\n\n3;ext=1\nabc\n2\r\nde\r\n0\r\nEtag: \"e\"\r\nX-A: 1\r\nx-a: "
                                               "2\r\n\r\n");
    REQUIRE(response.ok());
    CHECK(response->body == "abcde");
    CHECK(response->etag() == "\"e\"");
    CHECK(response->trailers.at("X-A") == "1, 2");
  }
  SECTION("an Etag header wins over a trailer") {
    const auto response = parse_admin_response(
        "HTTP/1.1 200 OK\r\nETag: \"h\"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nEtag: \"t\"\r\n\r\n");
    REQUIRE(response.ok());
    CHECK(response->etag() == "\"h\"");
  }
  SECTION("204 has no body; HTTP/1.0 read to the end") {
    const auto no_content = parse_admin_response("HTTP/1.1 204 No Content\r\n\r\n");
    REQUIRE(no_content.ok());
    CHECK(no_content->body.empty());
    const auto old = parse_admin_response("HTTP/1.0 200\r\n\r\nall of it");
    REQUIRE(old.ok());
    CHECK(old->reason.empty());
    CHECK(old->body == "all of it");
  }
}
