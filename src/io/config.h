#pragma once
// JSON configs the LightX2V way: a user config file overrides defaults key by key (nested objects are
// merged recursively), and typed getters turn a wrong type into a one-line error naming the key.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace x2v::io {

// Reads and parses a JSON file. Errors: Error("config", "<file>: no such file; ...") and
// "<file>: invalid JSON at line L, column C: <why>; ...". Keys repeated in the top-level object (the last
// one wins) are appended to `duplicate_keys` when given.
nlohmann::json load_json_file(const std::string& path, std::vector<std::string>* duplicate_keys = nullptr);
// Parses JSON text; `source` names it in messages (a file name, "--config_json", ...).
nlohmann::json parse_json_text(const std::string& text, const std::string& source,
                               std::vector<std::string>* duplicate_keys = nullptr);
// `user` over `defaults`: user keys win; where both hold an object, they are merged recursively.
nlohmann::json merge_config(const nlohmann::json& defaults, const nlohmann::json& user);

class Config {
 public:
  Config() : values_(nlohmann::json::object()) {}
  // `values` must be a JSON object. `source` (a file name) and `prefix` (for sections) appear in messages.
  explicit Config(nlohmann::json values, std::string source = "config", std::string prefix = "");
  static Config from_file(const std::string& path);

  const nlohmann::json& json() const { return values_; }
  const std::string& source() const { return source_; }
  // Keys written more than once in the file (from_file only); the last value is the one kept.
  const std::vector<std::string>& duplicate_keys() const { return duplicate_keys_; }
  // The keys the user's file set, as opposed to defaults merged under them (empty: not recorded).
  const std::vector<std::string>& user_keys() const { return user_keys_; }
  void set_user_keys(std::vector<std::string> keys) { user_keys_ = std::move(keys); }
  bool set_by_user(const std::string& key) const;
  // Present and not null.
  bool has(const std::string& key) const;

  // Required keys throw when missing; the overloads with a fallback return it when the key is missing
  // or null. A present key of the wrong type always throws:
  // "config key 'infer_steps' is a string; expected an integer (in wan_t2v.json)".
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;  // integers are accepted
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> get_int_list(const std::string& key) const;
  std::vector<int64_t> get_int_list(const std::string& key, const std::vector<int64_t>& fallback) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  // A nested object ("parallel"); its keys are named "parallel.<key>" in messages.
  Config section(const std::string& key) const;

  // This config with `user` merged over it (see merge_config).
  Config merged_with(const nlohmann::json& user) const;

 private:
  const nlohmann::json& require(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const nlohmann::json& value,
                               const char* expected) const;
  std::string full_key(const std::string& key) const { return prefix_ + key; }

  nlohmann::json values_;
  std::string source_ = "config";
  std::string prefix_;
  std::vector<std::string> duplicate_keys_;
  std::vector<std::string> user_keys_;
};

}  // namespace x2v::io
