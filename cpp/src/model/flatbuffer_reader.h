// edgerun: bounds-checked reading of untrusted flatbuffers and FlexBuffers.
//
// Generic: nothing here knows the TFLite schema (that is verify.cc, with the
// field descriptors generated into schema_tables.inc). Conventions:
//  - every read checks bounds (and alignment) before touching a byte and loads
//    little-endian values byte by byte, so `data` may have any alignment;
//  - every table visited and every vector element examined costs one unit of a
//    work budget (Reader::Spend), so a caller can keep its time linear in the
//    file size even for files that point many offsets at the same sub-table;
//  - errors are ModelError Statuses naming the field and the offending offset.
// Field slots: slot i is vtable entry 4 + 2*i (flatbuffers' vtable layout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "edgerun/status.h"

namespace edgerun {
namespace fb {

// printf-style formatting into a std::string (messages are short: 512 bytes at most).
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
std::string Fmt(const char* fmt, ...);

inline uint16_t LoadU16(const uint8_t* p) { return uint16_t(p[0] | (uint32_t(p[1]) << 8)); }
inline uint32_t LoadU32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t LoadU64(const uint8_t* p) { return uint64_t(LoadU32(p)) | (uint64_t(LoadU32(p + 4)) << 32); }

// Field descriptors, as generated into schema_tables.inc.
template <class T>
struct ScalarField {
  int slot;
  T def;  // value when the field is absent
};
struct VectorField {
  int slot;
  uint32_t elem_size;  // bytes per element (4 for vectors of tables and strings)
};
struct StringField {
  int slot;
};
struct TableField {  // a sub-table or a union value
  int slot;
};

// A table's layout, one character per field slot:
//   '1' '2' '4' '8'  scalar of that many bytes
//   'a' 'b' 'c' 'd'  vector of 1 / 2 / 4 / 8-byte elements
//   's'              string
//   't'              sub-table (its header is checked, not its fields)
//   '.'              slot no longer in the schema; not read
struct TableLayout {
  const char* name;
  const char* fields;
};

struct TableRef {
  uint64_t pos = 0;    // absolute position of the table (its soffset)
  uint64_t vt = 0;     // absolute position of its vtable
  uint32_t vsize = 0;  // vtable size in bytes
  uint32_t tsize = 0;  // table size in bytes (inline part)
};

struct VecRef {
  uint64_t data = 0;  // absolute position of element 0
  uint32_t len = 0;
  bool present = false;
};

// Bounds-checked reader of flatbuffer primitives over `n` bytes at `d`.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n, uint64_t budget) : d_(d), n_(n), budget_(budget), limit_(budget) {}

  const uint8_t* data() const { return d_; }
  uint64_t size() const { return n_; }

  // Pays `units` of the work budget; an error once it is spent.
  Status Spend(uint64_t units) {
    if (units > budget_) return BudgetExceeded();
    budget_ -= units;
    return Status();
  }

  // The table whose soffset is at absolute `pos`.
  Status Table(uint64_t pos, TableRef* t);

  uint32_t FieldOffset(const TableRef& t, int slot) const {
    uint32_t entry = 4u + 2u * uint32_t(slot);
    if (entry + 2 > t.vsize) return 0;
    return LoadU16(d_ + t.vt + entry);
  }

  // Scalar field of `size` bytes (1, 2, 4, 8); `def` when absent.
  Status Scalar(const TableRef& t, int slot, uint32_t size, uint64_t def, uint64_t* out, const char* field);
  template <class T>
  Status Read(const TableRef& t, ScalarField<T> f, T* out, const char* field) {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8, "scalar size");
    *out = f.def;
    const uint32_t fo = FieldOffset(t, f.slot);
    if (fo == 0) return Status();
    const uint64_t at = t.pos + fo;
    if (fo < 4 || fo + sizeof(T) > t.tsize || at % sizeof(T) != 0) return ScalarError(t, fo, sizeof(T), field);
    const uint8_t* p = d_ + at;
    *out = FromBits<T>(sizeof(T) == 1   ? p[0]
                       : sizeof(T) == 2 ? LoadU16(p)
                       : sizeof(T) == 4 ? LoadU32(p)
                                        : LoadU64(p));
    return Status();
  }

  // Follows the uoffset stored in a field; *present = false when absent.
  Status Offset(const TableRef& t, int slot, uint64_t* target, bool* present, const char* field);

  // Vector (or string: elem_size 1 plus a terminating NUL) at absolute pos.
  Status VectorAt(uint64_t pos, uint32_t elem_size, bool is_string, VecRef* v, const char* field);
  Status Vector(const TableRef& t, int slot, uint32_t elem_size, VecRef* v, const char* field);
  Status Vector(const TableRef& t, VectorField f, VecRef* v, const char* field) {
    return Vector(t, f.slot, f.elem_size, v, field);
  }
  Status String(const TableRef& t, int slot, VecRef* s, const char* field);
  Status String(const TableRef& t, StringField f, VecRef* s, const char* field) {
    return String(t, f.slot, s, field);
  }

