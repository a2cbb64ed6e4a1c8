#include "io/pth.h"

#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "io/pickle.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "pth";
constexpr const char* kCorruptFix = "the file is truncated or corrupt; re-download or re-save it";
constexpr int kMaxNesting = 32;

// Dtypes torch can put in a state dict; listing works for all, loading for those with an x2v dtype.
const TorchDType kTorchDTypes[] = {{"float32", "FloatStorage", 4, DType::f32},
                                   {"bfloat16", "BFloat16Storage", 2, DType::bf16},
                                   {"float16", "HalfStorage", 2, DType::f16},
                                   {"float8_e4m3fn", nullptr, 1, DType::f8_e4m3},
                                   {"float8_e5m2", nullptr, 1, DType::f8_e5m2},
                                   {"int8", "CharStorage", 1, DType::i8},
                                   {"int32", "IntStorage", 4, DType::i32},
                                   {"uint8", "ByteStorage", 1, DType::u8},
                                   {"float64", "DoubleStorage", 8, std::nullopt},
                                   {"int64", "LongStorage", 8, std::nullopt},
                                   {"int16", "ShortStorage", 2, std::nullopt},
                                   {"bool", "BoolStorage", 1, std::nullopt},
                                   {"complex64", "ComplexFloatStorage", 8, std::nullopt},
                                   {"float8_e4m3fnuz", nullptr, 1, std::nullopt},
                                   {"float8_e5m2fnuz", nullptr, 1, std::nullopt}};

const TorchDType* find_by_dtype_global(const std::string& global) {
  for (const TorchDType& entry : kTorchDTypes)
    if (global == concat("torch.", entry.name)) return &entry;
  return nullptr;
}

const TorchDType* find_by_storage_global(const std::string& global) {
  for (const TorchDType& entry : kTorchDTypes)
    if (entry.storage_name && global == concat("torch.", entry.storage_name)) return &entry;
  return nullptr;
}

std::string loadable_dtype_list() {
  std::string list;
  for (const TorchDType& entry : kTorchDTypes)
    if (entry.dtype) list += concat(list.empty() ? "" : ", ", entry.name);
  return list;
}

constexpr const char* kRebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildTensorV3 = "torch._utils._rebuild_tensor_v3";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kUntypedStorage = "torch.storage.UntypedStorage";

struct StorageRef {
  std::string key;
  const TorchDType* type = nullptr;  // nullptr: an untyped storage, counted in bytes
  uint64_t numel = 0;
  uint64_t bytes() const { return type ? numel * type->element_size : numel; }
};

struct TensorRef {
  std::shared_ptr<StorageRef> storage;
  const TorchDType* dtype = nullptr;
  int64_t offset = 0;
  Shape shape, strides;
};

// What a state dict's pickle may name and call; everything else is refused before it could run.
class StateDictHooks final : public PickleHooks {
 public:
  explicit StateDictHooks(std::string file) : file_(std::move(file)) {}

  PickleRef find_global(const std::string& module, const std::string& name) override {
    const std::string global = concat(module, ".", name);
    const bool allowed = global == kOrderedDict || global == kRebuildTensorV2 || global == kRebuildTensorV3 ||
                         global == kRebuildParameter || global == kUntypedStorage ||
                         find_by_storage_global(global) || find_by_dtype_global(global);
    if (!allowed)
      throw Error(kPlace,
                  concat(file_, ": refusing pickle global '", global,
                         "': only state_dict tensors can be loaded; if you trust the file, re-save its "
                         "model.state_dict() (plain tensors) or convert it to safetensors"));
    auto value = PickleValue::make(PickleValue::Kind::global);
    value->text = global;
    return value;
  }

  PickleRef call(const PickleRef& callable, const PickleRef& args) override {
    if (!callable->is(PickleValue::Kind::global)) fail(concat("calls a ", callable->kind_name()));
    const std::string& global = callable->text;
    const std::vector<PickleRef>& items = args->items;
    if (global == kOrderedDict) {
      if (!items.empty()) fail("builds an OrderedDict from arguments");
      return PickleValue::make(PickleValue::Kind::dict);
    }
    if (global == kRebuildTensorV2 || global == kRebuildTensorV3)
      return rebuild_tensor(global == kRebuildTensorV3, items);
    if (global == kRebuildParameter) {
      if (items.empty() || !is_tensor(*items[0])) fail("rebuilds a parameter without a tensor");
      return items[0];
    }
    throw Error(kPlace, concat(file_, ": refusing to call pickle global '", global,
                               "': only state_dict tensors can be loaded; re-save model.state_dict()"));
  }

