// edgerun: bounds-checked flatbuffer / FlexBuffer reading (see flatbuffer_reader.h).

#include "model/flatbuffer_reader.h"

#include <cstdarg>
#include <cstdio>

namespace edgerun {
namespace fb {
namespace {

using ull = unsigned long long;

#define VRET(expr)                    \
  do {                                \
    ::edgerun::Status _vs = (expr);   \
    if (!_vs.ok()) return _vs;        \
  } while (0)

}  // namespace

std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return std::string("(formatting error)");
  return std::string(buf, size_t(n) < sizeof(buf) ? size_t(n) : sizeof(buf) - 1);
}

Status Reader::BudgetExceeded() const {
  return ModelError(Fmt("verification work limit exceeded (file of %llu bytes needs more than %llu "
                        "steps; sub-tables shared too many times?)",
                        ull(n_), ull(limit_)));
}

Status Reader::ScalarError(const TableRef& t, uint32_t fo, uint32_t size, const char* field) const {
  if (fo < 4 || fo + size > t.tsize) {
    return ModelError(Fmt("field '%s' at offset %u lies outside its table (size %u) at %llu", field, fo, t.tsize,
                          ull(t.pos)));
  }
  return ModelError(Fmt("field '%s' at %llu is misaligned", field, ull(t.pos + fo)));
}

std::string Reader::Printable(const VecRef& s) const {
  if (!s.present) return std::string();
  std::string out;
  uint32_t n = s.len < 48 ? s.len : 48;
  for (uint32_t i = 0; i < n; ++i) {
    char c = char(d_[s.data + i]);
    out += (c >= 32 && c < 127) ? c : '?';
  }
  if (s.len > n) out += "...";
  return out;
}

Status Reader::VerifyLayout(const TableRef& t, const TableLayout& layout) {
  static const char* const kSlotNames[] = {"slot 0",  "slot 1",  "slot 2",  "slot 3",  "slot 4",  "slot 5",
                                            "slot 6",  "slot 7",  "slot 8",  "slot 9",  "slot 10", "slot 11",
                                            "slot 12", "slot 13", "slot 14", "slot 15", "slot 16", "slot 17",
                                            "slot 18", "slot 19", "slot 20", "slot 21", "slot 22", "slot 23"};
  constexpr int kMaxSlots = int(sizeof(kSlotNames) / sizeof(kSlotNames[0]));
  for (int slot = 0; slot < kMaxSlots && layout.fields[slot] != '\0'; ++slot) {
    const char k = layout.fields[slot];
    const char* field = kSlotNames[slot];
    uint64_t scalar;
    VecRef v;
    switch (k) {
      case '1': case '2': case '4': case '8':
        VRET(Scalar(t, slot, uint32_t(k - '0'), 0, &scalar, field));
        break;
      case 'a': case 'b': case 'c': case 'd':
        VRET(Vector(t, slot, k == 'a' ? 1 : k == 'b' ? 2 : k == 'c' ? 4 : 8, &v, field));
        VRET(Spend(1));
        break;
      case 's':
        VRET(String(t, slot, &v, field));
        break;
      case 't': {
        TableRef c;
        bool present;
        VRET(Child(t, slot, &c, &present, field));
        break;
      }
      default:
        break;
    }
  }
  return Status();
}

// ---------------------------------------------------------------------------
// FlexBuffers (verify.cc uses them for the custom options of the custom
// operators the runtime implements itself, which parse them unchecked)
// ---------------------------------------------------------------------------
namespace {

class FlexVerifier {
 public:
  FlexVerifier(Reader& w, uint64_t begin, uint64_t size) : w_(w), b_(w.data() + begin), n_(size) {}

  Status Run() {
    if (n_ < 3) return ModelError(Fmt("FlexBuffer of %llu bytes is too small", ull(n_)));
    uint32_t root_width = b_[n_ - 1];
    if (root_width != 1 && root_width != 2 && root_width != 4 && root_width != 8) {
      return ModelError(Fmt("FlexBuffer root width %u is invalid", root_width));
    }
    if (n_ < 2ull + root_width) return ModelError("FlexBuffer is too small for its root");
    return Value(n_ - 2 - root_width, root_width, b_[n_ - 2], 0);
  }

 private:
  enum : uint32_t {
    kNull = 0, kInt = 1, kUInt = 2, kFloat = 3, kKey = 4, kString = 5, kIndirectInt = 6, kIndirectUInt = 7,
    kIndirectFloat = 8, kMap = 9, kVector = 10, kVectorInt = 11, kVectorUInt = 12, kVectorFloat = 13,
    kVectorKey = 14, kVectorStringDeprecated = 15, kVectorInt2 = 16, kVectorFloat4 = 24, kBlob = 25, kBool = 26,
    kVectorBool = 36,
  };