  // Sub-table referenced by a field.
  Status Child(const TableRef& t, int slot, TableRef* c, bool* present, const char* field);
  Status Child(const TableRef& t, TableField f, TableRef* c, bool* present, const char* field) {
    return Child(t, f.slot, c, present, field);
  }

  // Element i of a vector of tables.
  Status VecTable(const VecRef& v, uint32_t i, TableRef* t);

  // Elements of a verified vector.
  int32_t VI32(const VecRef& v, uint32_t i) const { return int32_t(LoadU32(d_ + v.data + 4ull * i)); }
  uint32_t VU32(const VecRef& v, uint32_t i) const { return LoadU32(d_ + v.data + 4ull * i); }
  uint32_t VU16(const VecRef& v, uint32_t i) const { return LoadU16(d_ + v.data + 2ull * i); }
  uint32_t VU8(const VecRef& v, uint32_t i) const { return d_[v.data + i]; }
  int64_t VI64(const VecRef& v, uint32_t i) const { return int64_t(LoadU64(d_ + v.data + 8ull * i)); }

  // Every field of `t` in bounds, by its layout (see TableLayout); field names
  // in messages are "slot N".
  Status VerifyLayout(const TableRef& t, const TableLayout& layout);

  // Printable, shortened copy of a verified string (for messages only).
  std::string Printable(const VecRef& s) const;

 private:
  template <class T>
  static T FromBits(uint64_t v) {
    if constexpr (std::is_same<T, bool>::value) {
      return v != 0;
    } else if constexpr (std::is_integral<T>::value) {
      return T(v);  // two's complement truncation, as flatbuffers stores it
    } else if constexpr (sizeof(T) == 4) {
      uint32_t b = uint32_t(v);
      T out;
      std::memcpy(&out, &b, 4);
      return out;
    } else {
      T out;
      std::memcpy(&out, &v, 8);
      return out;
    }
  }
  Status BudgetExceeded() const;
  Status ScalarError(const TableRef& t, uint32_t fo, uint32_t size, const char* field) const;

  const uint8_t* d_;
  uint64_t n_;
  uint64_t budget_;
  uint64_t limit_;
};

// ---------------------------------------------------------------------------
// The hot readers, inline: the verifier calls them for every field it reads.
// ---------------------------------------------------------------------------
#define FB_RET(expr)                  \
  do {                                \
    ::edgerun::Status _fs = (expr);   \
    if (!_fs.ok()) return _fs;        \
  } while (0)

using fb_ull = unsigned long long;
using fb_ll = long long;

inline Status Reader::Table(uint64_t pos, TableRef* t) {
  FB_RET(Spend(1));
  if (pos >= n_ || n_ - pos < 4) {
    return ModelError(Fmt("table at offset %llu lies outside the file (size %llu)", fb_ull(pos), fb_ull(n_)));
  }
  if (pos % 4 != 0) return ModelError(Fmt("table at offset %llu is misaligned", fb_ull(pos)));
  int32_t so = int32_t(LoadU32(d_ + pos));
  int64_t vt = int64_t(pos) - int64_t(so);
  if (vt < 0 || uint64_t(vt) >= n_ || n_ - uint64_t(vt) < 4) {
    return ModelError(Fmt("vtable of table at offset %llu lies outside the file (at %lld, file size %llu)",
                          fb_ull(pos), fb_ll(vt), fb_ull(n_)));
  }
  if (vt % 2 != 0) return ModelError(Fmt("vtable at offset %lld is misaligned", fb_ll(vt)));
  uint32_t vsize = LoadU16(d_ + vt);
  uint32_t tsize = LoadU16(d_ + vt + 2);
  if (vsize < 4 || vsize % 2 != 0) {
    return ModelError(Fmt("vtable at offset %lld has invalid size %u", fb_ll(vt), vsize));
  }
  if (n_ - uint64_t(vt) < vsize) {
    return ModelError(Fmt("vtable at offset %lld (size %u) runs past the end of the file (size %llu)", fb_ll(vt),
                          vsize, fb_ull(n_)));
  }
  if (tsize < 4) return ModelError(Fmt("table at offset %llu has invalid size %u", fb_ull(pos), tsize));
  if (n_ - pos < tsize) {
    return ModelError(Fmt("table at offset %llu (size %u) runs past the end of the file (size %llu)", fb_ull(pos),
                          tsize, fb_ull(n_)));
  }
  t->pos = pos;
  t->vt = uint64_t(vt);
  t->vsize = vsize;
  t->tsize = tsize;
  return Status();
}

inline Status Reader::Scalar(const TableRef& t, int slot, uint32_t size, uint64_t def, uint64_t* out, const char* field) {
  *out = def;
  uint32_t fo = FieldOffset(t, slot);
  if (fo == 0) {
    *out = def;
    return Status();
  }
  uint64_t at = t.pos + fo;
  if (fo < 4 || fo + size > t.tsize || at % size != 0) return ScalarError(t, fo, size, field);
  switch (size) {
    case 1: *out = d_[at]; break;
    case 2: *out = LoadU16(d_ + at); break;
    case 4: *out = LoadU32(d_ + at); break;
    default: *out = LoadU64(d_ + at); break;
  }
  return Status();
}

