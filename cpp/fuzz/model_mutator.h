// edgerun fuzzing: a structure-aware mutator for .tflite flatbuffers.
//
// libFuzzer's byte mutations mostly break the flatbuffer's structure, and the
// verifier rejects those in its first few checks. This mutator instead walks
// the model with the same bounds-checked reader the verifier uses
// (model/flatbuffer_reader.h), collects "sites" (the byte positions of fields
// whose meaning it knows) and rewrites a few of them in place, keeping the
// structure intact so that the mutant reaches the semantic checks (and, in
// fuzz_session, the runtime). Mutation classes (Kind below):
//  - tensor indices of operator / subgraph / signature inputs and outputs
//    (-1, 0, the last index, one past it, huge, or another site's value);
//  - operator opcode indices (any index, or swapped with another operator);
//  - builtin codes of operator codes (any builtin code, or another one's);
//  - tensor shape and shape-signature dims, tensor types, buffer indices,
//    is_variable flags;
//  - builtin options: the union type, and every scalar of the options table
//    (its layout comes from schema_tables.inc), and int32 vector elements;
//  - vector lengths (shortened; or grown by one element);
//  - vtable entries set to 0 (a field dropped: options, inputs, custom options);
//  - elements of vectors of tables (operators, tensors, subgraphs, operator
//    codes, buffers) re-pointed at a sibling: aliases and reorders;
//  - bytes of custom options (FlexBuffer) and of constant buffers.
// Everything is in place: the size never changes. A site whose bytes a
// previous mutation made unreadable is skipped by the walk of the next call.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "model/schema.h"

namespace edgerun {
namespace fuzz {

enum class Kind : uint8_t {
  kTensorIndex,   // int32, bound = tensors in the subgraph
  kOpcodeIndex,   // uint32, bound = operator codes
  kBuiltinCode,   // int32 (or int8 for the deprecated field)
  kDim,           // int32 shape / shape_signature element
  kType,          // int8 tensor type
  kBufferIndex,   // uint32, bound = buffers
  kBool,          // 1-byte flag
  kOptionsType,   // uint8 union type, bound = union members
  kScalar,        // option scalar of 1/2/4/8 bytes
  kVecLen,        // uint32 vector length, bound = the length
  kVtableEntry,   // uint16 field offset in a vtable
  kTableElem,     // uint32 uoffset in a vector of tables, group = the vector
  kByte,          // a payload byte (custom options, buffer data)
  kSubgraphIndex, // int32/uint32 subgraph reference, bound = subgraphs
  kCount
};

struct Site {
  uint64_t pos;
  uint32_t bound;  // see Kind
  uint32_t group;  // kTableElem: which vector (sites of one vector share it)
  Kind kind;
  uint8_t size;    // bytes
};

class ModelWalker {
 public:
  ModelWalker(const uint8_t* d, size_t n) : r_(d, n, uint64_t(1) << 22) {}

