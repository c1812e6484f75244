// The ssh config resolver on a table of ssh_config snippets: what it returns must be what
// OpenSSH's own client reports for them (`ssh -G -F FILE host`, read independently here), with
// the tokens expanded, and the directives bluegreen-mcp cannot honour refused with file and line.
#include "remote/ssh_config.h"
#include "remote/local_process.h"
#include "remote/ssh_directives.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <pwd.h>
#include <regex>
#include <sstream>
#include <unistd.h>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

struct ConfigDir {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("bluegreen-sshcfg-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  ConfigDir() { std::filesystem::create_directories(dir / "config.d"); }
  ~ConfigDir() { std::filesystem::remove_all(dir); }
  ConfigDir(const ConfigDir&) = delete;
  ConfigDir& operator=(const ConfigDir&) = delete;

  [[nodiscard]] std::string path() const { return (dir / "config").string(); }
  [[nodiscard]] remote::SshConfigSources write(const std::string& text) const {
    std::ofstream(dir / "config") << text;
    return remote::SshConfigSources{path(), std::chrono::seconds(10)};
  }
};

remote::SshDestination resolve(const std::string& destination, const remote::SshConfigSources& sources) {
  auto resolved = remote::resolve_ssh_destination(destination, sources);
  INFO((resolved.ok() ? std::string() : resolved.error().message));
  REQUIRE(resolved.ok());
  return resolved.value();
}

std::string refusal(const std::string& destination, const remote::SshConfigSources& sources) {
  auto resolved = remote::resolve_ssh_destination(destination, sources);
  REQUIRE_FALSE(resolved.ok());
  return resolved.error().message;
}

// What `ssh -G` itself prints for `host`: keyword → the first value.
std::map<std::string, std::string> openssh_says(const std::string& config, const std::string& host) {
  auto run = remote::run_local({"ssh", "-G", "-F", config, host}, std::chrono::seconds(10));
  REQUIRE(run.ok());
  std::map<std::string, std::string> options;
  std::istringstream in(run->out);
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    if (space != std::string::npos) options.emplace(line.substr(0, space), line.substr(space + 1));
  }
  return options;
}

std::string home() {
  const passwd* entry = ::getpwuid(::getuid());  // NOLINT(concurrency-mt-unsafe): single-threaded test
  return entry->pw_dir;
}

}  // namespace

