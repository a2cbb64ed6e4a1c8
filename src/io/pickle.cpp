#include "io/pickle.h"

#include <cstring>

#include "core/error.h"
#include "io/mapped_file.h"

namespace x2v::io {
namespace {

// Opcodes of pickle protocols 2-5 (names as in CPython's pickletools).
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyList = ']',
  kEmptyTuple = ')',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

constexpr const char* kFix = "the file is corrupt or not a torch.save state_dict";

}  // namespace

PickleRef PickleValue::make(Kind kind) {
  auto value = std::make_shared<PickleValue>();
  value->kind = kind;
  return value;
}

PickleRef PickleValue::make_object(std::string tag, std::shared_ptr<void> object) {
  auto value = make(Kind::object);
  value->text = std::move(tag);
  value->object = std::move(object);
  return value;
}

const char* PickleValue::kind_name() const {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::bytes:
      return "bytes";
    case Kind::list:
      return "list";
    case Kind::tuple:
      return "tuple";
    case Kind::dict:
      return "dict";
    case Kind::set:
      return "set";
    case Kind::global:
      return "global";
    case Kind::object:
      return text.c_str();
  }
  return "value";
}

void PickleValue::set_item(PickleRef key, PickleRef value) {
  if (key->is(Kind::string)) {
    const auto [slot, inserted] = string_keys.emplace(key->text, entries.size());
    if (!inserted) {
      entries[slot->second].second = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Unpickler::Unpickler(const uint8_t* data, size_t size, std::string source, std::string place,
                     PickleHooks& hooks)
    : data_(data), size_(size), source_(std::move(source)), place_(std::move(place)), hooks_(hooks) {}

Unpickler::~Unpickler() {
  // Every cycle passes through a memoized container (only the memo can refer back), so emptying
  // them frees everything.
  for (auto& [index, value] : memo_) {
    value->items.clear();
    value->entries.clear();
  }
}

void Unpickler::fail(const std::string& what) const {
  throw Error(place_, concat(source_, ": pickle ", what, "; ", kFix));
}

const uint8_t* Unpickler::take(size_t bytes) {
  if (bytes > size_ - position_) fail(concat("ends inside an opcode at byte ", position_));
  const uint8_t* start = data_ + position_;
  position_ += bytes;
  return start;
}

std::string Unpickler::take_line() {
  const void* newline = std::memchr(data_ + position_, '\n', size_ - position_);
  if (!newline) fail(concat("has an unterminated line at byte ", position_));
  const size_t length = static_cast<const uint8_t*>(newline) - (data_ + position_);
  std::string line(reinterpret_cast<const char*>(data_ + position_), length);
  position_ += length + 1;
  return line;
}

PickleRef Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
    fail(concat("pops an empty stack at byte ", position_));
  PickleRef value = std::move(stack_.back());
  stack_.pop_back();
  return value;
}

PickleRef& Unpickler::top() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
    fail(concat("reads an empty stack at byte ", position_));
  return stack_.back();
}

std::vector<PickleRef> Unpickler::pop_to_mark() {
  if (marks_.empty()) fail(concat("has no MARK for the opcode at byte ", position_));
  const size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<PickleRef> items(std::make_move_iterator(stack_.begin() + mark),
                               std::make_move_iterator(stack_.end()));
  stack_.resize(mark);
  return items;
}

void Unpickler::memo_put(uint64_t index) {
  memo_[index] = top();
}

void Unpickler::memo_get(uint64_t index) {
  const auto found = memo_.find(index);
  if (found == memo_.end()) fail(concat("reads memo entry ", index, " before writing it"));
  stack_.push_back(found->second);
}

void Unpickler::push_integer(int64_t value) {
  auto result = PickleValue::make(PickleValue::Kind::integer);
  result->integer = value;
  stack_.push_back(std::move(result));
}

void Unpickler::push_text(PickleValue::Kind kind, size_t length) {
  auto result = PickleValue::make(kind);
  const uint8_t* bytes = take(length);
  result->text.assign(reinterpret_cast<const char*>(bytes), length);
  stack_.push_back(std::move(result));
}

// LONG1/LONG4: little-endian two's complement of any length; x2v needs at most 64 bits.
void Unpickler::push_long(size_t length) {
  if (length > 8) fail(concat("has an integer of ", length, " bytes at byte ", position_));
  const uint8_t* bytes = take(length);
  uint64_t value = 0;
  for (size_t i = 0; i < length; ++i) value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  if (length > 0 && length < 8 && (bytes[length - 1] & 0x80)) value |= ~uint64_t{0} << (8 * length);
  push_integer(static_cast<int64_t>(value));
}

PickleRef Unpickler::load() {
  using Kind = PickleValue::Kind;
  while (true) {
    const size_t opcode_position = position_;
    const uint8_t opcode = *take(1);
    switch (opcode) {
      case kProto: {
        const uint8_t version = *take(1);
        if (version < 2 || version > 5)
          fail(concat("protocol ", int{version}, " is not supported (2-5 are)"));
        break;
      }
      case kFrame:
        take(8);
        break;
      case kStop: {
        PickleRef result = pop();
        if (!stack_.empty() || !marks_.empty()) fail("stops with values left on its stack");
        return result;
      }
      case kMark:
        marks_.push_back(stack_.size());
        break;
      case kPop:
        pop();
        break;
      case kPopMark:
        pop_to_mark();
        break;
      case kNone:
        stack_.push_back(PickleValue::make(Kind::none));
        break;
      case kNewTrue:
      case kNewFalse: {
        auto value = PickleValue::make(Kind::boolean);
        value->boolean = opcode == kNewTrue;
        stack_.push_back(std::move(value));
        break;
      }
      case kBinInt:
        push_integer(static_cast<int32_t>(read_le32(take(4))));
        break;
      case kBinInt1:
        push_integer(*take(1));
        break;
      case kBinInt2:
        push_integer(read_le16(take(2)));
        break;
      case kLong1:
        push_long(*take(1));
        break;
      case kLong4:
        push_long(read_le32(take(4)));
        break;
      case kBinFloat: {
        const uint8_t* bytes = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | bytes[i];  // big-endian
        auto value = PickleValue::make(Kind::floating);
        std::memcpy(&value->floating, &bits, sizeof(bits));
        stack_.push_back(std::move(value));
        break;
      }
      case kShortBinUnicode:
      case kShortBinString:
        push_text(Kind::string, *take(1));
        break;
      case kBinUnicode:
      case kBinString:
        push_text(Kind::string, read_le32(take(4)));
        break;
      case kBinUnicode8:
        push_text(Kind::string, read_le64(take(8)));
        break;
      case kShortBinBytes:
        push_text(Kind::bytes, *take(1));
        break;
      case kBinBytes:
        push_text(Kind::bytes, read_le32(take(4)));
        break;
      case kBinBytes8:
        push_text(Kind::bytes, read_le64(take(8)));
        break;
      case kEmptyDict:
        stack_.push_back(PickleValue::make(Kind::dict));
        break;
      case kEmptyList:
        stack_.push_back(PickleValue::make(Kind::list));
        break;
      case kEmptyTuple:
        stack_.push_back(PickleValue::make(Kind::tuple));
        break;
      case kEmptySet:
        stack_.push_back(PickleValue::make(Kind::set));
        break;
      case kTuple:
      case kList: {
        auto value = PickleValue::make(opcode == kTuple ? Kind::tuple : Kind::list);
        value->items = pop_to_mark();
        stack_.push_back(std::move(value));
        break;
      }
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        auto value = PickleValue::make(Kind::tuple);
        value->items.resize(opcode - kTuple1 + 1);
        for (size_t i = value->items.size(); i-- > 0;) value->items[i] = pop();
        stack_.push_back(std::move(value));
        break;
      }
      case kDict:
      case kSetItem:
      case kSetItems: {
        std::vector<PickleRef> items;
        if (opcode == kSetItem) {
          PickleRef value = pop();
          PickleRef key = pop();
          items = {std::move(key), std::move(value)};
        } else {
          items = pop_to_mark();
        }
        if (items.size() % 2 != 0) fail(concat("has an odd number of dict items at byte ", opcode_position));
        if (opcode == kDict) stack_.push_back(PickleValue::make(Kind::dict));
        PickleRef& dict = top();
        if (!dict->is(Kind::dict))
          fail(concat("sets an item on a ", dict->kind_name(), " at byte ", opcode_position));
        for (size_t i = 0; i < items.size(); i += 2)
          dict->set_item(std::move(items[i]), std::move(items[i + 1]));
        break;
      }
      case kAppend:
      case kAppends:
      case kAddItems: {
        std::vector<PickleRef> items;
        if (opcode == kAppend)
          items.push_back(pop());
        else
          items = pop_to_mark();
        PickleRef& target = top();
        if (!target->is(opcode == kAddItems ? Kind::set : Kind::list))
          fail(concat("appends to a ", target->kind_name(), " at byte ", opcode_position));
        for (PickleRef& item : items) target->items.push_back(std::move(item));
        break;
      }
      case kBinPut:
        memo_put(*take(1));
        break;
      case kLongBinPut:
        memo_put(read_le32(take(4)));
        break;
      case kMemoize:
        memo_put(memo_.size());
        break;
      case kBinGet:
        memo_get(*take(1));
        break;
      case kLongBinGet:
        memo_get(read_le32(take(4)));
        break;
      case kGlobal: {
        const std::string module = take_line();
        const std::string name = take_line();
        stack_.push_back(hooks_.find_global(module, name));
        break;
      }
      case kStackGlobal: {
        PickleRef name = pop();
        PickleRef module = pop();
        if (!module->is(Kind::string) || !name->is(Kind::string))
          fail(concat("has a STACK_GLOBAL without names at byte ", opcode_position));
        stack_.push_back(hooks_.find_global(module->text, name->text));
        break;
      }
      case kReduce:
      case kNewObj: {
        PickleRef args = pop();
        PickleRef callable = pop();
        if (!args->is(Kind::tuple))
          fail(concat("calls with ", args->kind_name(), " arguments at byte ", opcode_position));
        stack_.push_back(hooks_.call(callable, args));
        break;
      }
      case kBinPersId: {
        PickleRef id = pop();
        stack_.push_back(hooks_.persistent_load(id));
        break;
      }
      case kBuild:
        pop();  // the state of an object; x2v's values carry none (an OrderedDict's is empty)
        top();
        break;
      default:
        fail(concat("opcode 0x", std::hex, int{opcode}, std::dec, " at byte ", opcode_position,
                    " is not supported (x2v reads state dicts only)"));
    }
  }
}

}  // namespace x2v::io