  PickleRef persistent_load(const PickleRef& id) override {
    const std::vector<PickleRef>& items = id->items;
    if (!id->is(PickleValue::Kind::tuple) || items.size() != 5 || !items[0]->is(PickleValue::Kind::string) ||
        items[0]->text != "storage" || !items[1]->is(PickleValue::Kind::global) ||
        !items[2]->is(PickleValue::Kind::string))
      fail("has a persistent id that is not a torch storage");
    auto storage = std::make_shared<StorageRef>();
    storage->key = items[2]->text;
    if (items[1]->text != kUntypedStorage) {
      storage->type = find_by_storage_global(items[1]->text);
      if (!storage->type) fail(concat("uses '", items[1]->text, "' as a storage type"));
    }
    const int64_t numel = integer(*items[4], "storage size");
    if (numel < 0) fail("has a storage of negative size");
    storage->numel = static_cast<uint64_t>(numel);
    return PickleValue::make_object("storage", std::move(storage));
  }

  static bool is_tensor(const PickleValue& value) {
    return value.is(PickleValue::Kind::object) && value.text == "tensor";
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(kPlace,
                concat(file_, ": the pickle ", what, "; the file is not a plain torch.save state_dict"));
  }

  int64_t integer(const PickleValue& value, const char* what) const {
    if (!value.is(PickleValue::Kind::integer)) fail(concat("has a ", value.kind_name(), " as ", what));
    return value.integer;
  }

  Shape int_tuple(const PickleValue& value, const char* what) const {
    if (!value.is(PickleValue::Kind::tuple)) fail(concat("has a ", value.kind_name(), " as tensor ", what));
    Shape result;
    for (const PickleRef& item : value.items) result.push_back(integer(*item, what));
    return result;
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]);
  // _v3 adds the dtype after hooks (for dtypes without a typed storage class, e.g. float8).
  PickleRef rebuild_tensor(bool v3, const std::vector<PickleRef>& items) const {
    if (items.size() < (v3 ? 7u : 6u)) fail("rebuilds a tensor with too few arguments");
    if (!items[0]->is(PickleValue::Kind::object) || items[0]->text != "storage")
      fail("rebuilds a tensor from something that is not a storage");
    auto tensor = std::make_shared<TensorRef>();
    tensor->storage = std::static_pointer_cast<StorageRef>(items[0]->object);
    tensor->offset = integer(*items[1], "storage offset");
    tensor->shape = int_tuple(*items[2], "size");
    tensor->strides = int_tuple(*items[3], "stride");
    if (v3) {
      if (!items[6]->is(PickleValue::Kind::global) || !(tensor->dtype = find_by_dtype_global(items[6]->text)))
        fail("rebuilds a tensor with an unknown dtype");
    } else {
      tensor->dtype = tensor->storage->type;
      if (!tensor->dtype) fail("rebuilds a typed tensor from an untyped storage");
    }
    return PickleValue::make_object("tensor", std::move(tensor));
  }

  std::string file_;
};

struct NamedTensor {
  std::string name;
  std::shared_ptr<TensorRef> tensor;
};

void flatten(const std::string& file, const PickleValue& dict, const std::string& prefix, int depth,
             std::vector<NamedTensor>& out, std::vector<std::string>& skipped) {
  if (depth > kMaxNesting)
    throw Error(kPlace, concat(file, ": dicts nest deeper than ", kMaxNesting, " levels"));
  for (const auto& [key, value] : dict.entries) {
    if (!key->is(PickleValue::Kind::string)) {
      skipped.push_back(concat(prefix, prefix.empty() ? "" : ".", "<", key->kind_name(), " key>"));
      continue;
    }
    const std::string name = prefix.empty() ? key->text : concat(prefix, ".", key->text);
    if (StateDictHooks::is_tensor(*value))
      out.push_back({name, std::static_pointer_cast<TensorRef>(value->object)});
    else if (value->is(PickleValue::Kind::dict))
      flatten(file, *value, name, depth + 1, out, skipped);
    else
      skipped.push_back(concat(name, " (", value->kind_name(), ")"));
  }
}

bool holds_tensor(const PickleValue& dict) {
  for (const auto& entry : dict.entries)
    if (StateDictHooks::is_tensor(*entry.second)) return true;
  return false;
}

