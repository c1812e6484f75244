#pragma once
// What the running HAProxy serves, asked through its frontend (the load balancer's verifyUrl) on
// a new connection. HAProxy's config file says what it will route to after a reload; the frontend
// says what users get now. They differ when a reload failed or never happened (for example the
// load balancer became unreachable in the middle of a switch), and then nothing may act on the
// file's word: status reports the difference, and deploy and switch refuse until it is resolved.
//
// Thread-safety: stateless functions; the probe is called from the caller's thread.

#include "config/config.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"

#include <optional>
#include <string>

namespace bluegreen::deployment {

struct FrontendView {
  std::string url;
  remote::HealthReport report;
  std::optional<state::Color> color;  // the colour that answered, when the endpoint reports one
};

// A view from a probe of `url` already made.
FrontendView frontend_view(std::string url, remote::HealthReport report);

// Probes the app's verifyUrl; nullopt when none is configured.
std::optional<FrontendView> probe_frontend(Services& services, const config::AppConfig& app);

// A contradiction seen once may be a reload in progress (new workers take a moment to take
// over): while the frontend contradicts the file, probe again, for up to about half a second,
// before believing it. Returns the last view.
std::optional<FrontendView> settle_frontend(Services& services, const config::AppConfig& app,
                                            const LbSnapshot& snapshot, std::optional<FrontendView> first);

// Why the running HAProxy contradicts the config file, with what to do; empty when they agree or
// the frontend cannot tell (no colour reported, or no answer: a down PROD must not block the way back).
std::string frontend_mismatch(const config::AppConfig& app, const LbSnapshot& snapshot,
                              const std::optional<FrontendView>& frontend);

}  // namespace bluegreen::deployment
