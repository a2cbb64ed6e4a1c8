// clean_prompt (declared in t5_tokenizer.h): Wan's prompt cleaning on code points.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
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

// Bytes 0x80..0x9F read as windows-1252, the five it leaves undefined kept as they are (what browsers,
// html.unescape and ftfy's "sloppy" codec do).
constexpr char32_t kWindows1252[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                       0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                       0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};

// HTML replaces these numeric references (NUL, CR, and C1 controls read as windows-1252) by fixed text.
std::u32string invalid_reference_replacement(uint32_t number, bool& replaced) {
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

// ---- ftfy.fix_text (ftfy 6, default settings) without its mojibake repair and NFC normalization ----

bool is_ascii_alphanumeric(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Python's str.upper() of the lower-case letters among the named references x2v knows.
std::u32string upper_case(char32_t c) {
  if (c == 0xDF) return U"SS";
  if (c == 0xFF) return U"\u0178";
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2)) return {c - 0x20};
  switch (c) {
    case 0x3C2:
      return U"\u03A3";  // final sigma
    case 0x3D1:
      return U"\u0398";  // theta symbol
    case 0x3D6:
      return U"\u03A0";  // pi symbol
    case 0x153:
      return U"\u0152";
    case 0x161:
      return U"\u0160";
    case 0x192:
      return U"\u0191";
    default:
      return {c};
  }
}

// The reference `&name;` as ftfy decodes it: a known name with its ';', or the all-caps spelling of a
// lower-case one that is not itself a name (&EACUTE; is É); nothing otherwise.
std::optional<std::u32string> ftfy_named_reference(const std::string& name) {
  if (const auto codepoint = find_html_entity(name + ";")) return std::u32string(1, *codepoint);
  std::string lower = name;
  bool upper_only = true;
  for (char& c : lower) {
    upper_only = upper_only && !(c >= 'a' && c <= 'z');
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!upper_only || lower == name) return std::nullopt;
  if (const auto codepoint = find_html_entity(lower + ";")) return upper_case(*codepoint);
  return std::nullopt;
}

// ftfy's unescape_html: each `&#?[0-9A-Za-z]{1,24};` that is a named reference, or a numeric one that
// html.unescape decodes whole (its ';' consumed), is replaced; everything else stays as written.
std::u32string ftfy_unescape_html(const std::u32string& text) {
  std::u32string result;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '&') {
      result.push_back(text[i++]);
      continue;
    }
    size_t end = i + 1;
    const bool numeric = end < text.size() && text[end] == '#';
    if (numeric) ++end;
    const size_t name_start = end;
    while (end < text.size() && end - name_start < 24 && is_ascii_alphanumeric(text[end])) ++end;
    if (end == name_start || end >= text.size() || text[end] != ';') {
      result.push_back(text[i++]);
      continue;
    }
    const std::u32string reference = text.substr(i, end + 1 - i);
    std::optional<std::u32string> replacement;
    if (numeric) {
      const std::u32string decoded = html_unescape(reference);
      if (decoded.find(U';') == std::u32string::npos) replacement = decoded;
    } else {
      std::string name;
      for (size_t k = name_start; k < end; ++k) name.push_back(static_cast<char>(text[k]));
      replacement = ftfy_named_reference(name);
    }
    result += replacement ? *replacement : reference;
    i = end + 1;
  }
  return result;
}

