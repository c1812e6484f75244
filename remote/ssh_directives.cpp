#include "remote/ssh_directives.h"

#include <algorithm>
#include <iterator>

namespace bluegreen::remote {
namespace {

constexpr auto kHonoured = DirectiveUse::kHonoured;
constexpr auto kForced = DirectiveUse::kForced;
constexpr auto kIgnored = DirectiveUse::kIgnored;
constexpr auto kRefused = DirectiveUse::kRefused;

constexpr std::string_view kForwarding = "bluegreen-mcp opens no forwardings";
constexpr std::string_view kNoPrompt = "bluegreen-mcp never prompts: it authenticates with keys only";
constexpr std::string_view kOwnConnections = "bluegreen-mcp keeps its own connections to each host";
constexpr std::string_view kOwnCommands = "bluegreen-mcp runs its own commands, without a terminal";
constexpr std::string_view kClientOnly = "it only concerns the interactive ssh client";
constexpr std::string_view kStrict = "host keys are always checked strictly against known_hosts, never updated";

// The table, in README's order.
const DirectiveRule kRules[] = {
    // Where to connect and as whom.
    {"host", kHonoured, ""},
    {"hostname", kHonoured, ""},
    {"port", kHonoured, ""},
    {"user", kHonoured, ""},
    {"proxyjump", kHonoured, ""},
    {"proxycommand", kHonoured, ""},
    {"connecttimeout", kHonoured, ""},
    {"canonicalizehostname", kHonoured, ""},
    {"canonicaldomains", kHonoured, ""},
    {"canonicalizefallbacklocal", kHonoured, ""},
    {"canonicalizemaxdots", kHonoured, ""},
    {"canonicalizepermittedcnames", kHonoured, ""},
    // Keys.
    {"identityfile", kHonoured, ""},
    {"identitiesonly", kHonoured, ""},
    {"identityagent", kHonoured, ""},
    {"pubkeyauthentication", kRefused,
     "bluegreen-mcp authenticates with keys only; remove PubkeyAuthentication no for this host"},
    {"userknownhostsfile", kHonoured, ""},
    {"globalknownhostsfile", kHonoured, ""},
    // Algorithms: passed on to libssh, which keeps those it implements.
    {"ciphers", kHonoured, ""},
    {"macs", kHonoured, ""},
    {"kexalgorithms", kHonoured, ""},
    {"hostkeyalgorithms", kHonoured, ""},
    {"pubkeyacceptedalgorithms", kHonoured, ""},
    // Host-key safety: always strict.
    {"stricthostkeychecking", kForced, kStrict, "true"},
    {"updatehostkeys", kForced, kStrict, "false"},
    {"checkhostip", kForced, kStrict, "no"},
    {"verifyhostkeydns", kForced, "host keys come from known_hosts files only, never from DNS", "false"},
    {"hashknownhosts", kForced, "bluegreen-mcp never writes known_hosts (hashed entries are read)", "yes"},
    {"nohostauthenticationforlocalhost", kForced, kStrict, "no"},
    {"batchmode", kForced, kNoPrompt, "yes"},
    // Refused: they change the route or the checks in ways bluegreen-mcp does not implement.
    {"hostkeyalias", kRefused,
     "bluegreen-mcp checks the host key under the HostName; add a known_hosts entry for it instead"},
    {"addressfamily", kRefused, "set HostName to an address of the family you want instead"},
    {"bindaddress", kRefused, "not supported: the system chooses the source address"},
    {"bindinterface", kRefused, "not supported: the system chooses the source address"},
    {"certificatefile", kRefused, "SSH certificates are not supported; use a plain key in authorized_keys"},
    {"pkcs11provider", kRefused, "PKCS#11 keys are not supported; load the key into ssh-agent (IdentityAgent)"},
    {"securitykeyprovider", kRefused, "security-key middleware is not supported; use the agent (IdentityAgent)"},
    {"revokedhostkeys", kRefused, "revoked host key lists are not checked; remove the revoked key from known_hosts"},
    {"knownhostscommand", kRefused, "list the host keys in a UserKnownHostsFile instead"},
    {"proxyusefdpass", kRefused, "use a ProxyCommand that relays data (ssh -W, nc) or ProxyJump"},
    {"gssapiauthentication", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key", "no"},
    {"gssapikeyexchange", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"gssapidelegatecredentials", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"gssapitrustdns", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"gssapirenewalforcesrekey", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"gssapikexalgorithms", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"gssapiserveridentity", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"gssapiclientidentity", kIgnored, "GSSAPI (Kerberos) is not used: authentication is by key"},
    {"hostbasedauthentication", kIgnored, "host-based authentication is not used: authentication is by key", "no"},
    {"hostbasedacceptedalgorithms", kIgnored, "host-based authentication is not used"},
    {"enablesshkeysign", kIgnored, "host-based authentication is not used"},
    {"passwordauthentication", kIgnored, kNoPrompt, "no"},
    {"kbdinteractiveauthentication", kIgnored, kNoPrompt, "no"},
    {"kbdinteractivedevices", kIgnored, kNoPrompt},
    {"numberofpasswordprompts", kIgnored, kNoPrompt},
    {"casignaturealgorithms", kIgnored, "certificates are not used"},
    {"requiredrsasize", kIgnored, "libssh applies its own minimum RSA key size"},
    {"addkeystoagent", kIgnored, "bluegreen-mcp never adds keys to an agent", "false"},
    {"forwardagent", kIgnored, "bluegreen-mcp never forwards the agent", "no"},
    {"forwardx11", kIgnored, kForwarding, "no"},
    {"forwardx11timeout", kIgnored, kForwarding},
    {"forwardx11trusted", kIgnored, kForwarding},
    {"xauthlocation", kIgnored, kForwarding},
    {"localforward", kIgnored, kForwarding},
    {"remoteforward", kIgnored, kForwarding},
    {"dynamicforward", kIgnored, kForwarding},
    {"clearallforwardings", kIgnored, kForwarding},
    {"exitonforwardfailure", kIgnored, kForwarding},
    {"gatewayports", kIgnored, kForwarding},
    {"permitremoteopen", kIgnored, kForwarding},
    {"streamlocalbindmask", kIgnored, kForwarding},
    {"streamlocalbindunlink", kIgnored, kForwarding},
    {"tunnel", kIgnored, kForwarding},
    {"tunneldevice", kIgnored, kForwarding},
    {"controlmaster", kIgnored, kOwnConnections, "false"},
    {"controlpath", kIgnored, kOwnConnections},
    {"controlpersist", kIgnored, kOwnConnections},
    {"connectionattempts", kIgnored, "each remote call has its own deadline and reconnects once"},
    {"serveraliveinterval", kHonoured, ""},
    {"serveralivecountmax", kHonoured, ""},
    {"tcpkeepalive", kIgnored, "each remote command has its own deadline", "yes"},
    {"rekeylimit", kIgnored, "libssh rekeys by its own limits"},
    {"compression", kIgnored, "bluegreen-mcp moves little data", "no"},
    {"ipqos", kIgnored, "libssh sets no IP QoS"},
    {"remotecommand", kIgnored, kOwnCommands},
    {"requesttty", kIgnored, kOwnCommands, "no"},
    {"sessiontype", kIgnored, kOwnCommands, "none"},
    {"stdinnull", kIgnored, kOwnCommands, "yes"},
    {"forkafterauthentication", kIgnored, kOwnCommands},
    {"sendenv", kIgnored, "bluegreen-mcp sends no environment variables"},
    {"setenv", kIgnored, "bluegreen-mcp sends no environment variables"},
    {"ignoreunknown", kIgnored, "it only tells ssh which unknown directives to skip; OpenSSH applied it"},
    {"tag", kIgnored, "it only selects Match tagged blocks, which OpenSSH applied"},
    {"channeltimeout", kIgnored, "each remote command has its own deadline"},
    {"obscurekeystroketiming", kIgnored, kClientOnly},
    {"permitlocalcommand", kIgnored, kClientOnly, "no"},
    {"localcommand", kIgnored, kClientOnly},
    {"enableescapecommandline", kIgnored, kClientOnly, "no"},
    {"escapechar", kIgnored, kClientOnly},
    {"visualhostkey", kIgnored, kClientOnly, "no"},
    {"fingerprinthash", kIgnored, "messages always show SHA256 fingerprints"},
    {"loglevel", kIgnored, "bluegreen-mcp has its own log (logLevel in its config)"},
    {"logverbose", kIgnored, "bluegreen-mcp has its own log (logLevel in its config)"},
    {"syslogfacility", kIgnored, "bluegreen-mcp has its own log (logLevel in its config)"},
};

}  // namespace

const std::vector<DirectiveRule>& directive_rules() {
  static const std::vector<DirectiveRule> rules(std::begin(kRules), std::end(kRules));
  return rules;
}

DirectiveRule directive_rule(std::string_view keyword) {
  const auto& rules = directive_rules();
  const auto found =
      std::find_if(rules.begin(), rules.end(), [&](const DirectiveRule& rule) { return rule.keyword == keyword; });
  if (found != rules.end()) return *found;
  return {keyword, kRefused,
          "bluegreen-mcp does not know this directive, so it cannot promise to connect as ssh would; remove it for "
          "this host or report it"};
}

}  // namespace bluegreen::remote