  // Collects the sites of the model; returns false when even the root is unreadable.
  bool Walk(std::vector<Site>* sites) {
    sites_ = sites;
    if (r_.size() < 8) return false;
    fb::TableRef model;
    if (!r_.Table(fb::LoadU32(r_.data()), &model).ok()) return false;
    Vtable(model);
    namespace sc = schema;
    uint32_t n_codes = 0, n_buffers = 0, n_subgraphs = 0;
    fb::VecRef codes, subgraphs, buffers, sigs;
    if (Vec(model, sc::Model::OperatorCodes, &codes)) n_codes = codes.len;
    if (Vec(model, sc::Model::Buffers, &buffers)) n_buffers = buffers.len;
    if (Vec(model, sc::Model::Subgraphs, &subgraphs)) n_subgraphs = subgraphs.len;
    for (uint32_t i = 0; i < n_codes && i < kMaxElems; ++i) {
      fb::TableRef c;
      if (!Elem(codes, i, &c)) continue;
      AddScalar(c, sc::OperatorCode::BuiltinCode.slot, 4, Kind::kBuiltinCode, 0);
      AddScalar(c, sc::OperatorCode::DeprecatedBuiltinCode.slot, 1, Kind::kBuiltinCode, 0);
      AddScalar(c, sc::OperatorCode::Version.slot, 4, Kind::kScalar, 0);
    }
    for (uint32_t i = 0; i < n_buffers && i < kMaxElems; ++i) {
      fb::TableRef b;
      if (!Elem(buffers, i, &b)) continue;
      fb::VecRef data;
      if (Vec(b, sc::Buffer::Data, &data)) Bytes(data, 1);
      AddScalar(b, sc::Buffer::Offset.slot, 8, Kind::kScalar, 0);
      AddScalar(b, sc::Buffer::Size.slot, 8, Kind::kScalar, 0);
    }
    for (uint32_t s = 0; s < n_subgraphs && s < kMaxElems; ++s) {
      fb::TableRef sg;
      if (!Elem(subgraphs, s, &sg)) continue;
      fb::VecRef tensors, ins, outs, ops;
      uint32_t n_tensors = Vec(sg, sc::SubGraph::Tensors, &tensors) ? tensors.len : 0;
      if (Vec(sg, sc::SubGraph::Inputs, &ins)) Ints(ins, Kind::kTensorIndex, n_tensors);
      if (Vec(sg, sc::SubGraph::Outputs, &outs)) Ints(outs, Kind::kTensorIndex, n_tensors);
      for (uint32_t t = 0; t < n_tensors && t < kMaxElems; ++t) {
        fb::TableRef tt;
        if (!Elem(tensors, t, &tt)) continue;
        fb::VecRef shape, sig;
        if (Vec(tt, sc::Tensor::Shape, &shape)) Ints(shape, Kind::kDim, 0);
        if (Vec(tt, sc::Tensor::ShapeSignature, &sig)) Ints(sig, Kind::kDim, 0);
        AddScalar(tt, sc::Tensor::Type.slot, 1, Kind::kType, 0);
        AddScalar(tt, sc::Tensor::Buffer.slot, 4, Kind::kBufferIndex, n_buffers);
        AddScalar(tt, sc::Tensor::IsVariable.slot, 1, Kind::kBool, 0);
        AddScalar(tt, sc::Tensor::HasRank.slot, 1, Kind::kBool, 0);
        fb::TableRef q;
        bool has_q = false;
        if (r_.Child(tt, sc::Tensor::Quantization, &q, &has_q, "q").ok() && has_q) {
          Vtable(q);
          fb::VecRef v;
          if (Vec(q, sc::QuantizationParameters::Scale, &v)) Ints(v, Kind::kScalar, 0);
          if (Vec(q, sc::QuantizationParameters::ZeroPoint, &v)) Ints(v, Kind::kScalar, 0);
          AddScalar(q, sc::QuantizationParameters::QuantizedDimension.slot, 4, Kind::kScalar, 0);
        }
      }
      uint32_t n_ops = Vec(sg, sc::SubGraph::Operators, &ops) ? ops.len : 0;
      for (uint32_t o = 0; o < n_ops && o < kMaxElems; ++o) {
        fb::TableRef op;
        if (!Elem(ops, o, &op)) continue;
        AddScalar(op, sc::Operator::OpcodeIndex.slot, 4, Kind::kOpcodeIndex, n_codes);
        fb::VecRef v;
        if (Vec(op, sc::Operator::Inputs, &v)) Ints(v, Kind::kTensorIndex, n_tensors);
        if (Vec(op, sc::Operator::Outputs, &v)) Ints(v, Kind::kTensorIndex, n_tensors);
        if (Vec(op, sc::Operator::Intermediates, &v)) Ints(v, Kind::kTensorIndex, n_tensors);
        if (Vec(op, sc::Operator::CustomOptions, &v)) Bytes(v, 1);
        Options(op, sc::Operator::BuiltinOptionsType.slot, sc::Operator::BuiltinOptions.slot, sc::kBuiltinOptions,
                sizeof(sc::kBuiltinOptions) / sizeof(sc::kBuiltinOptions[0]), n_subgraphs);
        Options(op, sc::Operator::BuiltinOptions2Type.slot, sc::Operator::BuiltinOptions2.slot, sc::kBuiltinOptions2,
                sizeof(sc::kBuiltinOptions2) / sizeof(sc::kBuiltinOptions2[0]), n_subgraphs);
      }
    }
    if (Vec(model, sc::Model::SignatureDefs, &sigs)) {
      for (uint32_t i = 0; i < sigs.len && i < kMaxElems; ++i) {
        fb::TableRef sd;
        if (!Elem(sigs, i, &sd)) continue;
        AddScalar(sd, sc::SignatureDef::SubgraphIndex.slot, 4, Kind::kSubgraphIndex, n_subgraphs);
        for (fb::VectorField f : {sc::SignatureDef::Inputs, sc::SignatureDef::Outputs}) {
          fb::VecRef maps;
          if (!Vec(sd, f, &maps)) continue;
          for (uint32_t m = 0; m < maps.len && m < kMaxElems; ++m) {
            fb::TableRef tm;
            if (!Elem(maps, m, &tm)) continue;
            AddScalar(tm, sc::TensorMap::TensorIndex.slot, 4, Kind::kTensorIndex, 0);
          }
        }
      }
    }
    return true;
  }