// Latin ligatures and digraphs ftfy spells out.
std::optional<std::u32string> ligature(char32_t c) {
  switch (c) {
    case 0x132:
      return U"IJ";
    case 0x133:
      return U"ij";
    case 0x149:
      return U"\u02BCn";
    case 0x1F1:
      return U"DZ";
    case 0x1F2:
      return U"Dz";
    case 0x1F3:
      return U"dz";
    case 0x1C4:
      return U"D\u017D";
    case 0x1C5:
      return U"D\u017E";
    case 0x1C6:
      return U"d\u017E";
    case 0x1C7:
      return U"LJ";
    case 0x1C8:
      return U"Lj";
    case 0x1C9:
      return U"lj";
    case 0x1CA:
      return U"NJ";
    case 0x1CB:
      return U"Nj";
    case 0x1CC:
      return U"nj";
    case 0xFB00:
      return U"ff";
    case 0xFB01:
      return U"fi";
    case 0xFB02:
      return U"fl";
    case 0xFB03:
      return U"ffi";
    case 0xFB04:
      return U"ffl";
    case 0xFB05:
      return U"\u017Ft";
    case 0xFB06:
      return U"st";
    default:
      return std::nullopt;
  }
}

// ftfy's fix_character_width: the ideographic space and the NFKC form of U+FF01..U+FFEF (made with
// Python's unicodedata: runs of consecutive sources mapping to consecutive targets).
std::optional<std::u32string> standard_width(char32_t c) {
  struct Run {
    char32_t source, target, count;
  };
  static constexpr Run kRuns[] = {
      {0xFF5F, 0x2985, 2}, {0xFF61, 0x3002, 1},  {0xFF62, 0x300C, 2}, {0xFF64, 0x3001, 1},
      {0xFF65, 0x30FB, 1}, {0xFF66, 0x30F2, 1},  {0xFF67, 0x30A1, 1}, {0xFF68, 0x30A3, 1},
      {0xFF69, 0x30A5, 1}, {0xFF6A, 0x30A7, 1},  {0xFF6B, 0x30A9, 1}, {0xFF6C, 0x30E3, 1},
      {0xFF6D, 0x30E5, 1}, {0xFF6E, 0x30E7, 1},  {0xFF6F, 0x30C3, 1}, {0xFF70, 0x30FC, 1},
      {0xFF71, 0x30A2, 1}, {0xFF72, 0x30A4, 1},  {0xFF73, 0x30A6, 1}, {0xFF74, 0x30A8, 1},
      {0xFF75, 0x30AA, 2}, {0xFF77, 0x30AD, 1},  {0xFF78, 0x30AF, 1}, {0xFF79, 0x30B1, 1},
      {0xFF7A, 0x30B3, 1}, {0xFF7B, 0x30B5, 1},  {0xFF7C, 0x30B7, 1}, {0xFF7D, 0x30B9, 1},
      {0xFF7E, 0x30BB, 1}, {0xFF7F, 0x30BD, 1},  {0xFF80, 0x30BF, 1}, {0xFF81, 0x30C1, 1},
      {0xFF82, 0x30C4, 1}, {0xFF83, 0x30C6, 1},  {0xFF84, 0x30C8, 1}, {0xFF85, 0x30CA, 6},
      {0xFF8B, 0x30D2, 1}, {0xFF8C, 0x30D5, 1},  {0xFF8D, 0x30D8, 1}, {0xFF8E, 0x30DB, 1},
      {0xFF8F, 0x30DE, 5}, {0xFF94, 0x30E4, 1},  {0xFF95, 0x30E6, 1}, {0xFF96, 0x30E8, 6},
      {0xFF9C, 0x30EF, 1}, {0xFF9D, 0x30F3, 1},  {0xFF9E, 0x3099, 2}, {0xFFA0, 0x1160, 1},
      {0xFFA1, 0x1100, 2}, {0xFFA3, 0x11AA, 1},  {0xFFA4, 0x1102, 1}, {0xFFA5, 0x11AC, 2},
      {0xFFA7, 0x1103, 3}, {0xFFAA, 0x11B0, 6},  {0xFFB0, 0x111A, 1}, {0xFFB1, 0x1106, 3},
      {0xFFB4, 0x1121, 1}, {0xFFB5, 0x1109, 10}, {0xFFC2, 0x1161, 6}, {0xFFCA, 0x1167, 6},
      {0xFFD2, 0x116D, 6}, {0xFFDA, 0x1173, 3},  {0xFFE0, 0x00A2, 2}, {0xFFE2, 0x00AC, 1},
      {0xFFE4, 0x00A6, 1}, {0xFFE5, 0x00A5, 1},  {0xFFE6, 0x20A9, 1}, {0xFFE8, 0x2502, 1},
      {0xFFE9, 0x2190, 4}, {0xFFED, 0x25A0, 1},  {0xFFEE, 0x25CB, 1}};
  if (c == 0x3000) return U" ";
  if (c >= 0xFF01 && c <= 0xFF5E) return std::u32string(1, c - 0xFEE0);
  if (c == 0xFFE3) return U" \u0304";
  for (const Run& run : kRuns)
    if (c >= run.source && c < run.source + run.count)
      return std::u32string(1, run.target + (c - run.source));
  return std::nullopt;
}

