#pragma once
// Apps that route through the same backends of the same load balancer: a switch of one rewrites
// the lines that select those backends, which are the other's routes too, so it moves the other
// app's traffic under the first app's approval policy. A configuration may hold such apps for
// status (several names for one site); switching them is refused.
//
// Thread-safety: pure functions.

#include "config/config.h"

#include <string>

namespace bluegreen::deployment {

// "" when no other app of `config` has a load balancer with the same ssh destination, type and
// blue and green backends (both set) as one of `app`'s; otherwise the refusal, naming the other
// app, the load balancer and the backends, and what to do (give each app its own backends).
std::string shared_route_conflict(const config::Config& config, const config::AppConfig& app);

}  // namespace bluegreen::deployment
