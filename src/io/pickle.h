#pragma once
// A restricted unpickler: it reads the binary pickle opcodes that torch.save emits for a state dict
// (protocols 2-5) into a tree of plain values and never executes anything. What a GLOBAL names, what
// REDUCE builds and what a persistent id stands for are decided by the caller's PickleHooks, which
// refuse everything they do not know.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace x2v::io {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { none, boolean, integer, floating, string, bytes, list, tuple, dict, set, global, object };

  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  std::string text;              // string, bytes; global: "module.name"; object: its tag
  std::vector<PickleRef> items;  // list, tuple, set
  std::vector<std::pair<PickleRef, PickleRef>> entries;  // dict, in insertion order
  std::unordered_map<std::string, size_t> string_keys;   // dict: entry index of each string key
  std::shared_ptr<void> object;                          // object: what the hooks built, described by `text`

  static PickleRef make(Kind kind);
  static PickleRef make_object(std::string tag, std::shared_ptr<void> object);
  const char* kind_name() const;
  bool is(Kind wanted) const { return kind == wanted; }
  // Inserts or replaces (Python dict semantics).
  void set_item(PickleRef key, PickleRef value);
};

class PickleHooks {
 public:
  virtual ~PickleHooks() = default;
  // GLOBAL / STACK_GLOBAL: the value standing for module.name; throw to refuse it.
  virtual PickleRef find_global(const std::string& module, const std::string& name) = 0;
  // REDUCE: callable(*args); NEWOBJ: cls.__new__(cls, *args). `args` is a tuple.
  virtual PickleRef call(const PickleRef& callable, const PickleRef& args) = 0;
  // BINPERSID: what the persistent id (usually a tuple) refers to.
  virtual PickleRef persistent_load(const PickleRef& id) = 0;
};

class Unpickler {
 public:
  // `source` names the input in messages; errors are Error(place, "<source>: ...").
  Unpickler(const uint8_t* data, size_t size, std::string source, std::string place, PickleHooks& hooks);
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // Breaks the reference cycles a pickle can build through its memo, so nothing leaks.
  ~Unpickler();

  // Runs to STOP. The returned tree is valid while this Unpickler lives.
  PickleRef load();

 private:
  [[noreturn]] void fail(const std::string& what) const;
  const uint8_t* take(size_t bytes);
  std::string take_line();
  PickleRef pop();
  PickleRef& top();
  std::vector<PickleRef> pop_to_mark();
  void memo_put(uint64_t index);
  void memo_get(uint64_t index);
  void push_integer(int64_t value);
  void push_text(PickleValue::Kind kind, size_t length);
  void push_long(size_t length);

  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
  std::string source_;
  std::string place_;
  PickleHooks& hooks_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

}  // namespace x2v::io
