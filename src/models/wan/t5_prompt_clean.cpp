// clean_prompt (declared in t5_tokenizer.h): Wan's prompt cleaning on code points.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/error.h"
#include "models/wan/t5_html_entities.h"
#include "models/wan/t5_tokenizer.h"

namespace x2v {
namespace {

constexpr char32_t kReplacement = 0xFFFD;
constexpr size_t kMaxNameLength = 32;  // html.unescape looks at most 32 characters past '&'

std::u32string decode_utf8(const std::string& text) {
  std::u32string result;
  result.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    int extra = 0;
    char32_t value = lead;
    if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3, value = lead & 0x07;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2, value = lead & 0x0F;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1, value = lead & 0x1F;
    } else if (lead >= 0x80) {
      extra = -1;
    }
    bool valid = extra >= 0 && i + extra < text.size();
    for (int k = 1; valid && k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      value = (value << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
    valid = valid && !(extra == 2 && value < 0x800) && !(extra == 3 && value < 0x10000) &&
            !(value >= 0xD800 && value <= 0xDFFF) && value <= 0x10FFFF;
    if (!valid) {
      char byte[8];
      std::snprintf(byte, sizeof(byte), "0x%02X", lead);
      throw Error("t5 tokenizer", concat("the prompt is not valid UTF-8 (the sequence at byte ", i, ", ",
                                         byte, ", is malformed); pass the prompt as UTF-8 text"));
    }
    result.push_back(value);
    i += extra + 1;
  }
  return result;
}

std::string encode_utf8(const std::u32string& text) {
  std::string result;
  result.reserve(text.size());
  for (const char32_t c : text) {
    if (c < 0x80) {
      result.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      result.push_back(static_cast<char>(0xC0 | (c >> 6)));
      result.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      result.push_back(static_cast<char>(0xE0 | (c >> 12)));
      result.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      result.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      result.push_back(static_cast<char>(0xF0 | (c >> 18)));
      result.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      result.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      result.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return result;
}

// Unicode White_Space: what the `regex` module's \s matches in Wan's whitespace_clean.
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Python's str.isspace(), which str.strip() uses: White_Space plus the separators U+001C..U+001F.
bool is_python_space(char32_t c) {
  return is_white_space(c) || (c >= 0x1C && c <= 0x1F);
}

std::u32string strip(const std::u32string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && is_python_space(text[begin])) ++begin;
  while (end > begin && is_python_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

bool is_digit(char32_t c) {
  return c >= '0' && c <= '9';
}
bool is_hex_digit(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char32_t c) {
  return is_digit(c) ? static_cast<int>(c - '0') : static_cast<int>((c | 0x20) - 'a' + 10);
}

// HTML replaces these numeric references (NUL, CR, and C1 controls read as windows-1252) by fixed text.
std::u32string invalid_reference_replacement(uint32_t number, bool& replaced) {
  static constexpr char32_t kWindows1252[32] = {
      0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  replaced = true;
  if (number == 0x00) return std::u32string(1, kReplacement);
  if (number == 0x0D) return U"\r";
  if (number >= 0x80 && number <= 0x9F) return std::u32string(1, kWindows1252[number - 0x80]);
  replaced = false;
  return {};
}

// Code points html.unescape drops: C0/C1 controls other than tab, LF, FF, CR, DEL, noncharacters.
bool is_dropped_code_point(uint32_t c) {
  return (c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) ||
         (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}

// A numeric reference "&#...": its replacement, or false when `text` at `start` (the '#') is not one.
bool numeric_reference(const std::u32string& text, size_t start, size_t& end, std::u32string& replacement) {
  size_t i = start + 1;
  const bool hex = i < text.size() && (text[i] == 'x' || text[i] == 'X');
  if (hex) ++i;
  const size_t digits_begin = i;
  constexpr uint64_t kTooLarge = 0x110000;  // saturate: every larger number is replaced alike
  uint64_t number = 0;
  while (i < text.size() && (hex ? is_hex_digit(text[i]) : is_digit(text[i]))) {
    number =
        std::min<uint64_t>(number * (hex ? 16 : 10) + (hex ? hex_value(text[i]) : text[i] - '0'), kTooLarge);
    ++i;
  }
  if (i == digits_begin) return false;
  if (i < text.size() && text[i] == ';') ++i;
  end = i;
  bool replaced = false;
  replacement = invalid_reference_replacement(static_cast<uint32_t>(number), replaced);
  if (replaced) return true;
  if ((number >= 0xD800 && number <= 0xDFFF) || number > 0x10FFFF) {
    replacement = std::u32string(1, kReplacement);
  } else if (is_dropped_code_point(static_cast<uint32_t>(number))) {
    replacement.clear();
  } else {
    replacement = std::u32string(1, static_cast<char32_t>(number));
  }
  return true;
}

bool ends_name(char32_t c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';';
}

// A named reference after '&' (at `start`): up to 32 name characters and an optional ';'. The whole
// name when known, else its longest known prefix (only legacy names without ';' can be one) followed by
// the rest as written, else the text unchanged.
bool named_reference(const std::u32string& text, size_t start, size_t& end, std::u32string& replacement) {
  size_t i = start;
  while (i < text.size() && i - start < kMaxNameLength && !ends_name(text[i])) ++i;
  if (i == start) return false;
  if (i < text.size() && text[i] == ';') ++i;
  end = i;
  const std::u32string name = text.substr(start, end - start);
  // Names are ASCII; a non-ASCII character ends any match.
  std::string ascii;
  for (const char32_t c : name) ascii.push_back(c < 0x80 ? static_cast<char>(c) : '\x7f');
  if (const auto codepoint = find_html_entity(ascii)) {
    replacement = std::u32string(1, *codepoint);
    return true;
  }
  for (size_t length = name.size() - 1; length > 1; --length)
    if (const auto codepoint = find_html_entity(std::string_view(ascii).substr(0, length))) {
      replacement.assign(1, *codepoint);
      replacement.append(name, length);
      return true;
    }
  replacement.assign(1, U'&');
  replacement += name;
  return true;
}

std::u32string html_unescape(const std::u32string& text) {
  std::u32string result;
  result.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '&' || i + 1 >= text.size()) {
      result.push_back(text[i++]);
      continue;
    }
    size_t end = 0;
    std::u32string replacement;
    const bool matched = text[i + 1] == '#' ? numeric_reference(text, i + 1, end, replacement)
                                            : named_reference(text, i + 1, end, replacement);
    if (!matched) {
      result.push_back(text[i++]);
      continue;
    }
    result += replacement;
    i = end;
  }
  return result;
}

}  // namespace

std::string clean_prompt(const std::string& text) {
  const std::u32string unescaped = strip(html_unescape(html_unescape(decode_utf8(text))));
  std::u32string collapsed;
  collapsed.reserve(unescaped.size());
  for (size_t i = 0; i < unescaped.size(); ++i) {
    if (!is_white_space(unescaped[i])) {
      collapsed.push_back(unescaped[i]);
    } else if (i == 0 || !is_white_space(unescaped[i - 1])) {
      collapsed.push_back(' ');
    }
  }
  return encode_utf8(strip(collapsed));
}

}  // namespace x2v
