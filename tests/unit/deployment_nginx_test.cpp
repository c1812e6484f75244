// deployment/nginx_snapshot.h: nginx's processes and routing in the snapshot's shape. The commands
// themselves run against the lab's real nginx in e2e.nginx.
#include "deployment/nginx_snapshot.h"

#include "deployment/app_routing.h"

#include <catch2/catch.hpp>

#include <string>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

// What the listing script printed on the lab's lb (tests/lab/lab up --lb nginx): a master, a
// worker, an old worker still finishing connections after a reload, nginx's cache manager.
const char* const kListing = "uptime 5000.25 9000.00\n"
                             "ticks 100\n"
                             "pidfile 4891\n"
                             "master 4891\n"
                             "child 4893 450000 nginx: worker process is shutting down \n"
                             "child 5001 480000 nginx: worker process \n"
                             "child 5002 470000 nginx: worker process \n"
                             "child 5003 480010 nginx: cache manager process \n"
                             "file 379 1764556000 1764556001 /etc/nginx/nginx.conf\n"
                             "file 598 1764556100 1764556200 /etc/nginx/sites-enabled/my app.conf\n"
                             "garbage line\n";

}  // namespace

TEST_CASE("nginx listing: master, current and old workers, the files' sizes and times", "[nginx]") {
  const auto listing = deployment::parse_nginx_listing(kListing);
  REQUIRE(listing.uptime_s);
  CHECK(*listing.uptime_s == Approx(5000.25));
  CHECK(listing.ticks_per_second == 100);
  CHECK(listing.master_pid == 4891);
  REQUIRE(listing.children.size() == 4);
  CHECK(listing.children[0].title == "nginx: worker process is shutting down");
  REQUIRE(listing.files.size() == 2);
  CHECK(listing.files[1].path == "/etc/nginx/sites-enabled/my app.conf");
  CHECK(listing.files[1].size == 598);
  CHECK(listing.files[1].changed_s == 1764556200);

  const auto processes = deployment::nginx_processes(listing);
  REQUIRE(processes);
  CHECK(processes->master_pid == 4891);
  CHECK(processes->current_worker_pids == std::vector<int>{5001, 5002});
  CHECK(processes->old_worker_pids == std::vector<int>{4893});
  CHECK(processes->reloads == 0);
  // The oldest current worker (started 4700 s after boot) has run 300 s.
  CHECK(processes->current_worker_uptime_s == 300);
}

TEST_CASE("nginx listing: no master, or an empty answer, gives no processes", "[nginx]") {
  CHECK_FALSE(deployment::nginx_processes(deployment::parse_nginx_listing("pidfile -\nticks 100\n")));
  CHECK_FALSE(deployment::nginx_processes(deployment::parse_nginx_listing("")));
  const auto no_worker = deployment::nginx_processes(deployment::parse_nginx_listing("master 7\nuptime 10\n"));
  REQUIRE(no_worker);
  CHECK_FALSE(no_worker->current_worker_uptime_s);
}

TEST_CASE("nginx routes in the snapshot's shape describe each server block", "[nginx]") {
  const std::vector<nginx::ConfigFile> files{
      {"/etc/nginx/nginx.conf",
       "http {\n"
       "  upstream blue { server 10.0.0.1:80; }\n"
       "  upstream green { server 10.0.0.2:80; }\n"
       "  server { listen 80; server_name shop.test; location / { proxy_pass http://blue; } }\n"
       "  server { listen 8080; location / { proxy_pass http://green; } }\n"
       "}\n"}};
  const auto routes = deployment::as_app_routes(nginx::find_routes(files, {"blue", "green"}));
  REQUIRE(routes.entry_points.size() == 2);
  CHECK(routes.entry_points[0].section == "server shop.test");
  CHECK(routes.entry_points[1].section == "server");
  CHECK(routes.backends == std::vector<std::string>{"blue", "green"});
  config::AppConfig app;
  app.load_balancer.type = config::LbType::kNginx;
  app.load_balancer.blue_backend = "blue";
  app.load_balancer.green_backend = "green";
  CHECK(deployment::describe_entry_point(app, routes, routes.entry_points[0]) ==
        "server shop.test (/etc/nginx/nginx.conf:4, listen 80) serves BLUE via /etc/nginx/nginx.conf:4 "
        "`server { listen 80; server_name shop.test; location / { proxy_pass http://blue; } }`");
  CHECK(deployment::route_colour(app, routes.routes[1]) == state::Color::kGreen);
}