 private:
  static constexpr uint32_t kMaxElems = 4096;  // per vector: keeps a walk cheap on big models

  void Add(uint64_t pos, uint8_t size, Kind k, uint32_t bound, uint32_t group = 0) {
    sites_->push_back(Site{pos, bound, group, k, size});
  }
  void Vtable(const fb::TableRef& t) {
    // Every present field's vtable entry: zeroing one drops the field.
    for (uint32_t e = 4; e + 2 <= t.vsize; e += 2) {
      if (fb::LoadU16(r_.data() + t.vt + e) != 0) Add(t.vt + e, 2, Kind::kVtableEntry, 0);
    }
  }
  void AddScalar(const fb::TableRef& t, int slot, uint8_t size, Kind k, uint32_t bound) {
    uint32_t fo = r_.FieldOffset(t, slot);
    if (fo < 4 || fo + size > t.tsize) return;
    Add(t.pos + fo, size, k, bound);
  }
  bool Vec(const fb::TableRef& t, fb::VectorField f, fb::VecRef* v) {
    if (!r_.Vector(t, f, v, "v").ok() || !v->present) return false;
    Add(v->data - 4, 4, Kind::kVecLen, v->len);
    return true;
  }
  bool Elem(const fb::VecRef& v, uint32_t i, fb::TableRef* t) {
    Add(v.data + 4ull * i, 4, Kind::kTableElem, v.len, uint32_t(v.data));
    if (!r_.VecTable(v, i, t).ok()) return false;
    Vtable(*t);
    return true;
  }
  void Ints(const fb::VecRef& v, Kind k, uint32_t bound) {
    for (uint32_t i = 0; i < v.len && i < kMaxElems; ++i) Add(v.data + 4ull * i, 4, k, bound);
  }
  void Bytes(const fb::VecRef& v, uint32_t) {
    // A few payload bytes, not all: constant data would drown the other sites.
    for (uint32_t i = 0; i < v.len && i < 64; ++i) Add(v.data + i, 1, Kind::kByte, 0);
  }
  void Options(const fb::TableRef& op, int type_slot, int table_slot, const fb::TableLayout* layouts,
               size_t n_layouts, uint32_t n_subgraphs) {
    AddScalar(op, type_slot, 1, Kind::kOptionsType, uint32_t(n_layouts));
    uint64_t type = 0;
    if (!r_.Scalar(op, type_slot, 1, 0, &type, "t").ok() || type == 0 || type >= n_layouts) return;
    fb::TableRef o;
    bool present = false;
    if (!r_.Child(op, table_slot, &o, &present, "o").ok() || !present) return;
    Vtable(o);
    const char* f = layouts[type].fields;
    for (int slot = 0; f[slot]; ++slot) {
      switch (f[slot]) {
        case '1': AddScalar(o, slot, 1, Kind::kScalar, 0); break;
        case '2': AddScalar(o, slot, 2, Kind::kScalar, 0); break;
        // 4-byte option scalars are often subgraph indices (WHILE, IF, CALL_ONCE):
        // half of the time mutate them as such.
        case '4': AddScalar(o, slot, 4, (slot & 1) ? Kind::kSubgraphIndex : Kind::kScalar, n_subgraphs); break;
        case '8': AddScalar(o, slot, 8, Kind::kScalar, 0); break;
        case 'c': {
          fb::VecRef v;
          if (r_.Vector(o, slot, 4, &v, "v").ok() && v.present) {
            Add(v.data - 4, 4, Kind::kVecLen, v.len);
            Ints(v, Kind::kScalar, 0);
          }
          break;
        }
        default: break;
      }
    }
  }

