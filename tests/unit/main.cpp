#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

int main(int argc, char* argv[]) {
  // Server diagnostics would only clutter test output; failures are reported by assertions.
  spdlog::set_level(spdlog::level::off);
  return Catch::Session().run(argc, argv);
}
