#pragma once
// The umT5 tokenizer as Wan2.1 calls it: transformers' tokenizer for google/umt5-xxl (a SentencePiece
// unigram model) with Wan's prompt cleaning, max_length 512, truncation, EOS appended, padded with <pad>.
// Built on libsentencepiece and the model's spiece.model.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace x2v {

// Wan's prompt cleaning (wan/modules/tokenizers.py, clean='whitespace'): ftfy.fix_text, HTML-unescape
// twice, strip, collapse each run of Unicode whitespace (White_Space, what the `regex` module's \s matches)
// to one space, strip (Python's str.strip(), which also drops U+001C..U+001F). The unescaping is Python's
// html.unescape for numeric references (decimal and hex, ';' optional, with its replacements of invalid
// code points) and for the named references in t5_html_entities.cpp (those of HTML 4 plus &apos;, and
// the legacy names accepted without ';'); other HTML5 names stay as written.
// Of ftfy.fix_text (ftfy 6, default settings) everything is reproduced but its mojibake repair and its NFC
// normalization (the tokenizer's NFKC makes the latter moot for the ids): line by line, until nothing
// changes, its HTML decoding (';'-terminated references, all-caps names; stopped from the first line
// holding '<'), C1 controls read as windows-1252, Latin ligatures, fullwidth and halfwidth forms, curly
// quotes straightened, line breaks, terminal escapes and control characters removed.
// Throws Error when `text` is not valid UTF-8.
std::string clean_prompt(const std::string& text);

struct TokenizedText {
  std::vector<int32_t> ids;        // exactly max_length ids, padded with the pad id
  int64_t length = 0;              // real tokens, EOS included (the attention mask's ones)
  int64_t untruncated_length = 0;  // what `length` would be without max_length (> length: it was cut)
};

class T5Tokenizer {
 public:
  // `path`: a spiece.model file, or a folder holding google/umt5-xxl/spiece.model (the Wan model folder),
  // spiece.model, or tokenizer/spiece.model (diffusers). Error naming the expected file when missing.
  explicit T5Tokenizer(const std::string& path);
  ~T5Tokenizer();
  T5Tokenizer(T5Tokenizer&&) noexcept;
  T5Tokenizer& operator=(T5Tokenizer&&) noexcept;

  // Cleans `prompt`, encodes it, keeps at most max_length - 1 tokens, appends EOS and pads to max_length.
  // Characters outside the vocabulary give <unk>, one per run, as transformers' converted tokenizer does
  // (SentencePiece itself would spell them as UTF-8 byte pieces).
  TokenizedText encode(const std::string& prompt, int64_t max_length = 512) const;
  // Pieces of the SentencePiece model (umT5: 256000; transformers adds its <extra_id_N> sentinels after them,
  // which the encoder's 256384-row embedding covers; prompts never produce them here).
  int64_t vocab_size() const;
  const std::string& model_path() const { return model_path_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t eos_id() const { return eos_id_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string model_path_;
  int32_t pad_id_ = 0, eos_id_ = 1, unk_id_ = 2;
};

}  // namespace x2v
