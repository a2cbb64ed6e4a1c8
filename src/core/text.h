#pragma once
// Text helpers for messages: names that come from files made safe to print, and "did you mean" hints.
#include <string>
#include <string_view>
#include <vector>

namespace x2v {

// `text` with every control character (C0, DEL, and the C1 range U+0080..U+009F) written as an escape
// (\n, \t, \x1b, \u009b), so a name read from a file cannot drive the terminal it is printed on.
std::string printable(std::string_view text);

// Levenshtein distance (insertions, deletions, substitutions; a swap of neighbours counts as one).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo (case-insensitive, about
// one edit in four characters, or `word` a prefix of it), else "".
std::string nearest_name(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace x2v