TEST_CASE("ssh config: each snippet resolves as ssh -G says", "[ssh_config]") {
  struct Case {
    const char* name;
    const char* config;
    const char* host;
  };
  const std::vector<Case> cases{
      {"Key value", "Host box\n  HostName 10.0.0.5\n  Port 2222\n  User deploy\n", "box"},
      {"Key=value", "Host box\n  HostName=10.0.0.5\n  Port=2222\n  User=deploy\n", "box"},
      {"Key = value", "Host box\n  HostName = 10.0.0.5\n  Port = 2222\n  User = deploy\n", "box"},
      {"first value wins", "Host box\n  Port 2201\nHost *\n  Port 2202\n  User fallback\n", "box"},
      {"shared block after an alias block",
       "Host jwa\n  HostName 10.0.0.22\nHost jwa jwg\n  Port 2222\n  User deploy\n", "jwa"},
      {"negation", "Host * !web-9\n  User webuser\n", "web-9"},
      {"case-insensitive keywords and patterns", "HOST Web-*\n  hostNAME %h.internal\n", "web-1"},
      {"Match host", "Host web\n  HostName 10.1.1.1\nMatch host 10.1.1.1\n  User matched\n  Port 2300\n", "web"},
      {"Match negated", "Match !host other\n  User notother\n", "box"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    ConfigDir cfg;
    const auto sources = cfg.write(c.config);
    const auto ours = resolve(c.host, sources);
    const auto theirs = openssh_says(cfg.path(), c.host);
    CHECK(ours.hostname == theirs.at("hostname"));
    CHECK(std::to_string(ours.port) == theirs.at("port"));
    CHECK(ours.user == theirs.at("user"));
  }
}

TEST_CASE("ssh config: Include with globs, and Match inside an included file", "[ssh_config]") {
  ConfigDir cfg;
  std::ofstream(cfg.dir / "config.d" / "10-web")
      << "Host web-*\n  Port=2022\nMatch originalhost web-1\n  HostName 10.9.9.9\n";
  const auto sources = cfg.write("Include " + (cfg.dir / "config.d").string() + "/*\nHost web-1\n  User deploy\n");
  const auto web1 = resolve("web-1", sources);
  CHECK(web1.port == 2022);
  CHECK(web1.user == "deploy");
  CHECK(web1.hostname == "10.9.9.9");
  CHECK(web1.hostname == openssh_says(cfg.path(), "web-1").at("hostname"));
}

TEST_CASE("ssh config: keys, agents and known_hosts files, tokens expanded", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write(R"(Host box
  HostName 10.0.0.5
  User deploy
  IdentityFile ~/.ssh/id_%h_%r
  IdentityFile %d/keys/%u-%n.pub
  IdentitiesOnly yes
  IdentityAgent ~/.1password/agent.sock
  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2
  GlobalKnownHostsFile /etc/ssh/global_kh
  ConnectTimeout 7
Host noagent
  IdentityAgent none
Host envagent
  IdentityAgent SSH_AUTH_SOCK
)");
  const auto box = resolve("box", sources);
  const passwd* me = ::getpwuid(::getuid());  // NOLINT(concurrency-mt-unsafe): single-threaded test
  CHECK(box.identity_files ==
        std::vector<std::string>{home() + "/.ssh/id_10.0.0.5_deploy", home() + "/keys/" + me->pw_name + "-box.pub"});
  CHECK(box.identity_files_configured);
  CHECK(box.identities_only);
  CHECK(box.agent == remote::AgentSource::kPath);
  CHECK(box.agent_path == home() + "/.1password/agent.sock");
  CHECK(box.user_known_hosts_files == std::vector<std::string>{home() + "/.ssh/kh1", "/etc/kh2"});
  CHECK(box.global_known_hosts_files == std::vector<std::string>{"/etc/ssh/global_kh"});
  CHECK(box.connect_timeout == std::chrono::seconds(7));
  CHECK(resolve("noagent", sources).agent == remote::AgentSource::kNone);
  CHECK(resolve("envagent", sources).agent == remote::AgentSource::kEnvironment);

  const auto plain = resolve("plain", sources);  // OpenSSH's defaults
  CHECK_FALSE(plain.identity_files_configured);
  CHECK_FALSE(plain.identities_only);
  CHECK(plain.agent == remote::AgentSource::kEnvironment);
  CHECK(plain.user_known_hosts_files.front() == home() + "/.ssh/known_hosts");
  CHECK_FALSE(plain.connect_timeout);
}

TEST_CASE("ssh config: ProxyJump chains and ProxyCommand are kept for the route", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host web\n  HostName web.internal\n  ProxyJump admin@bastion:2200,jump2\n"
                                 "Host pc\n  ProxyCommand ssh -W %h:%p bastion\n"
                                 "Host nojump\n  ProxyJump none\n"
                                 "Host by-address\n  ProxyJump root@10.0.0.9:2222,10.0.0.10\n");
  const auto web = resolve("web", sources);
  CHECK(web.proxy_jump == std::vector<std::string>{"admin@bastion:2200", "jump2"});
  const auto by_address = resolve("by-address", sources);
  CHECK(by_address.proxy_jump == std::vector<std::string>{"root@10.0.0.9:2222", "[10.0.0.10]"});
  for (const auto& hop : by_address.proxy_jump) CHECK(remote::resolve_ssh_destination(hop, sources).ok());
  CHECK(web.proxy_command.empty());
  const auto pc = resolve("pc", sources);
  CHECK(pc.proxy_jump.empty());
  CHECK(pc.proxy_command == "ssh -W %h:%p bastion");
  CHECK(resolve("nojump", sources).proxy_jump.empty());
}

TEST_CASE("ssh config: destination user and port win over the config", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host box\n  HostName 127.0.0.5\n  User cfguser\n  Port 2200\n");
  const auto resolved = resolve("root@box:2201", sources);
  CHECK(resolved.user == "root");
  CHECK(resolved.port == 2201);
  CHECK(resolved.hostname == "127.0.0.5");
  CHECK(resolved.describe() == "root@127.0.0.5:2201");
  // ssh -G prints an address jump host in brackets, and ProxyJump also takes ssh:// URIs.
  CHECK(resolve("root@[127.0.0.6]:2202", sources).describe() == "root@127.0.0.6:2202");
  CHECK(resolve("[127.0.0.6]", sources).describe() ==
        std::string(::getpwuid(::getuid())->pw_name) + "@127.0.0.6:22");  // NOLINT(concurrency-mt-unsafe)
  CHECK(resolve("ssh://admin@box:2203", sources).describe() == "admin@127.0.0.5:2203");
  CHECK(resolve("ssh://root@[::1]:2204", sources).describe() == "root@::1:2204");
}

TEST_CASE("ssh config: directives that would change the route are refused with file and line", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host alias\n  HostName 10.0.0.5\n  HostKeyAlias other\n"
                                 "Host bind\n  BindAddress 127.0.0.9\n"
                                 "Host cert\n  CertificateFile ~/.ssh/id-cert.pub\n"
                                 "Host token\n  IdentityFile ~/.ssh/%C\n");
  const auto alias = refusal("alias", sources);
  CHECK_THAT(alias, Catch::Contains("hostkeyalias other (" + cfg.path() + ":3)"));
  CHECK_THAT(alias, Catch::Contains("add a known_hosts entry"));
  CHECK_THAT(refusal("bind", sources), Catch::Contains("bindaddress 127.0.0.9 (" + cfg.path() + ":5)"));
  CHECK_THAT(refusal("cert", sources), Catch::Contains("certificates are not supported"));
  CHECK_THAT(refusal("token", sources), Catch::Contains("%C"));
}

