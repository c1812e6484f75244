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
  std::optional<state::Color> color;  // the colour that answered, when it can be told (identify_colour)
  std::string identified_by;          // "color", "commit" or "version": how `color` was told
  // The frontend answered healthy but which colour it was cannot be told (no "color" in its
  // health JSON, and both colours report the same commit and version): why, and what to configure.
  std::string indistinct;
};

// Which colour answered through the frontend: the colour its health JSON names (blue or green;
// any other value counts as none); else the one
// colour whose own health endpoint (`blue`, `green`: probes of the hosts themselves) reports the
// same commit while the other reports another; else the same for the version. nullopt (with
// `by` empty) when it cannot be told or the frontend is not healthy.
std::optional<state::Color> identify_colour(const remote::HealthReport& frontend, const remote::HealthReport& blue,
                                            const remote::HealthReport& green, std::string* by = nullptr);

// A view from a probe of `url` already made; `blue` and `green` (probes of the hosts) are used
// only when the answer names no colour.
FrontendView frontend_view(std::string url, remote::HealthReport report,
                           const std::optional<remote::HealthReport>& blue = std::nullopt,
                           const std::optional<remote::HealthReport>& green = std::nullopt);

// Probes the app's verifyUrl (and, when its answer names no colour, both hosts' health URLs, to
// tell the colour by commit or version); nullopt when no verifyUrl is configured.
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
