// Names of the enums a user types (--format jsonl, --precision bf16, ...),
// written once per enum in a table that parsing, printing, the command line's
// choices and its error messages all read.
//
// An enum opts in by specializing EnumNames<E> with `option` (the flag whose
// values these are, for messages) and `names` (each value once, its canonical
// spelling first; extra rows are accepted spellings).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "base/text.h"

namespace resnet_cli {

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

template <typename E>
struct EnumNames;  // specialized next to each enum

// The canonical name of `value` (the first row that has it).
template <typename E>
std::string_view enum_name(E value) {
  for (const auto& entry : EnumNames<E>::names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// The value `text` names, ignoring ASCII case; nullopt when none does.
template <typename E>
std::optional<E> find_enum(std::string_view text) {
  for (const auto& entry : EnumNames<E>::names) {
    if (detail::equals_ignoring_ascii_case(entry.name, text)) {
      return entry.value;
    }
  }
  return std::nullopt;
}

// "a, b or c": every accepted spelling, for help texts and messages.
template <typename E>
std::string enum_choices() {
  std::string text;
  const auto& names = EnumNames<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += names[i].name;
  }
  return text;
}

// The message for a value that names nothing: "unknown --format 'x'
// (expected text, json, jsonl, csv or tsv)".
template <typename E>
std::string unknown_enum_message(std::string_view text) {
  return "unknown " + std::string(EnumNames<E>::option) + " '" +
         std::string(text) + "' (expected " + enum_choices<E>() + ")";
}

}  // namespace resnet_cli
