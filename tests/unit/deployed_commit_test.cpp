#include "deployment/deployed_commit.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using deployment::find_packed_ref;
using deployment::parse_ref_text;

TEST_CASE("ref files: a hash, a symbolic ref, or neither", "[deployed-commit]") {
  const std::string sha1 = "0508e390fbe759905cdc7f8fafb1536f38a7d7fd";
  const std::string sha256(64, 'a');
  CHECK(parse_ref_text(sha1 + "\n").hash == sha1);
  CHECK(parse_ref_text(sha256).hash == sha256);
  CHECK_FALSE(parse_ref_text(sha1 + "\n").symbolic);
  CHECK(parse_ref_text("ref: refs/heads/main\n").symbolic == "refs/heads/main");
  CHECK(parse_ref_text("ref: refs/heads/feature/x-1.2_b\n").symbolic == "refs/heads/feature/x-1.2_b");

  // Everything else is left to git: nothing is guessed.
  for (const std::string text :
       {"", "\n", "0508e390", "0508E390FBE759905CDC7F8FAFB1536F38A7D7FD", "0508e390fbe759905cdc7f8fafb1536f38a7d7fz",
        "ref: HEAD", "ref: refs/heads/../../etc/passwd", "ref: refs/heads/main.lock", "ref: refs/heads/",
        "ref: refs//heads", "ref: refs/heads/.hidden", "ref: refs/heads/a b",
        "ref: refs/heads/main\nref: refs/heads/other", "gitdir: /srv/other/.git/worktrees/app"}) {
    INFO(text);
    const auto ref = parse_ref_text(text);
    CHECK_FALSE(ref.hash);
    CHECK_FALSE(ref.symbolic);
  }
}

TEST_CASE("packed-refs: the exact ref's hash, peeled lines and comments skipped", "[deployed-commit]") {
  const std::string packed = "# pack-refs with: peeled fully-peeled sorted \n"
                             "1111111111111111111111111111111111111111 refs/heads/main-old\n"
                             "2222222222222222222222222222222222222222 refs/heads/main\n"
                             "3333333333333333333333333333333333333333 refs/tags/v1\n"
                             "^4444444444444444444444444444444444444444\n"
                             "zzzz refs/heads/broken\n";
  CHECK(find_packed_ref(packed, "refs/heads/main") == std::string(40, '2'));
  CHECK(find_packed_ref(packed, "refs/heads/main-old") == std::string(40, '1'));
  CHECK(find_packed_ref(packed, "refs/tags/v1") == std::string(40, '3'));
  CHECK_FALSE(find_packed_ref(packed, "refs/heads/mai"));
  CHECK_FALSE(find_packed_ref(packed, "refs/heads/broken"));
  CHECK_FALSE(find_packed_ref("", "refs/heads/main"));
}

TEST_CASE("the commit cache answers by hash", "[deployed-commit]") {
  deployment::CommitCache cache;
  CHECK_FALSE(cache.find("abc"));
  cache.remember({"abc", "2026-11-23T10:00:00+00:00", "subject"});
  REQUIRE(cache.find("abc"));
  CHECK(cache.find("abc")->subject == "subject");
  CHECK_FALSE(cache.find("abd"));
}
