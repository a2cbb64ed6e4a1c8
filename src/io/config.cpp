#include "io/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "config";

// "a string", "an integer", ... for messages.
std::string describe_type(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a number with a fraction";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::object:
      return "an object";
    default:
      return "an unusual value";
  }
}

std::string shortened(std::string text) {
  constexpr size_t kLimit = 60;
  if (text.size() > kLimit) text = text.substr(0, kLimit) + "...";
  return text;
}

// Integers, and floats that hold an integral value (50.0) since LightX2V configs are written by hand.
bool as_integer(const nlohmann::json& value, int64_t* result) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    *result = value.get<int64_t>();
    return true;
  }
  if (value.is_number_unsigned()) {
    const uint64_t unsigned_value = value.get<uint64_t>();
    if (unsigned_value > static_cast<uint64_t>(INT64_MAX)) return false;
    *result = static_cast<int64_t>(unsigned_value);
    return true;
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isfinite(number) && number == std::trunc(number) && std::fabs(number) < 9.2e18) {
      *result = static_cast<int64_t>(number);
      return true;
    }
  }
  return false;
}

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& source,
                               std::vector<std::string>* duplicate_keys) {
  // Python's json (LightX2V) keeps the last of repeated keys, as nlohmann does; they are collected here so
  // the caller can say so rather than let an edit silently lose.
  std::vector<std::set<std::string>> open_objects;
  const auto watch_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end && !open_objects.empty()) open_objects.pop_back();
    // Keys of the top-level object only: the caller names them as config keys.
    if (event == Event::key && open_objects.size() == 1 && parsed.is_string() &&
        !open_objects.back().insert(parsed.get<std::string>()).second && duplicate_keys != nullptr)
      duplicate_keys->push_back(parsed.get<std::string>());
    return true;
  };
  try {
    return nlohmann::json::parse(text, watch_keys);
  } catch (const nlohmann::json::parse_error& error) {
    // Line and column of the byte where parsing stopped (error.byte counts from 1).
    const size_t stop = std::min<size_t>(error.byte > 0 ? error.byte - 1 : 0, text.size());
    size_t line = 1, column = 1;
    for (size_t i = 0; i < stop; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string reason = error.what();
    const size_t colon = reason.find(": ", reason.find("parse error"));
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    throw Error(kPlace, concat(source, ": invalid JSON at line ", line, ", column ", column, ": ", reason,
                               "; fix the syntax (JSON has no comments or trailing commas)"));
  } catch (const nlohmann::json::out_of_range& error) {
    // A number too large for a double (1e999): valid syntax, no value (found by fuzz_config).
    std::string reason = error.what();
    const size_t bracket = reason.find("] ");
    if (bracket != std::string::npos) reason = reason.substr(bracket + 2);
    throw Error(kPlace, concat(source, ": ", reason, "; write a number a double can hold"));
  }
}

nlohmann::json load_json_file(const std::string& path, std::vector<std::string>* duplicate_keys) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream || std::filesystem::is_directory(path)) {
    if (!std::filesystem::exists(path)) throw Error(kPlace, concat(path, ": no such file; check the path"));
    throw Error(kPlace, concat(path, ": cannot read the file; check that it is a readable JSON file"));
  }
  std::ostringstream text;
  text << stream.rdbuf();
  return parse_json_text(text.str(), path, duplicate_keys);
}

nlohmann::json merge_config(const nlohmann::json& defaults, const nlohmann::json& user) {
  if (!defaults.is_object() || !user.is_object()) return user;
  nlohmann::json result = defaults;
  for (const auto& [key, value] : user.items()) {
    auto existing = result.find(key);
    if (existing != result.end() && existing->is_object() && value.is_object())
      *existing = merge_config(*existing, value);
    else
      result[key] = value;
  }
  return result;
}

Config::Config(nlohmann::json values, std::string source, std::string prefix)
    : values_(std::move(values)), source_(std::move(source)), prefix_(std::move(prefix)) {
  if (!values_.is_object())
    throw Error(kPlace, concat(source_, ": the config is ", describe_type(values_),
                               "; expected a JSON object {\"key\": value, ...}"));
}

Config Config::from_file(const std::string& path) {
  std::vector<std::string> duplicates;
  Config config(load_json_file(path, &duplicates), path);
  config.duplicate_keys_ = std::move(duplicates);
  return config;
}

bool Config::has(const std::string& key) const {
  const auto found = values_.find(key);
  return found != values_.end() && !found->is_null();
}

const nlohmann::json& Config::require(const std::string& key) const {
  const auto found = values_.find(key);
  if (found == values_.end() || found->is_null())
    throw Error(kPlace, concat("config key '", full_key(key), "' is missing (in ", source_,
                               "); add it to the config"));
  return *found;
}

void Config::wrong_type(const std::string& key, const nlohmann::json& value, const char* expected) const {
  throw Error(kPlace, concat("config key '", full_key(key), "' is ", describe_type(value), "; expected ",
                             expected, " (in ", source_, ": ", key, " = ", shortened(value.dump()), ")"));
}

int64_t Config::get_int(const std::string& key) const {
  const nlohmann::json& value = require(key);
  int64_t result = 0;
  if (!as_integer(value, &result)) wrong_type(key, value, "an integer");
  return result;
}

int64_t Config::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double Config::get_double(const std::string& key) const {
  const nlohmann::json& value = require(key);
  if (!value.is_number()) wrong_type(key, value, "a number");
  return value.get<double>();
}

double Config::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

bool Config::get_bool(const std::string& key) const {
  const nlohmann::json& value = require(key);
  if (!value.is_boolean()) wrong_type(key, value, "true or false");
  return value.get<bool>();
}

bool Config::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}

std::string Config::get_string(const std::string& key) const {
  const nlohmann::json& value = require(key);
  if (!value.is_string()) wrong_type(key, value, "a string");
  return value.get<std::string>();
}

std::string Config::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::vector<int64_t> Config::get_int_list(const std::string& key) const {
  const nlohmann::json& value = require(key);
  std::vector<int64_t> result;
  if (!value.is_array()) wrong_type(key, value, "an array of integers");
  for (const nlohmann::json& item : value) {
    int64_t number = 0;
    if (!as_integer(item, &number)) wrong_type(key, value, "an array of integers");
    result.push_back(number);
  }
  return result;
}

std::vector<int64_t> Config::get_int_list(const std::string& key,
                                          const std::vector<int64_t>& fallback) const {
  return has(key) ? get_int_list(key) : fallback;
}

std::vector<std::string> Config::get_string_list(const std::string& key) const {
  const nlohmann::json& value = require(key);
  std::vector<std::string> result;
  if (!value.is_array()) wrong_type(key, value, "an array of strings");
  for (const nlohmann::json& item : value) {
    if (!item.is_string()) wrong_type(key, value, "an array of strings");
    result.push_back(item.get<std::string>());
  }
  return result;
}

Config Config::section(const std::string& key) const {
  const nlohmann::json& value = require(key);
  if (!value.is_object()) wrong_type(key, value, "an object");
  return Config(value, source_, full_key(key) + ".");
}

Config Config::merged_with(const nlohmann::json& user) const {
  if (!user.is_object())
    throw Error(kPlace, concat("the user config is ", describe_type(user), "; expected a JSON object"));
  Config merged(merge_config(values_, user), source_, prefix_);
  merged.duplicate_keys_ = duplicate_keys_;
  merged.user_keys_ = user_keys_;
  return merged;
}

bool Config::set_by_user(const std::string& key) const {
  return std::find(user_keys_.begin(), user_keys_.end(), key) != user_keys_.end();
}

}  // namespace x2v::io