  bool Fits(uint64_t pos, uint64_t len) const { return pos <= n_ && len <= n_ - pos; }
  uint64_t ReadUInt(uint64_t pos, uint32_t width) const {
    switch (width) {
      case 1: return b_[pos];
      case 2: return LoadU16(b_ + pos);
      case 4: return LoadU32(b_ + pos);
      default: return LoadU64(b_ + pos);
    }
  }
  static bool ValidWidth(uint64_t w) { return w == 1 || w == 2 || w == 4 || w == 8; }

  // Follows the (backward) offset stored in the slot at `pos`.
  Status Target(uint64_t pos, uint32_t width, uint64_t* target) const {
    uint64_t off = ReadUInt(pos, width);
    if (off > pos) return ModelError(Fmt("FlexBuffer offset %llu at %llu points before the start", ull(off), ull(pos)));
    *target = pos - off;
    return Status();
  }
  // Size prefix (of `width` bytes) in front of `target`.
  Status Size(uint64_t target, uint32_t width, uint64_t* len) const {
    if (target < width) return ModelError(Fmt("FlexBuffer size field before %llu is out of range", ull(target)));
    *len = ReadUInt(target - width, width);
    return Status();
  }
  Status Key(uint64_t target) {
    // NUL-terminated; scan bounded by the buffer (and paid for).
    uint64_t i = target;
    while (i < n_ && b_[i] != 0) ++i;
    VRET(w_.Spend(1 + (i - target) / 16));
    if (i >= n_) return ModelError(Fmt("FlexBuffer key at %llu is not NUL-terminated", ull(target)));
    return Status();
  }
  Status Elements(uint64_t target, uint64_t len, uint32_t width, uint64_t extra_per_elem) {
    if (len > n_ || !Fits(target, len * (width + extra_per_elem))) {
      return ModelError(Fmt("FlexBuffer vector at %llu with %llu elements runs past the end", ull(target), ull(len)));
    }
    return w_.Spend(len);
  }

 public:
  // The root map's entries (the buffer has passed Run()).
  Status RootMap(std::vector<FlexEntry>* out) {
    out->clear();
    if (n_ < 3) return ModelError("FlexBuffer is too small");
    const uint32_t root_width = b_[n_ - 1];
    const uint8_t packed = b_[n_ - 2];
    if ((packed >> 2) != kMap) return ModelError(Fmt("custom options are not a FlexBuffer map (root type %u)", packed >> 2));
    const uint32_t width = 1u << (packed & 3);
    uint64_t target, len;
    VRET(Target(n_ - 2 - root_width, root_width, &target));
    VRET(Size(target, width, &len));
    uint64_t keys;
    VRET(Target(target - 3ull * width, width, &keys));
    const uint32_t keys_width = uint32_t(ReadUInt(target - 2ull * width, width));
    const uint64_t types = target + len * width;
    out->reserve(len);
    for (uint64_t i = 0; i < len; ++i) {
      FlexEntry e;
      uint64_t k;
      VRET(Target(keys + i * keys_width, keys_width, &k));
      const char* key = reinterpret_cast<const char*>(b_ + k);
      e.key.assign(key, strnlen(key, n_ - k));
      const uint8_t t = b_[types + i];
      const uint32_t type = t >> 2;
      uint64_t pos = target + i * width;
      uint32_t w = width;
      if (type == kIndirectInt || type == kIndirectUInt || type == kIndirectFloat) {
        VRET(Target(pos, width, &pos));
        w = 1u << (t & 3);
      }
      if (type == kInt || type == kIndirectInt) {
        uint64_t u = ReadUInt(pos, w);
        int64_t v = w == 8 ? int64_t(u) : (int64_t(u << (64 - 8 * w)) >> (64 - 8 * w));  // sign-extend
        e.scalar = true, e.value = double(v);
      } else if (type == kUInt || type == kIndirectUInt || type == kBool) {
        e.scalar = true, e.value = double(ReadUInt(pos, w));
      } else if (type == kFloat || type == kIndirectFloat) {
        e.scalar = true, e.is_float = true;
        if (w == 4) {
          uint32_t u = uint32_t(ReadUInt(pos, 4));
          float f;
          std::memcpy(&f, &u, 4);
          e.value = f;
        } else if (w == 8) {
          uint64_t u = ReadUInt(pos, 8);
          std::memcpy(&e.value, &u, 8);
        } else {
          return ModelError(Fmt("FlexBuffer map value '%s' is a %u-byte float", e.key.c_str(), w));
        }
      }
      out->push_back(std::move(e));
    }
    return Status();
  }