// A view lies inside its storage when offset + sum((size - 1) * stride) < storage elements (or it is empty).
bool view_fits_storage(const TensorRef& tensor, uint64_t storage_elements, uint64_t* numel) {
  if (tensor.offset < 0 || tensor.shape.size() != tensor.strides.size()) return false;
  uint64_t count = 1, last = static_cast<uint64_t>(tensor.offset);
  for (size_t i = 0; i < tensor.shape.size(); ++i) {
    const int64_t size = tensor.shape[i], stride = tensor.strides[i];
    if (size < 0 || stride < 0 || __builtin_mul_overflow(count, static_cast<uint64_t>(size), &count))
      return false;
    uint64_t reach = 0;
    if (size > 0 &&
        (__builtin_mul_overflow(static_cast<uint64_t>(size - 1), static_cast<uint64_t>(stride), &reach) ||
         __builtin_add_overflow(last, reach, &last)))
      return false;
  }
  *numel = count;
  return count == 0 || last < storage_elements;
}

bool is_contiguous_layout(const Shape& shape, const Shape& strides) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

}  // namespace

PthFile::PthFile(const std::string& path) {
  auto file = MappedFile::open(path, kPlace);
  if (file->size() >= 2 && file->data()[0] == 0x80 && file->data()[1] <= 5)
    throw Error(kPlace,
                concat(path,
                       ": this is the legacy torch.save format (torch < 1.6), which x2v does not read; "
                       "load it in PyTorch and save it again, or convert it to safetensors"));
  if (file->size() < 4 || read_le32(file->data()) != 0x04034b50)
    throw Error(kPlace, concat(path,
                               ": not a zip archive, so not a torch.save file; pass a .pth/.pt/.bin written "
                               "by torch.save, or a .safetensors file"));
  archive_ = std::make_unique<ZipArchive>(std::move(file), kPlace);

  const ZipArchive::Entry* pickle = nullptr;
  for (const ZipArchive::Entry& entry : archive_->entries()) {
    const size_t slash = entry.name.find('/');
    if (slash != std::string::npos && slash > 0 &&
        entry.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      pickle = &entry;
      break;
    }
  }
  if (!pickle)
    throw Error(kPlace, concat(path, ": the zip has no '<folder>/data.pkl'; it is not a torch.save archive"));
  const std::string prefix = pickle->name.substr(0, pickle->name.size() - std::strlen("data.pkl"));
  if (const ZipArchive::Entry* order = archive_->find(prefix + "byteorder")) {
    const std::string text(reinterpret_cast<const char*>(archive_->stored_data(*order)), order->size);
    if (text != "little")
      throw Error(kPlace, concat(path, ": tensors are stored ", text,
                                 "-endian; re-save it on a little-endian machine"));
  }
  archive_->verify_crc(*pickle);

  StateDictHooks hooks(path);
  Unpickler unpickler(archive_->stored_data(*pickle), pickle->size, path, kPlace, hooks);
  const PickleRef result = unpickler.load();

  // Checkpoints often wrap the state dict ({"state_dict": ..., "epoch": 3}); descend into known wrappers.
  const PickleValue* root = result.get();
  std::string nesting;
  std::vector<std::string> skipped;
  while (root->is(PickleValue::Kind::dict) && !holds_tensor(*root)) {
    const PickleValue* inner = nullptr;
    std::string inner_key;
    for (const char* key : {"state_dict", "model_state_dict", "model", "module", "ema"}) {
      const auto found = root->string_keys.find(key);
      if (found != root->string_keys.end() &&
          root->entries[found->second].second->is(PickleValue::Kind::dict)) {
        inner = root->entries[found->second].second.get();
        inner_key = key;
        break;
      }
    }
    if (!inner) break;
    for (const auto& [key, value] : root->entries)
      if (value.get() != inner) skipped.push_back(key->is(PickleValue::Kind::string) ? key->text : "<key>");
    nesting += concat(nesting.empty() ? "" : ".", inner_key);
    root = inner;
  }
  if (!root->is(PickleValue::Kind::dict))
    throw Error(kPlace, concat(path, ": the pickle holds a ", root->kind_name(),
                               ", not a dict of tensors; save model.state_dict() instead"));
  std::vector<NamedTensor> tensors;
  flatten(path, *root, "", 0, tensors, skipped);
  for (const std::string& name : skipped) log_debug(kPlace, path, ": skipping non-tensor entry '", name, "'");
  if (!nesting.empty()) note_ = concat("tensors nested under '", nesting, "'");
  if (!skipped.empty())
    note_ += concat(note_.empty() ? "" : "; ", "skipped ", skipped.size(), " non-tensor entries");

  for (NamedTensor& named : tensors) {
    const TensorRef& tensor = *named.tensor;
    const StorageRef& storage = *tensor.storage;
    const std::string where = concat(path, ": tensor '", named.name, "'");
    Record record;
    record.torch_dtype = tensor.dtype;
    const uint64_t element = tensor.dtype->element_size;
    const ZipArchive::Entry* entry = archive_->find(concat(prefix, "data/", storage.key));
    if (!entry)
      throw Error(kPlace,
                  concat(where, " uses storage '", storage.key, "', which the archive lacks; ", kCorruptFix));
    archive_->stored_data(*entry);  // refuses compressed entries now rather than at load
    if (entry->size < storage.bytes())
      throw Error(kPlace, concat(where, " uses storage '", storage.key, "' of ", storage.bytes(),
                                 " bytes but the archive holds ", entry->size, "; ", kCorruptFix));
    record.storage = entry;
    record.storage_elements = storage.bytes() / element;
    record.offset = tensor.offset;
    record.strides = tensor.strides;

    uint64_t numel = 0, bytes = 0;
    if (!view_fits_storage(tensor, record.storage_elements, &numel) ||
        __builtin_mul_overflow(numel, element, &bytes))
      throw Error(kPlace, concat(where, " (size ", shape_to_string(tensor.shape), ", stride ",
                                 shape_to_string(tensor.strides), ", offset ", tensor.offset,
                                 ") does not fit its storage of ", record.storage_elements, " elements; ",
                                 kCorruptFix));
    record.info = TensorInfo{named.name, tensor.dtype->name, tensor.dtype->dtype, tensor.shape, bytes};
    if (!index_.emplace(named.name, records_.size()).second)
      throw Error(kPlace,
                  concat(where, " appears twice once nested dicts are flattened; rename one of them"));
    names_.push_back(named.name);
    records_.push_back(std::move(record));
  }
}

