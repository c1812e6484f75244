#include "deployment/lb_kind.h"

#include "deployment/switch_recovery.h"

namespace bluegreen::deployment {

const LbKind& lb_kind(config::LbType type) {
  switch (type) {
    case config::LbType::kNginx: return nginx_kind();
    case config::LbType::kCaddy: return caddy_kind();
    case config::LbType::kHaproxy: break;
  }
  return haproxy_kind();
}

bluegreen::Result<std::vector<std::string>> LbKind::interrupted_swaps(Services& services, const config::AppConfig& app,
                                                                      const LbSnapshot& snapshot) const {
  return interrupted_file_swaps(services, app, snapshot);
}

const LbKind& lb_kind(const config::AppConfig& app) { return lb_kind(app.load_balancer.type); }

}  // namespace bluegreen::deployment