// ftfy's remove_control_chars (tab, LF, FF and CR stay).
bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// One pass of ftfy's per-character fixes, in its order: C1 controls as windows-1252, ligatures, width,
// curly quotes, line breaks, terminal escapes, control characters.
std::u32string ftfy_character_fixes(const std::u32string& text) {
  std::u32string fixed;
  for (const char32_t c : text) {
    if (c >= 0x80 && c <= 0x9F) {
      fixed.push_back(kWindows1252[c - 0x80]);
    } else if (const auto spelled = ligature(c)) {
      fixed += *spelled;
    } else {
      fixed.push_back(c);
    }
  }
  std::u32string step;
  for (const char32_t c : fixed) {
    const bool single_quote = c == 0x2BC || (c >= 0x2018 && c <= 0x201B);
    const bool double_quote = c >= 0x201C && c <= 0x201F;
    if (const auto standard = standard_width(c))
      step += *standard;
    else if (single_quote)
      step.push_back('\'');
    else if (double_quote)
      step.push_back('"');
    else
      step.push_back(c);
  }
  fixed.clear();
  for (size_t i = 0; i < step.size(); ++i) {
    const char32_t c = step[i];
    if (c == '\r') {
      fixed.push_back('\n');
      if (i + 1 < step.size() && step[i + 1] == '\n') ++i;
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      fixed.push_back('\n');
    } else if (c == 0x1B && i + 1 < step.size() && step[i + 1] == '[') {
      size_t end = i + 2;
      while (end < step.size() && (is_digit(step[end]) || step[end] == ';')) ++end;
      const bool escape = end < step.size() && step[end] < 0x80 && std::isalpha(static_cast<int>(step[end]));
      if (escape)
        i = end;
      else
        fixed.push_back(c);
    } else {
      fixed.push_back(c);
    }
  }
  std::u32string result;
  for (const char32_t c : fixed)
    if (!is_removed_control(c)) result.push_back(c);
  return result;
}

// ftfy.fix_text: line by line (each line with its '\n'); HTML references are decoded until a line
// holding '<' is met (then no more, as ftfy's "auto" does); every line is fixed until nothing changes.
std::u32string ftfy_fix_text(const std::u32string& text) {
  std::u32string result;
  bool unescape = true;
  size_t start = 0;
  while (start < text.size()) {
    const size_t newline = text.find(U'\n', start);
    const size_t end = newline == std::u32string::npos ? text.size() : newline + 1;
    std::u32string line = text.substr(start, end - start);
    unescape = unescape && line.find(U'<') == std::u32string::npos;
    for (;;) {
      std::u32string fixed = ftfy_character_fixes(unescape ? ftfy_unescape_html(line) : line);
      if (fixed == line) break;
      line = std::move(fixed);
    }
    result += line;
    start = end;
  }
  return result;
}

}  // namespace

std::string clean_prompt(const std::string& text) {
  const std::u32string unescaped = strip(html_unescape(html_unescape(ftfy_fix_text(decode_utf8(text)))));
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