 private:
  Status Value(uint64_t pos, uint32_t parent_width, uint8_t packed, int depth) {
    VRET(w_.Spend(1));
    if (depth > 32) return ModelError("FlexBuffer nesting is too deep");
    if (!Fits(pos, parent_width)) return ModelError(Fmt("FlexBuffer value at %llu runs past the end", ull(pos)));
    const uint32_t type = packed >> 2;
    const uint32_t width = 1u << (packed & 3);
    if (type == kNull || type == kInt || type == kUInt || type == kFloat || type == kBool) return Status();
    uint64_t target, len;
    VRET(Target(pos, parent_width, &target));
    switch (type) {
      case kKey:
        return Key(target);
      case kString:
      case kBlob:
        VRET(Size(target, width, &len));
        if (!Fits(target, len) || (type == kString && (!Fits(target, len + 1) || b_[target + len] != 0))) {
          return ModelError(Fmt("FlexBuffer %s at %llu of length %llu is invalid", type == kString ? "string" : "blob",
                                ull(target), ull(len)));
        }
        return Status();
      case kIndirectInt:
      case kIndirectUInt:
      case kIndirectFloat:
        if (!Fits(target, width)) return ModelError(Fmt("FlexBuffer scalar at %llu runs past the end", ull(target)));
        return Status();
      case kVectorInt:
      case kVectorUInt:
      case kVectorFloat:
      case kVectorBool:
        VRET(Size(target, width, &len));
        return Elements(target, len, width, 0);
      case kVectorKey:
      case kVectorStringDeprecated:
        VRET(Size(target, width, &len));
        VRET(Elements(target, len, width, 0));
        for (uint64_t i = 0; i < len; ++i) {
          uint64_t t;
          VRET(Target(target + i * width, width, &t));
          if (type == kVectorKey) {
            VRET(Key(t));
          } else {
            uint64_t slen;
            VRET(Size(t, width, &slen));
            if (!Fits(t, slen + 1) || b_[t + slen] != 0) return ModelError("FlexBuffer string is invalid");
          }
        }
        return Status();
      case kMap:
      case kVector: {
        VRET(Size(target, width, &len));
        VRET(Elements(target, len, width, 1));  // values, then one type byte each
        if (type == kMap) {
          if (target < 3ull * width) return ModelError("FlexBuffer map header is out of range");
          uint64_t keys_field = target - 3ull * width;
          uint64_t keys;
          VRET(Target(keys_field, width, &keys));
          uint64_t keys_width = ReadUInt(target - 2ull * width, width);
          if (!ValidWidth(keys_width)) return ModelError("FlexBuffer map has an invalid key width");
          uint64_t klen;
          VRET(Size(keys, uint32_t(keys_width), &klen));
          if (klen != len) return ModelError("FlexBuffer map has different numbers of keys and values");
          VRET(Elements(keys, klen, uint32_t(keys_width), 0));
          for (uint64_t i = 0; i < klen; ++i) {
            uint64_t k;
            VRET(Target(keys + i * keys_width, uint32_t(keys_width), &k));
            VRET(Key(k));
          }
        }
        const uint64_t types = target + len * width;
        for (uint64_t i = 0; i < len; ++i) VRET(Value(target + i * width, width, b_[types + i], depth + 1));
        return Status();
      }
      default:
        if (type >= kVectorInt2 && type <= kVectorFloat4) {
          uint64_t count = (type - kVectorInt2) / 3 + 2;
          if (!Fits(target, count * width)) return ModelError("FlexBuffer fixed vector runs past the end");
          return Status();
        }
        return ModelError(Fmt("FlexBuffer value at %llu has unknown type %u", ull(pos), type));
    }
  }

  Reader& w_;
  const uint8_t* b_;
  uint64_t n_;
};

}  // namespace

Status VerifyFlexBuffer(Reader& r, uint64_t begin, uint64_t size) { return FlexVerifier(r, begin, size).Run(); }

Status ReadFlexRootMap(Reader& r, uint64_t begin, uint64_t size, std::vector<FlexEntry>* out) {
  return FlexVerifier(r, begin, size).RootMap(out);
}

#undef VRET

}  // namespace fb
}  // namespace edgerun