const PthFile::Record& PthFile::record(const std::string& name) const {
  const auto found = index_.find(name);
  if (found == index_.end())
    throw Error(kPlace, concat(path(), ": no tensor named '", name, "' (the file has ", records_.size(),
                               " tensors); list them with `x2v inspect ", path(), "`"));
  return records_[found->second];
}

TensorInfo PthFile::info(const std::string& name) const {
  return record(name).info;
}

void PthFile::release(const std::string& name) const {
  if (!contains(name)) return;
  const Record& found = record(name);
  const size_t element = found.torch_dtype ? found.torch_dtype->element_size : 1;
  const uint8_t* base = archive_->stored_data(*found.storage);
  archive_->file()->release(static_cast<size_t>(base - archive_->file()->data()),
                            found.storage_elements * element);
}

Tensor PthFile::load(const std::string& name, std::optional<DType> dtype) const {
  const Record& found = record(name);
  const TensorInfo& info = found.info;
  check_loadable(kPlace, path(), info, loadable_dtype_list(),
                 "convert it in PyTorch first, e.g. tensor.float()");
  const DType source = *info.dtype;
  const DType target = dtype.value_or(source);
  if (info.bytes == 0) return Tensor::host(info.shape, target);

  const uint8_t* base = archive_->stored_data(*found.storage);
  const size_t element = dtype_size(source);
  const bool aligned = reinterpret_cast<uintptr_t>(base) % element == 0;
  auto keep_alive = std::const_pointer_cast<MappedFile>(archive_->file());
  if (aligned && target == source && is_contiguous_layout(info.shape, found.strides))
    return Tensor::borrow(const_cast<uint8_t*>(base) + found.offset * element, info.shape, source,
                          std::move(keep_alive));

  // Strided views, conversions and unaligned data: a contiguous host copy.
  const Shape storage_shape{static_cast<int64_t>(found.storage_elements)};
  Tensor storage;
  if (aligned) {
    storage = Tensor::borrow(const_cast<uint8_t*>(base), storage_shape, source, std::move(keep_alive));
  } else {
    storage = Tensor::host(storage_shape, source);
    std::memcpy(storage.raw_data(), base, found.storage_elements * element);
  }
  return storage.as_strided(info.shape, found.strides, found.offset).to_host(target);
}

}  // namespace x2v::io
