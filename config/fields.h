#pragma once
// Fields: reads the members of one JSON object of the configuration file, recording every problem
// under its dotted path ("apps.shop.hosts.blue.healthUrl: must be an http:// or https:// URL") in
// a shared error list, and refusing keys nobody asked for (typos) when it goes out of scope. Used
// by config.cpp only; each reader returns nullopt (and records why) for a missing required, null
// or invalid value.
//
// Thread-safety: one Fields per object being read, on one thread.

#include "remote/shell_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bluegreen::config {

class Fields {
 public:
  using json = nlohmann::json;
  using milliseconds = std::chrono::milliseconds;

  Fields(const json& object, std::string path, std::vector<std::string>& errors, const std::string& home)
      : object_(object), path_(std::move(path)), errors_(errors), home_(home) {
    if (!object_.is_object()) error("", "must be an object");
  }

  ~Fields() {
    if (!object_.is_object()) return;
    for (const auto& [key, value] : object_.items()) {
      if (used_.count(key) == 0 && key != "_comment" && key != "$schema") error(key, "unknown key");
    }
  }
  Fields(const Fields&) = delete;
  Fields& operator=(const Fields&) = delete;

  [[nodiscard]] std::string path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  void error(const std::string& key, const std::string& message) {
    errors_.push_back((key.empty() ? path_ : path(key)) + ": " + message);
  }

  const json* find(const std::string& key) {
    used_.insert(key);
    if (!object_.is_object()) return nullptr;
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<std::string> text(const std::string& key, bool required) {
    const json* value = find(key);
    if (value == nullptr) {
      if (required) error(key, "is required");
      return std::nullopt;
    }
    if (!value->is_string() || value->get_ref<const std::string&>().empty()) {
      error(key, "must be a non-empty string");
      return std::nullopt;
    }
    return value->get<std::string>();
  }

  std::optional<std::string> path_value(const std::string& key, bool required, bool expand_home) {
    auto value = text(key, required);
    if (!value) return value;
    if (expand_home && value->rfind("~/", 0) == 0) *value = home_ + value->substr(1);
    if (auto valid = remote::validate_absolute_path(*value, path(key)); !valid) {
      errors_.push_back(valid.error().message);
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::string> url(const std::string& key, bool required) {
    auto value = text(key, required);
    if (value && value->rfind("http://", 0) != 0 && value->rfind("https://", 0) != 0) {
      error(key, "must be an http:// or https:// URL, got \"" + *value + "\"");
      return std::nullopt;
    }
    return value;
  }

  // A string or a non-empty list of strings, each checked by `check` (an error message or "").
  std::optional<std::vector<std::string>> string_list(const std::string& key,
                                                      const std::function<std::string(const std::string&)>& check) {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    std::vector<std::string> items;
    if (value->is_string()) {
      items.push_back(value->get<std::string>());
    } else if (value->is_array() && !value->empty() &&
               std::all_of(value->begin(), value->end(), [](const json& item) { return item.is_string(); })) {
      for (const auto& item : *value) items.push_back(item.get<std::string>());
    } else {
      error(key, "must be a string or a non-empty list of strings");
      return std::nullopt;
    }
    bool ok = true;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string where = value->is_array() ? key + "[" + std::to_string(i) + "]" : key;
      if (auto problem = check(items[i]); !problem.empty()) {
        error(where, problem);
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return items;
  }

  std::optional<std::vector<std::string>> path_list(const std::string& key) {
    return string_list(key, [this, &key](const std::string& item) -> std::string {
      auto valid = remote::validate_absolute_path(item, path(key));
      return valid ? "" : valid.error().message.substr(valid.error().message.find(": ") + 2);
    });
  }

  std::optional<std::vector<std::string>> url_list(const std::string& key) {
    return string_list(key, [](const std::string& item) -> std::string {
      if (item.rfind("http://", 0) == 0 || item.rfind("https://", 0) == 0) return "";
      return "must be an http:// or https:// URL, got \"" + item + "\"";
    });
  }

  std::optional<bool> boolean(const std::string& key) {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) {
      error(key, "must be true or false");
      return std::nullopt;
    }
    return value->get<bool>();
  }

  std::optional<long long> integer(const std::string& key, long long min, long long max) {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_integer() || value->get<long long>() < min || value->get<long long>() > max) {
      error(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return value->get<long long>();
  }

  void seconds(const std::string& key, milliseconds& target, long long max_seconds) {
    if (auto s = integer(key, 1, max_seconds)) target = milliseconds(*s * 1000);
  }
  void millis(const std::string& key, milliseconds& target, long long min_ms, long long max_ms) {
    if (auto ms = integer(key, min_ms, max_ms)) target = milliseconds(*ms);
  }

  std::vector<std::string>& errors() { return errors_; }
  const std::string& home() const { return home_; }

 private:
  const json& object_;
  std::string path_;
  std::vector<std::string>& errors_;
  const std::string& home_;
  std::set<std::string> used_;
};

}  // namespace bluegreen::config