  fb::Reader r_;
  std::vector<Site>* sites_ = nullptr;
};

inline void Store(uint8_t* d, const Site& s, uint64_t v) {
  for (uint8_t i = 0; i < s.size; ++i) d[s.pos + i] = uint8_t(v >> (8 * i));
}
inline uint64_t Load(const uint8_t* d, const Site& s) {
  uint64_t v = 0;
  for (uint8_t i = 0; i < s.size; ++i) v |= uint64_t(d[s.pos + i]) << (8 * i);
  return v;
}

// An index-like value: in range, at the edges, out of range, or negative.
inline int64_t IndexValue(std::mt19937& rng, uint32_t bound) {
  switch (rng() % 8) {
    case 0: return -1;
    case 1: return 0;
    case 2: return int64_t(bound) - 1;
    case 3: return bound;
    case 4: return int64_t(bound) + 1 + rng() % 16;
    case 5: return (rng() & 1) ? INT32_MAX : INT32_MIN;
    default: return bound ? int64_t(rng() % bound) : 0;
  }
}

inline int64_t DimValue(std::mt19937& rng, int64_t old) {
  static const int64_t kDims[] = {0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 1 << 16, 1 << 20, 1 << 30, INT32_MAX, -1, -2};
  switch (rng() % 4) {
    case 0: return old + 1;
    case 1: return old - 1;
    case 2: return old * 2;
    default: return kDims[rng() % (sizeof(kDims) / sizeof(kDims[0]))];
  }
}

inline uint64_t ScalarValue(std::mt19937& rng, uint64_t old, uint8_t size) {
  const uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1);
  switch (rng() % 8) {
    case 0: return old ^ (1ull << (rng() % (8 * size)));
    case 1: return old + 1;
    case 2: return old - 1;
    case 3: return 0;
    case 4: return mask;                    // -1
    case 5: return mask >> 1;               // max positive
    case 6: return (mask >> 1) + 1;         // min negative
    default: return rng() % 300;            // small: enum values, sizes
  }
}

// Applies one mutation at a random site; false when nothing could be done.
inline bool MutateOnce(uint8_t* d, size_t n, const std::vector<Site>& sites, std::mt19937& rng) {
  if (sites.empty()) return false;
  const Site& s = sites[rng() % sites.size()];
  if (s.pos + s.size > n) return false;
  // A site of the same kind (for swaps / copies): a few random probes.
  auto same_kind = [&](bool same_group) -> const Site* {
    for (int tries = 0; tries < 16; ++tries) {
      const Site& o = sites[rng() % sites.size()];
      if (&o != &s && o.kind == s.kind && o.size == s.size && (!same_group || o.group == s.group)) return &o;
    }
    return nullptr;
  };
  const uint64_t old = Load(d, s);
  switch (s.kind) {
    case Kind::kTensorIndex:
    case Kind::kOpcodeIndex:
    case Kind::kBufferIndex:
    case Kind::kSubgraphIndex:
    case Kind::kBuiltinCode:
      if (rng() % 3 == 0) {
        if (const Site* o = same_kind(false)) {
          uint64_t ov = Load(d, *o);
          if (s.kind == Kind::kOpcodeIndex && (rng() & 1)) Store(d, *o, old);  // swap
          Store(d, s, ov);
          return true;
        }
      }
      if (s.kind == Kind::kBuiltinCode) {
        Store(d, s, s.size == 1 ? rng() % 128 : rng() % 220);
      } else {
        Store(d, s, uint64_t(IndexValue(rng, s.bound)));
      }
      return true;
    case Kind::kDim:
      Store(d, s, uint64_t(DimValue(rng, int32_t(uint32_t(old)))));
      return true;
    case Kind::kType:
      Store(d, s, rng() % 25);
      return true;
    case Kind::kBool:
      Store(d, s, old ? 0 : 1);
      return true;
    case Kind::kOptionsType:
      Store(d, s, (rng() & 3) ? rng() % (s.bound + 2) : 0);
      return true;
    case Kind::kScalar:
      Store(d, s, ScalarValue(rng, old, s.size));
      return true;
    case Kind::kVecLen:
      if (s.bound == 0 || (rng() % 4) == 0) {
        Store(d, s, old + 1);
      } else {
        Store(d, s, rng() % s.bound);
      }
      return true;
    case Kind::kVtableEntry:
      Store(d, s, 0);
      return true;
    case Kind::kTableElem: {
      // Re-point this element at a sibling's table (an alias), or swap the two.
      const Site* o = same_kind(true);
      if (!o) return false;
      const uint64_t target_o = o->pos + Load(d, *o);
      const uint64_t target_s = s.pos + old;
      if (target_o <= s.pos) return false;  // uoffsets point forward only
      Store(d, s, target_o - s.pos);
      if ((rng() & 1) && target_s > o->pos) Store(d, *o, target_s - o->pos);
      return true;
    }
    case Kind::kByte:
      Store(d, s, (rng() & 1) ? (old ^ (1u << (rng() % 8))) : rng() % 256);
      return true;
    case Kind::kCount:
      break;
  }
  return false;
}

// Mutates `d` (n bytes) in place with 1-4 structure-aware mutations; false
// when the model's root could not be read (the caller then mutates bytes).
inline bool MutateModel(uint8_t* d, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Site> sites;
  {
    ModelWalker w(d, n);
    if (!w.Walk(&sites) || sites.empty()) return false;
  }
  const int count = 1 + int(rng() % 4);
  bool any = false;
  for (int i = 0; i < count; ++i) any |= MutateOnce(d, n, sites, rng);
  return any;
}

}  // namespace fuzz
}  // namespace edgerun
