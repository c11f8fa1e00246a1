// edgerun: closed vocabularies of options (pixel formats, fits, box coders,
// NMS modes, drop policies ...).
//
// Every option enum has exactly one name table, specialized next to the enum
// (NamesOf<PixelFormat>() in preprocess.h, ...): names[i] spells the value i.
// Name(), parsers, error messages and the Python bindings (which hand the
// tables to edgerun's Python modules as `_core.<Options>.choices(option)`) all
// read it, so a new value is one edit. No Python here.
#pragma once

#include <cctype>
#include <string>

#include "edgerun/status.h"

namespace edgerun {

struct NameTable {
  const char* option;         // the keyword that takes the value ("format", "box_coder", ...)
  const char* const* names;   // names[i] spells the enum value i
  int count;
};

// Specialized (declared in the header of the enum, defined beside its code).
template <class E>
const NameTable& NamesOf();

// "'a', 'b' or 'c'"
inline std::string AllowedNames(const NameTable& t) {
  std::string s;
  for (int i = 0; i < t.count; ++i) {
    if (i) s += i + 1 == t.count ? " or " : ", ";
    s += std::string("'") + t.names[i] + "'";
  }
  return s;
}

// InputError "<option>: expected one of 'a', 'b' or 'c'; got <got>" (got as the
// caller spells it, e.g. a quoted string or a Python repr).
inline Status UnknownName(const NameTable& t, const std::string& got) {
  return InputError(std::string(t.option) + ": expected " + (t.count > 2 ? "one of " : "") + AllowedNames(t) +
                    "; got " + got);
}

// The value spelled `s` (ASCII case-insensitive), or UnknownName.
inline Expected<int> ParseName(const NameTable& t, const std::string& s) {
  std::string low = s;
  for (auto& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (int i = 0; i < t.count; ++i)
    if (low == t.names[i]) return i;
  return UnknownName(t, "'" + s + "'");
}

template <class E>
Expected<E> ParseOption(const std::string& s) {
  Expected<int> i = ParseName(NamesOf<E>(), s);
  if (!i.ok()) return i.status();
  return static_cast<E>(*i);
}

// The name of `v`, or "?" for a value outside the table (a cast int).
template <class E>
const char* OptionName(E v) {
  const NameTable& t = NamesOf<E>();
  const int i = static_cast<int>(v);
  return i >= 0 && i < t.count ? t.names[i] : "?";
}

// InputError when `v` is not a value of E (an enum set from an integer).
template <class E>
Status CheckOption(E v) {
  const NameTable& t = NamesOf<E>();
  const int i = static_cast<int>(v);
  if (i >= 0 && i < t.count) return Status::Ok();
  return UnknownName(t, std::to_string(i));
}

}  // namespace edgerun
