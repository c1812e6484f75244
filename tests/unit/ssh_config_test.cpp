#include "remote/ssh_config.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

struct ConfigDir {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("bluegreen-sshcfg-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  ConfigDir() { std::filesystem::create_directories(dir / ".ssh" / "config.d"); }
  ~ConfigDir() { std::filesystem::remove_all(dir); }

  remote::SshConfigSources write(const std::string& text) const {
    std::ofstream(dir / ".ssh" / "config") << text;
    remote::SshConfigSources sources;
    sources.files = {(dir / ".ssh" / "config").string()};
    sources.home = dir.string();
    sources.local_user = "me";
    return sources;
  }
};

remote::SshDestination resolve(const std::string& destination, const remote::SshConfigSources& sources) {
  auto resolved = remote::resolve_ssh_destination(destination, sources);
  INFO((resolved.ok() ? std::string() : resolved.error().message));
  REQUIRE(resolved.ok());
  return resolved.value();
}

}  // namespace

TEST_CASE("ssh config: later shared blocks still match the alias after HostName", "[ssh_config]") {
  // The seed's style (ssh jwa ...) and the lab's layout: libssh's own parser gets Port wrong here.
  ConfigDir cfg;
  const auto sources = cfg.write(R"(# comment
Host jwa
  HostName 10.0.0.22
Host jwg
  HostName 10.0.0.24
Host jwa jwg
  Port 2222
  User deploy
  IdentityFile ~/.ssh/deploy_key
  IdentitiesOnly yes
  UserKnownHostsFile ~/.ssh/known_hosts_deploy
  StrictHostKeyChecking no
Host *
  User fallback
  Port 22
  IdentityFile %d/.ssh/id_%r
)");
  const auto jwa = resolve("jwa", sources);
  CHECK(jwa.hostname == "10.0.0.22");
  CHECK(jwa.port == 2222);
  CHECK(jwa.user == "deploy");  // first obtained value wins
  CHECK(jwa.identity_files ==
        std::vector<std::string>{cfg.dir.string() + "/.ssh/deploy_key", cfg.dir.string() + "/.ssh/id_deploy"});
  CHECK(jwa.identities_only);
  CHECK(jwa.known_hosts_file == cfg.dir.string() + "/.ssh/known_hosts_deploy");
  CHECK(jwa.describe() == "deploy@10.0.0.22:2222");

  const auto other = resolve("db.example", sources);
  CHECK(other.hostname == "db.example");
  CHECK(other.user == "fallback");
  CHECK(other.port == 22);
  CHECK_FALSE(other.identities_only);
}

TEST_CASE("ssh config: destination user and port win over the config", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host box\n  HostName 127.0.0.5\n  User cfguser\n  Port 2200\n");
  const auto resolved = resolve("root@box:2201", sources);
  CHECK(resolved.user == "root");
  CHECK(resolved.port == 2201);
  CHECK(resolved.hostname == "127.0.0.5");
  CHECK(resolve("plain", sources).user == "me");  // the local user by default
}

TEST_CASE("ssh config: patterns, negation, '=' syntax, Include and Match", "[ssh_config]") {
  ConfigDir cfg;
  std::ofstream(cfg.dir / ".ssh" / "config.d" / "extra") << "Host web-*\n  Port=2022\n";
  const auto sources = cfg.write("Include config.d/*\n"
                                 "Host web-? !web-9\n  User webuser\n"
                                 "Match host web-1\n  User matched\n"
                                 "HOST Web-*\n  HostName=\"%h.internal\"\n");
  const auto web1 = resolve("web-1", sources);
  CHECK(web1.port == 2022);
  CHECK(web1.user == "webuser");
  CHECK(web1.hostname == "web-1.internal");  // keywords and patterns are case-insensitive
  CHECK_FALSE(web1.warnings.empty());        // Match is reported as unsupported
  CHECK(resolve("web-9", sources).user == "me");

  CHECK(remote::ssh_host_matches("a.example.com", {"*.example.com"}));
  CHECK_FALSE(remote::ssh_host_matches("a.example.com", {"*.example.com", "!a.*"}));
  CHECK_FALSE(remote::ssh_host_matches("x", {"!y"}));  // only negations never match
}

TEST_CASE("ssh config: invalid destinations and ports are refused", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host bad\n  Port seventy\n");
  for (const char* destination :
       {"", "-oProxyCommand=x", "host;rm", "a b", "user@", "@host", "h:0", "h:99999", "h:x"}) {
    INFO(destination);
    CHECK_FALSE(remote::resolve_ssh_destination(destination, sources).ok());
  }
  const auto bad_port = remote::resolve_ssh_destination("bad", sources);
  REQUIRE_FALSE(bad_port.ok());
  CHECK_THAT(bad_port.error().message, Catch::Contains("Port must be a number"));
  CHECK(remote::resolve_ssh_destination("missing-config-is-fine", remote::SshConfigSources{{"/nonexistent"}, "/", "u"})
            .ok());
}
