#pragma once
// Named HTML character references for the umT5 prompt cleaning (which of them: t5_html_entities.cpp).
#include <optional>
#include <string_view>

namespace x2v {

struct HtmlEntity {
  std::string_view name;  // as written after '&', with its ';' when it has one ("amp;", "amp")
  char32_t codepoint;
};

// The code point of the reference `name` ("eacute;", "lt"), or nothing when it is not one x2v knows.
std::optional<char32_t> find_html_entity(std::string_view name);

}  // namespace x2v
