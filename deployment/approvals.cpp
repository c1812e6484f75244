#include "deployment/approvals.h"

#include <array>
#include <fstream>
#include <random>

namespace bluegreen::deployment {
namespace {

using bluegreen::Error;

// 128 bits from the kernel's CSPRNG, hex-encoded, after `prefix` that makes tokens recognisable.
std::string random_token(const char* prefix) {
  std::array<unsigned char, 16> bytes{};
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(bytes.data()),
                    bytes.size())) {  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
    std::random_device device;
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token = prefix;
  for (const unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

// The text every handle of kind `handle` starts with.
const char* prefix_of(ApprovalBook::Handle handle) {
  return handle == ApprovalBook::Handle::kPanel ? "panel-" : "approve-";
}

// What a refusal to redeem says, worded for the kind of handle (a token the assistant passes on, or
// a plan the human answers in the deployment panel).
struct Refusals {
  const char* not_this_kind;
  const char* spent;
  const char* unknown;
  const char* expired;
  const char* other_app_before;  // then the plan's app, `", not "`, the caller's app, and:
  const char* other_app_after;
};

constexpr Refusals kTokenRefusals{
    "unknown approval token (not one this server issues as a token). Call switch_traffic without a token to get a "
    "new plan and token.",
    "this approval token was already used; a token approves one switch only. Call switch_traffic without a token "
    "for a new plan and ask the human to approve it.",
    "unknown approval token (forged, mistyped, or issued before this server restarted). Call switch_traffic without "
    "a token to get a new plan and token.",
    "the approval token expired; approvals are short-lived so that they match the system as the human saw it. Call "
    "switch_traffic without a token for a fresh plan.",
    "this approval token was issued for app \"",
    "\"; it is now void. Request a new plan for the app you mean."};

constexpr Refusals kPanelRefusals{
    "this is not a plan the deployment panel was given. Ask the assistant for a new plan.",
    "this plan was already answered (a plan is approved or rejected once). Ask the assistant for a new plan to "
    "switch again.",
    "this plan is not known to this server (it was made by another server process, or before a restart). Ask the "
    "assistant for a new plan.",
    "this plan expired: approvals are short-lived so that they match the system as it was shown. Ask the assistant "
    "for a new plan.",
    "this plan is for app \"",
    "\"; it is now void."};

const Refusals& refusals_of(ApprovalBook::Handle handle) {
  return handle == ApprovalBook::Handle::kPanel ? kPanelRefusals : kTokenRefusals;
}

}  // namespace

ApprovalBook::ApprovalBook(Clock clock) : clock_(std::move(clock)) {}

std::string ApprovalBook::issue(const SwitchPlan& plan, std::chrono::milliseconds ttl, Handle handle) {
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  forget_expired(now);
  std::string token = random_token(prefix_of(handle));
  entries_[token] = Entry{plan, now + ttl};
  return token;
}

bluegreen::Result<SwitchPlan> ApprovalBook::redeem(const std::string& token, const std::string& app, Handle handle) {
  const Refusals& says = refusals_of(handle);
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  if (token.rfind(prefix_of(handle), 0) != 0) return Error{says.not_this_kind};
  if (spent_.count(token) != 0) return Error{says.spent};
  const auto it = entries_.find(token);
  if (it == entries_.end()) return Error{says.unknown};
  Entry entry = it->second;
  entries_.erase(it);
  spent_[token] = now;
  if (now >= entry.expires) return Error{says.expired};
  if (entry.plan.app != app) {
    return Error{std::string(says.other_app_before) + entry.plan.app + "\", not \"" + app + says.other_app_after};
  }
  return entry.plan;
}

void ApprovalBook::forget_expired(std::chrono::steady_clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = now >= it->second.expires + std::chrono::hours(1) ? entries_.erase(it) : std::next(it);
  }
  for (auto it = spent_.begin(); it != spent_.end();) {
    it = now >= it->second + std::chrono::hours(24) ? spent_.erase(it) : std::next(it);
  }
}

}  // namespace bluegreen::deployment
