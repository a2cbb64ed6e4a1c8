#include "models/wan/t5_tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>

#include "core/error.h"

namespace x2v {
namespace {

constexpr const char* kPlace = "t5 tokenizer";

// The spiece.model `path` names: the file itself, or the first of the known places inside a folder.
std::string locate_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(path, error))
    throw Error(kPlace, concat("'", path, "' does not exist; give the Wan model folder (with ",
                               "google/umt5-xxl/spiece.model) or the spiece.model file"));
  if (!fs::is_directory(path, error)) return path;
  for (const char* relative : {"google/umt5-xxl/spiece.model", "spiece.model", "tokenizer/spiece.model"})
    if (fs::is_regular_file(fs::path(path) / relative, error)) return (fs::path(path) / relative).string();
  throw Error(kPlace, concat("folder '", path, "' has no google/umt5-xxl/spiece.model (nor spiece.model or ",
                             "tokenizer/spiece.model); give the Wan model folder or the spiece.model file"));
}

}  // namespace

T5Tokenizer::T5Tokenizer(const std::string& path)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()), model_path_(locate_model(path)) {
  const auto status = processor_->Load(model_path_);
  if (!status.ok())
    throw Error(kPlace, concat("cannot load the SentencePiece model '", model_path_, "': ", status.ToString(),
                               "; the file is not a spiece.model or is corrupt"));
  pad_id_ = processor_->pad_id();
  eos_id_ = processor_->eos_id();
  unk_id_ = processor_->unk_id();
  if (pad_id_ < 0 || eos_id_ < 0 || unk_id_ < 0)
    throw Error(kPlace, concat("'", model_path_, "' defines no ",
                               pad_id_ < 0   ? "<pad>"
                               : eos_id_ < 0 ? "</s>"
                                             : "<unk>",
                               " piece; umT5's spiece.model has <pad> 0, </s> 1, <unk> 2"));
}

T5Tokenizer::~T5Tokenizer() = default;
T5Tokenizer::T5Tokenizer(T5Tokenizer&&) noexcept = default;
T5Tokenizer& T5Tokenizer::operator=(T5Tokenizer&&) noexcept = default;

int64_t T5Tokenizer::vocab_size() const {
  return processor_->GetPieceSize();
}

TokenizedText T5Tokenizer::encode(const std::string& prompt, int64_t max_length) const {
  if (max_length < 1)
    throw Error(kPlace, concat("text_len (max_length) is ", max_length,
                               "; it must leave room for the EOS token (>= 1)"));
  std::vector<int> pieces;
  const auto status = processor_->Encode(clean_prompt(prompt), &pieces);
  if (!status.ok()) throw Error(kPlace, concat("cannot encode the prompt: ", status.ToString()));

  TokenizedText result;
  result.ids.reserve(max_length);
  // SentencePiece spells a character outside the vocabulary as its UTF-8 byte pieces (byte_fallback);
  // the tokenizer Wan uses (transformers' conversion of the same model) has no byte fallback and gives
  // one <unk> per run of such characters. Byte pieces never come from anything else.
  bool in_byte_run = false;
  int64_t tokens = 0;
  for (const int piece : pieces) {
    const bool is_byte = processor_->IsByte(piece);
    if (is_byte && in_byte_run) continue;
    in_byte_run = is_byte;
    ++tokens;
    if (static_cast<int64_t>(result.ids.size()) < max_length - 1)
      result.ids.push_back(is_byte ? unk_id_ : piece);
  }
  result.untruncated_length = tokens + 1;
  result.ids.push_back(eos_id_);
  result.length = static_cast<int64_t>(result.ids.size());
  result.ids.resize(max_length, pad_id_);
  return result;
}

}  // namespace x2v