TEST_CASE("ssh config: a refusal names the line OpenSSH used, through Includes in parse order", "[ssh_config]") {
  ConfigDir cfg;
  std::ofstream(cfg.dir / "config.d" / "green.conf") << "BindAddress 127.0.0.9\n";
  std::ofstream(cfg.dir / "config.d" / "blue.conf") << "BindAddress 127.0.0.1\n";
  std::ofstream(cfg.dir / "config.d" / "shared.conf") << "# shared\nHost shared-*\n  BindAddress 127.0.0.3\n";
  const auto sources =
      cfg.write("Host lab-green\n  Include " + (cfg.dir / "config.d" / "green.conf").string() +
                "\nHost lab-blue\n  Include " + (cfg.dir / "config.d" / "blue.conf").string() + "\nHost *\n  Include " +
                (cfg.dir / "config.d" / "shared.conf").string() + "\nHost shared-1\n  BindAddress 127.0.0.4\n");
  CHECK_THAT(refusal("lab-blue", sources),
             Catch::Contains("bindaddress 127.0.0.1 (" + (cfg.dir / "config.d" / "blue.conf").string() + ":1)"));
  CHECK_THAT(refusal("shared-1", sources),
             Catch::Contains("bindaddress 127.0.0.3 (" + (cfg.dir / "config.d" / "shared.conf").string() + ":3)"));
}

TEST_CASE("ssh config: harmless directives are noted, security ones overridden", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host box\n  LocalForward 8080 localhost:80\n  StrictHostKeyChecking no\n"
                                 "  ControlMaster auto\n");
  const auto box = resolve("box", sources);
  std::string notes;
  for (const auto& note : box.notes) notes += note + "\n";
  CHECK_THAT(notes,
             Catch::Contains("localforward") && Catch::Contains(cfg.path() + ":2") && Catch::Contains("ignored"));
  CHECK_THAT(notes, Catch::Contains("stricthostkeychecking false (" + cfg.path() + ":3): overridden"));
  CHECK_THAT(notes, Catch::Contains("controlmaster"));
}

TEST_CASE("ssh config: OpenSSH's own errors and invalid destinations", "[ssh_config]") {
  ConfigDir cfg;
  const auto sources = cfg.write("Host bad\n  Port seventy\n");
  for (const char* destination :
       {"", "-oProxyCommand=x", "host;rm", "a b", "user@", "@host", "h:0", "h:99999", "h:x"}) {
    INFO(destination);
    CHECK(remote::resolve_ssh_destination(destination, sources).error().code == ErrorCode::kInvalidArgument);
  }
  const auto bad_port = remote::resolve_ssh_destination("bad", sources);
  REQUIRE_FALSE(bad_port.ok());
  CHECK(bad_port.error().code == ErrorCode::kFailedPrecondition);
  CHECK_THAT(bad_port.error().message, Catch::Contains(cfg.path() + " line 2"));
  const auto missing =
      remote::resolve_ssh_destination("box", remote::SshConfigSources{"/nonexistent/config", std::chrono::seconds(10)});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("/nonexistent/config"));
}

TEST_CASE("ssh config: every directive ssh -G prints has a rule", "[ssh_config]") {
  auto run = remote::run_local({"ssh", "-G", "-F", "/dev/null", "x"}, std::chrono::seconds(10));
  REQUIRE(run.ok());
  std::istringstream in(run->out);
  for (std::string line; std::getline(in, line);) {
    std::string keyword = line.substr(0, line.find(' '));
    std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    INFO(keyword);
    const auto& rules = remote::directive_rules();
    CHECK(std::any_of(rules.begin(), rules.end(), [&](const auto& rule) { return rule.keyword == keyword; }));
  }
}

TEST_CASE("ssh config: the resolver keeps what it resolved", "[ssh_config]") {
  ConfigDir cfg;
  remote::SshConfigResolver resolver(cfg.write("Host box\n  Port 2201\n"));
  REQUIRE(resolver.resolve("box").ok());
  (void)cfg.write("Host box\n  Port 2202\n");
  CHECK(resolver.resolve("box")->port == 2201);  // once per server lifetime
}

TEST_CASE("ssh config: README lists every directive of the table", "[ssh_config][docs]") {
  std::ifstream in(std::string(BLUEGREEN_SOURCE_DIR) + "/README.md");
  std::ostringstream text;
  text << in.rdbuf();
  std::string readme = text.str();
  std::transform(readme.begin(), readme.end(), readme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& rule : remote::directive_rules()) {
    INFO(rule.keyword);
    const std::regex word("\\b" + std::string(rule.keyword) + "\\b");
    CHECK(std::regex_search(readme, word));
  }
}