inline Status Reader::Offset(const TableRef& t, int slot, uint64_t* target, bool* present, const char* field) {
  *present = false;
  *target = 0;
  uint32_t fo = FieldOffset(t, slot);
  if (fo == 0) return Status();
  if (fo < 4 || fo + 4 > t.tsize) {
    return ModelError(Fmt("field '%s' at offset %u lies outside its table (size %u) at %llu", field, fo, t.tsize,
                          fb_ull(t.pos)));
  }
  uint64_t at = t.pos + fo;
  if (at % 4 != 0) return ModelError(Fmt("field '%s' at %llu is misaligned", field, fb_ull(at)));
  uint64_t tgt = at + LoadU32(d_ + at);
  if (tgt >= n_) {
    return ModelError(Fmt("field '%s' points outside the file (to %llu, file size %llu)", field, fb_ull(tgt),
                          fb_ull(n_)));
  }
  *target = tgt;
  *present = true;
  return Status();
}

inline Status Reader::VectorAt(uint64_t pos, uint32_t elem_size, bool is_string, VecRef* v, const char* field) {
  if (pos >= n_ || n_ - pos < 4) {
    return ModelError(Fmt("%s '%s' at offset %llu lies outside the file (size %llu)",
                          is_string ? "string" : "vector", field, fb_ull(pos), fb_ull(n_)));
  }
  if (pos % 4 != 0) {
    return ModelError(Fmt("%s '%s' at offset %llu is misaligned", is_string ? "string" : "vector", field,
                          fb_ull(pos)));
  }
  uint32_t len = LoadU32(d_ + pos);
  uint64_t bytes = uint64_t(len) * elem_size + (is_string ? 1 : 0);
  if (bytes > n_ - pos - 4) {
    if (is_string) {
      return ModelError(Fmt("string '%s' at offset %llu of length %u runs past the end of the file (size %llu)",
                            field, fb_ull(pos), len, fb_ull(n_)));
    }
    return ModelError(Fmt("vector '%s' at offset %llu with %u elements of %u bytes runs past the end of the "
                          "file (size %llu)",
                          field, fb_ull(pos), len, elem_size, fb_ull(n_)));
  }
  if (is_string && d_[pos + 4 + len] != 0) {
    return ModelError(Fmt("string '%s' at offset %llu is not NUL-terminated", field, fb_ull(pos)));
  }
  v->data = pos + 4;
  v->len = len;
  v->present = true;
  return Status();
}

inline Status Reader::Vector(const TableRef& t, int slot, uint32_t elem_size, VecRef* v, const char* field) {
  *v = VecRef();
  uint64_t pos = 0;
  bool present = false;
  FB_RET(Offset(t, slot, &pos, &present, field));
  if (!present) return Status();
  return VectorAt(pos, elem_size, false, v, field);
}

inline Status Reader::String(const TableRef& t, int slot, VecRef* s, const char* field) {
  *s = VecRef();
  uint64_t pos = 0;
  bool present = false;
  FB_RET(Offset(t, slot, &pos, &present, field));
  if (!present) return Status();
  return VectorAt(pos, 1, true, s, field);
}

inline Status Reader::Child(const TableRef& t, int slot, TableRef* c, bool* present, const char* field) {
  uint64_t pos = 0;
  FB_RET(Offset(t, slot, &pos, present, field));
  if (!*present) return Status();
  Status st = Table(pos, c);
  if (!st.ok()) return ModelError(Fmt("field '%s'", field) + ": " + st.message());
  return Status();
}

inline Status Reader::VecTable(const VecRef& v, uint32_t i, TableRef* t) {
  uint64_t at = v.data + 4ull * i;
  uint64_t tgt = at + LoadU32(d_ + at);
  if (tgt >= n_) {
    return ModelError(Fmt("element points outside the file (to %llu, file size %llu)", fb_ull(tgt), fb_ull(n_)));
  }
  return Table(tgt, t);
}

#undef FB_RET

// Structure of the FlexBuffer of `size` bytes at absolute `begin` of the
// reader's data: every value, key, string, vector and map in bounds, bounded
// nesting, work paid from the reader's budget.
Status VerifyFlexBuffer(Reader& r, uint64_t begin, uint64_t size);

// One entry of a FlexBuffer map whose value is a scalar (int, uint, float,
// bool, inline or indirect). Other values (strings, vectors, maps) are listed
// with scalar = false.
struct FlexEntry {
  std::string key;
  bool scalar = false;
  bool is_float = false;
  double value = 0;  // the number (ints converted; exact below 2^53)
};

// The entries of the root map of a FlexBuffer that VerifyFlexBuffer accepted.
// A root that is not a map is a ModelError.
Status ReadFlexRootMap(Reader& r, uint64_t begin, uint64_t size, std::vector<FlexEntry>* out);

}  // namespace fb
}  // namespace edgerun
