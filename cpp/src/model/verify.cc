// edgerun: verification of .tflite model bytes (see edgerun/verify.h).
//
// The TFLite checks, written against the generic reader of
// model/flatbuffer_reader.h (bounds, alignment, work budget, FlexBuffers) and
// the schema facts generated into model/schema_tables.inc (field slots, types,
// defaults, enum values, option-table layouts) from the installed
// ai_edge_litert/schema_py_generated.py by tools/gen_schema_tables.py.
// Conventions:
//  - the walk follows the fixed shape of the schema (Model -> SubGraph -> Tensor
//    -> QuantizationParameters -> details ...), so there is no recursion at all;
//  - every table visited and every vector element examined costs one unit of
//    the reader's work budget, so the time is linear in the file size even for
//    files that point many offsets at the same sub-table;
//  - errors carry the place (subgraph / tensor / operator / field) and the
//    offending value.

#include "edgerun/verify.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "model/schema.h"

namespace edgerun {
namespace {

using fb::Fmt;
using fb::LoadU32;
using fb::LoadU64;
using fb::TableRef;
using fb::VecRef;
namespace sc = schema;

// Bytes per element of each TensorType; 0 = variable size (string, resource,
// variant); sub-byte types (int4, uint4, int2) are listed as 1 and handled apart.
constexpr uint8_t kTensorTypeSize[] = {
    4,   // FLOAT32
    2,   // FLOAT16
    4,   // INT32
    1,   // UINT8
    8,   // INT64
    0,   // STRING
    1,   // BOOL
    2,   // INT16
    8,   // COMPLEX64
    1,   // INT8
    8,   // FLOAT64
    16,  // COMPLEX128
    8,   // UINT64
    0,   // RESOURCE
    0,   // VARIANT
    4,   // UINT32
    2,   // UINT16
    1,   // INT4 (packed two per byte, or one per byte)
    2,   // BFLOAT16
    1,   // INT2 (packed four per byte, or one per byte)
    1,   // UINT4 (packed two per byte, or one per byte)
    1,   // FLOAT8_E4M3FN
    1,   // FLOAT8_E5M2
};
constexpr int kNumBuiltinOptions = int(sizeof(sc::kBuiltinOptions) / sizeof(sc::kBuiltinOptions[0]));
constexpr int kNumBuiltinOptions2 = int(sizeof(sc::kBuiltinOptions2) / sizeof(sc::kBuiltinOptions2[0]));
constexpr int kNumBuiltinOperators = int(sizeof(sc::kBuiltinOperatorNames) / sizeof(sc::kBuiltinOperatorNames[0]));
constexpr int kNumTensorTypes = int(sizeof(sc::kTensorTypeNames) / sizeof(sc::kTensorTypeNames[0]));
static_assert(sizeof(kTensorTypeSize) == kNumTensorTypes,
              "one size per tensor type: a new TensorType in the schema needs its size here");
static_assert(kNumBuiltinOptions == sc::BuiltinOptions_MAX + 1, "BuiltinOptions values are 0..n-1");
static_assert(kNumBuiltinOptions2 == sc::BuiltinOptions2_MAX + 1, "BuiltinOptions2 values are 0..n-1");

const char* OpName(int32_t code) {
  return code >= 0 && code < kNumBuiltinOperators ? sc::kBuiltinOperatorNames[code] : "?";
}
const char* TypeName(int type) {
  return type >= 0 && type < kNumTensorTypes ? sc::kTensorTypeNames[type] : "?";
}

// Shape rules of common operators, checked when every shape involved is static:
// the runtime re-infers output shapes, and an output that grows beyond its
// declared shape overruns buffers sized from the model (LiteRT CompiledModel).
enum : uint8_t { kRuleNone = 0, kRuleSameShape = 1, kRuleBroadcast = 2, kRulePad = 3, kRuleResize = 4 };
const uint8_t* ShapeRules() {
  static const std::vector<uint8_t> rules = [] {
    using namespace schema;  // BuiltinOperator_*
    static const int32_t kSameShape[] = {
        BuiltinOperator_QUANTIZE, BuiltinOperator_DEQUANTIZE, BuiltinOperator_LOGISTIC, BuiltinOperator_TANH,
        BuiltinOperator_RELU, BuiltinOperator_RELU6, BuiltinOperator_RELU_N1_TO_1, BuiltinOperator_RELU_0_TO_1,
        BuiltinOperator_ELU, BuiltinOperator_HARD_SWISH, BuiltinOperator_LEAKY_RELU, BuiltinOperator_ABS,
        BuiltinOperator_NEG, BuiltinOperator_EXP, BuiltinOperator_LOG, BuiltinOperator_SQRT, BuiltinOperator_RSQRT,
        BuiltinOperator_SQUARE, BuiltinOperator_SIN, BuiltinOperator_COS, BuiltinOperator_FLOOR,
        BuiltinOperator_CEIL, BuiltinOperator_ROUND, BuiltinOperator_SIGN, BuiltinOperator_CAST,
        BuiltinOperator_LOGICAL_NOT, BuiltinOperator_GELU, BuiltinOperator_SOFTMAX, BuiltinOperator_LOG_SOFTMAX,
        BuiltinOperator_L2_NORMALIZATION, BuiltinOperator_LOCAL_RESPONSE_NORMALIZATION,
        BuiltinOperator_ZEROS_LIKE};
    static const int32_t kBroadcast[] = {
        BuiltinOperator_ADD, BuiltinOperator_SUB, BuiltinOperator_MUL, BuiltinOperator_DIV,
        BuiltinOperator_MAXIMUM, BuiltinOperator_MINIMUM, BuiltinOperator_SQUARED_DIFFERENCE, BuiltinOperator_POW,
        BuiltinOperator_FLOOR_DIV, BuiltinOperator_FLOOR_MOD, BuiltinOperator_LESS, BuiltinOperator_LESS_EQUAL,
        BuiltinOperator_GREATER, BuiltinOperator_GREATER_EQUAL, BuiltinOperator_EQUAL, BuiltinOperator_NOT_EQUAL,
        BuiltinOperator_LOGICAL_AND, BuiltinOperator_LOGICAL_OR};
    static const int32_t kPad[] = {BuiltinOperator_PAD, BuiltinOperator_PADV2,
                                   BuiltinOperator_MIRROR_PAD};  // constant paddings
    static const int32_t kResize[] = {BuiltinOperator_RESIZE_BILINEAR,
                                      BuiltinOperator_RESIZE_NEAREST_NEIGHBOR};  // constant size
    std::vector<uint8_t> r(kNumBuiltinOperators, kRuleNone);
    for (int32_t c : kSameShape) r[c] = kRuleSameShape;
    for (int32_t c : kBroadcast) r[c] = kRuleBroadcast;
    for (int32_t c : kPad) r[c] = kRulePad;
    for (int32_t c : kResize) r[c] = kRuleResize;
    return r;
  }();
  return rules.data();
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------
using ull = unsigned long long;
using ll = long long;

Status Wrap(const Status& s, const std::string& where) {
  return ModelError(where + ": " + s.message());
}

// Return early with a context prefix; the context is formatted only on error.
#define VTRY(expr, ...)                                   \
  do {                                                    \
    ::edgerun::Status _vs = (expr);                       \
    if (!_vs.ok()) return Wrap(_vs, Fmt(__VA_ARGS__));    \
  } while (0)

#define VRET(expr)                    \
  do {                                \
    ::edgerun::Status _vs = (expr);   \
    if (!_vs.ok()) return _vs;        \
  } while (0)

// ---------------------------------------------------------------------------
// Model-level state collected during the walk
// ---------------------------------------------------------------------------
struct BufferInfo {
  uint64_t pos = 0;   // absolute position of the bytes
  uint64_t size = 0;  // number of bytes (0 = no data)
};

struct VerifiedTensor {
  VecRef shape;               // verified int32 vector (may be absent)
  uint32_t buffer = 0;        // buffer index (valid when has_data)
  int8_t type = 0;
  bool is_variable = false;
  bool has_data = false;       // non-empty buffer
  bool sparse = false;         // has sparsity parameters
  bool dynamic = false;        // some dim is -1 in the shape or the shape signature
  bool zero_elements = false;  // static shape with a 0 dim (needs no data)
};

// What the model-level passes (value-dependent shapes, variables) need of one
// operator: collected during the walk, so they read no byte of the file again.
struct OpRecord {
  int32_t code = 0;
  std::vector<int32_t> in, out;
  std::string var_key;  // VAR_HANDLE: container + '\0' + shared_name
};

struct SubgraphInfo {
  uint32_t ntensors = 0;
  std::vector<int32_t> callees;  // subgraphs referenced by its operators
  std::vector<VerifiedTensor> tensors;
  std::vector<int32_t> inputs, outputs;
  std::vector<OpRecord> ops;
};

// A shape vector inside the file (verified int32 vector), shortened after 12
// dims: "[1,224,224,3]". (edgerun::ShapeString formats runtime shapes.)
std::string FlatShapeString(fb::Reader& w, const VecRef& shape) {
  std::string s = "[";
  uint32_t n = shape.len < 12 ? shape.len : 12;
  for (uint32_t i = 0; i < n; ++i) {
    if (i) s += ",";
    s += std::to_string(w.VI32(shape, i));
  }
  if (shape.len > n) s += ",...";
  s += "]";
  return s;
}

class ModelVerifier {
 public:
  ModelVerifier(const uint8_t* d, size_t n, const VerifyOptions& o, uint64_t budget)
      : w_(d, n, budget), o_(o) {}

  Status Run();

 private:
  Status VerifyBuffers(const TableRef& model);
  Status VerifyOperatorCodes(const TableRef& model);
  Status VerifySubgraph(uint32_t si, const TableRef& sg);
  Status VerifyTensor(uint32_t si, uint32_t ti, const TableRef& t, uint32_t ntensors, VerifiedTensor* info);
  Status VerifyQuantization(const TableRef& q, const VecRef& shape, uint32_t ntensors);
  Status VerifySparsity(const TableRef& sp, const VecRef& shape, uint64_t* stored);
  Status VerifyIndexVector(const TableRef& dm, fb::ScalarField<uint8_t> type_field, fb::TableField value_field,
                           const char* what, VecRef* v,
                           uint32_t* elem_size);
  Status VerifyStringBuffer(const BufferInfo& b, uint64_t elements);
  Status VerifyOperator(uint32_t si, uint32_t oi, const TableRef& op, const std::vector<VerifiedTensor>& tensors,
                        std::vector<uint8_t>* produced, const std::vector<uint8_t>& is_input,
                        SubgraphInfo* sginfo);
  Status CheckSubgraphRef(int64_t index, const char* what, SubgraphInfo* sginfo);
  template <class Where>
  Status CheckShapeRule(uint8_t rule, const VecRef& inputs, const VecRef& outputs,
                        const std::vector<VerifiedTensor>& tensors, const Where& where) {
    if (rule == kRulePad || rule == kRuleResize) return CheckConstShapeRule(rule, inputs, outputs, tensors, where);
    const uint32_t nin = rule == kRuleBroadcast ? 2 : 1;
    if (inputs.len < nin || outputs.len < 1) return Status();  // the kernel reports it
    int32_t idx[3] = {w_.VI32(inputs, 0), nin > 1 ? w_.VI32(inputs, 1) : 0, w_.VI32(outputs, 0)};
    const VerifiedTensor* t[3];
    for (uint32_t k = 0; k < 3; ++k) {
      if (k == 1 && nin < 2) {
        t[k] = nullptr;
        continue;
      }
      if (idx[k] < 0) return Status();
      t[k] = &tensors[idx[k]];
      if (t[k]->dynamic || t[k]->shape.len == 0) return Status();
    }
    const VecRef& out = t[2]->shape;
    auto dim = [&](const VecRef& v, uint32_t from_right) -> int32_t {  // 1 beyond the rank
      return from_right < v.len ? w_.VI32(v, v.len - 1 - from_right) : 1;
    };
    if (rule == kRuleSameShape) {
      const VecRef& in = t[0]->shape;
      if (!ShapeEq(in, out)) {
        return ModelError(where() + Fmt(": output tensor %d has shape %s, but input tensor %d has shape %s", idx[2],
                                        FlatShapeString(w_, out).c_str(), idx[0], FlatShapeString(w_, in).c_str()));
      }
      return Status();
    }
    const VecRef& a = t[0]->shape;
    const VecRef& b = t[1]->shape;
    const uint32_t rank = a.len > b.len ? a.len : b.len;
    bool ok = out.len == rank;
    for (uint32_t i = 0; i < rank; ++i) {
      int32_t x = dim(a, i), y = dim(b, i);
      if (x != y && x != 1 && y != 1) {
        return ModelError(where() + Fmt(": input shapes %s and %s do not broadcast", FlatShapeString(w_, a).c_str(),
                                        FlatShapeString(w_, b).c_str()));
      }
      int32_t z = x == 1 ? y : x;
      if (ok && dim(out, i) != z) ok = false;
    }
    if (!ok) {
      std::string expected = "[";
      for (uint32_t i = rank; i-- > 0;) {
        int32_t x = dim(a, i), y = dim(b, i);
        expected += std::to_string(x == 1 ? y : x) + (i ? "," : "]");
      }
      return ModelError(where() + Fmt(": output tensor %d has shape %s, but inputs %s and %s broadcast to %s",
                                      idx[2], FlatShapeString(w_, out).c_str(), FlatShapeString(w_, a).c_str(),
                                      FlatShapeString(w_, b).c_str(), expected.c_str()));
    }
    return Status();
  }

  // Output shape = f(input shape, constant second input): PAD family (paddings
  // [rank, 2]) and RESIZE family (size [2] of an NHWC input).
  template <class Where>
  Status CheckConstShapeRule(uint8_t rule, const VecRef& inputs, const VecRef& outputs,
                             const std::vector<VerifiedTensor>& tensors, const Where& where) {
    if (inputs.len < 2 || outputs.len < 1) return Status();
    const int32_t in = w_.VI32(inputs, 0), param = w_.VI32(inputs, 1), out = w_.VI32(outputs, 0);
    if (in < 0 || param < 0) return Status();
    const VerifiedTensor& ti = tensors[in];
    const VerifiedTensor& tp = tensors[param];
    const VerifiedTensor& to = tensors[out];
    if (ti.dynamic || to.dynamic || !tp.has_data || tp.sparse || ti.shape.len == 0) return Status();
    const int psize = tp.type == sc::TensorType_INT32 ? 4 : tp.type == sc::TensorType_INT64 ? 8 : 0;
    if (psize == 0) return Status();
    const BufferInfo& b = buffers_[tp.buffer];
    const uint8_t* p = w_.data() + b.pos;
    auto param_at = [&](uint64_t i) -> int64_t {
      return psize == 4 ? int64_t(int32_t(LoadU32(p + 4 * i))) : int64_t(LoadU64(p + 8 * i));
    };
    const uint32_t rank = ti.shape.len;
    std::vector<int64_t> expected(rank);
    for (uint32_t i = 0; i < rank; ++i) expected[i] = w_.VI32(ti.shape, i);
    if (rule == kRulePad) {
      if (b.size != uint64_t(rank) * 2 * psize) return Status();  // shape [rank, 2] (buffer size verified)
      for (uint32_t i = 0; i < rank; ++i) {
        int64_t lo = param_at(2 * i), hi = param_at(2 * i + 1);
        if (lo < 0 || hi < 0 || lo > INT32_MAX || hi > INT32_MAX) {
          return ModelError(where() + Fmt(": padding [%lld, %lld] of dimension %u is invalid", ll(lo), ll(hi), i));
        }
        expected[i] += lo + hi;
      }
    } else {
      if (rank != 4 || b.size != 2ull * psize) return Status();
      expected[1] = param_at(0);
      expected[2] = param_at(1);
    }
    bool same = to.shape.len == rank;
    for (uint32_t i = 0; same && i < rank; ++i) same = int64_t(w_.VI32(to.shape, i)) == expected[i];
    if (!same) {
      std::string e = "[";
      for (uint32_t i = 0; i < rank; ++i) e += std::to_string(expected[i]) + (i + 1 < rank ? "," : "]");
      return ModelError(where() + Fmt(": output tensor %d has shape %s, but input %s with constant %s tensor %d "
                                      "gives %s",
                                      out, FlatShapeString(w_, to.shape).c_str(), FlatShapeString(w_, ti.shape).c_str(),
                                      rule == kRulePad ? "paddings" : "size", param, e.c_str()));
    }
    return Status();
  }

  bool IsFlexbufferCustomOp(const VecRef& name) const {
    static const char* const kNames[] = {"TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"};
    if (!name.present) return false;
    for (const char* n : kNames) {
      if (name.len == std::strlen(n) && std::memcmp(w_.data() + name.data, n, name.len) == 0) return true;
    }
    return false;
  }
  Status VerifyBuiltinCustomOp(const std::string& name, uint64_t begin, uint64_t size, const VecRef& inputs,
                               const VecRef& outputs, const std::vector<VerifiedTensor>& tensors,
                               const std::string& where);
  Status CheckValueDependentShapes();
  Status CheckVariables();
  bool ShapeEq(const VecRef& a, const VecRef& b) {
    if (a.len != b.len) return false;
    for (uint32_t i = 0; i < a.len; ++i)
      if (w_.VI32(a, i) != w_.VI32(b, i)) return false;
    return true;
  }
  int64_t Dim(const VerifiedTensor& t, uint32_t i) { return i < t.shape.len ? w_.VI32(t.shape, i) : -1; }
  Status VerifySignatures(const TableRef& model);
  Status VerifyMetadata(const TableRef& model);
  Status VerifyExternalBuffers(const TableRef& model);
  Status CheckCallGraph();

  fb::Reader w_;
  const VerifyOptions& o_;
  std::vector<BufferInfo> buffers_;
  std::vector<int32_t> opcodes_;  // effective builtin code per operator code
  std::vector<VecRef> custom_codes_;  // custom_code string per operator code
  std::vector<SubgraphInfo> subgraphs_;
  std::vector<uint32_t> external_buffer_ids_;
  uint32_t nsubgraphs_ = 0;
  uint64_t tensor_bytes_ = 0;  // bytes of the non-constant tensors seen so far
};

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------
Status ModelVerifier::Run() {
  const uint8_t* d = w_.data();
  const uint64_t n = w_.size();
  if (n < 16) return ModelError(Fmt("file too small to be a TFLite model (%llu bytes)", ull(n)));
  if (std::memcmp(d + 4, "TFL3", 4) != 0) {
    return ModelError("not a TFLite model: file identifier (bytes 4..8) is not \"TFL3\"");
  }
  TableRef model;
  VTRY(w_.Table(LoadU32(d), &model), "model root table");

  uint32_t version;
  VTRY(w_.Read(model, sc::Model::Version, &version, "version"), "model");
  if (version != 3) return ModelError(Fmt("model: schema version %u is not supported (expected 3)", version));

  VecRef desc;
  VTRY(w_.String(model, sc::Model::Description, &desc, "description"), "model");

  VRET(VerifyExternalBuffers(model));
  VRET(VerifyBuffers(model));
  VRET(VerifyOperatorCodes(model));

  VecRef sgs;
  VTRY(w_.Vector(model, sc::Model::Subgraphs, &sgs, "subgraphs"), "model");
  if (!sgs.present || sgs.len == 0) return ModelError("model has no subgraphs");
  nsubgraphs_ = sgs.len;
  VRET(w_.Spend(sgs.len));
  subgraphs_.resize(sgs.len);
  for (uint32_t si = 0; si < sgs.len; ++si) {
    TableRef sg;
    VTRY(w_.VecTable(sgs, si, &sg), "subgraph %u", si);
    VRET(VerifySubgraph(si, sg));
  }
  VRET(VerifySignatures(model));
  VRET(VerifyMetadata(model));
  VRET(CheckCallGraph());
  VRET(CheckVariables());
  if (!o_.allow_value_dependent_shapes) VRET(CheckValueDependentShapes());
  return Status();
}

Status ModelVerifier::VerifyBuffers(const TableRef& model) {
  VecRef bufs;
  VTRY(w_.Vector(model, sc::Model::Buffers, &bufs, "buffers"), "model");
  if (!bufs.present) return Status();
  VRET(w_.Spend(bufs.len));
  buffers_.resize(bufs.len);
  const uint64_t n = w_.size();
  for (uint32_t bi = 0; bi < bufs.len; ++bi) {
    TableRef b;
    VTRY(w_.VecTable(bufs, bi, &b), "buffer %u", bi);
    VecRef data;
    uint64_t offset, size;
    VTRY(w_.Vector(b, sc::Buffer::Data, &data, "data"), "buffer %u", bi);
    VTRY(w_.Read(b, sc::Buffer::Offset, &offset, "offset"), "buffer %u", bi);
    VTRY(w_.Read(b, sc::Buffer::Size, &size, "size"), "buffer %u", bi);
    BufferInfo& info = buffers_[bi];
    if (offset > 1) {
      // Large-model layout: the bytes live after the flatbuffer, `offset` from the start of the file.
      if (data.present && data.len > 0) {
        return ModelError(Fmt("buffer %u has both inline data (%u bytes) and an external offset %llu", bi,
                              data.len, ull(offset)));
      }
      if (offset > n || size > n - offset) {
        return ModelError(Fmt("buffer %u: external data at offset %llu with size %llu lies outside the file "
                              "(size %llu)",
                              bi, ull(offset), ull(size), ull(n)));
      }
      info.pos = offset;
      info.size = size;
    } else {
      info.pos = data.data;
      info.size = data.present ? data.len : 0;
    }
  }
  return Status();
}

Status ModelVerifier::VerifyOperatorCodes(const TableRef& model) {
  VecRef codes;
  VTRY(w_.Vector(model, sc::Model::OperatorCodes, &codes, "operator_codes"), "model");
  if (!codes.present) return Status();
  VRET(w_.Spend(codes.len));
  opcodes_.resize(codes.len);
  custom_codes_.resize(codes.len);
  for (uint32_t ci = 0; ci < codes.len; ++ci) {
    TableRef c;
    VTRY(w_.VecTable(codes, ci, &c), "operator code %u", ci);
    int8_t deprecated_code;
    int32_t code, version;
    VecRef custom;
    VTRY(w_.Read(c, sc::OperatorCode::DeprecatedBuiltinCode, &deprecated_code, "deprecated_builtin_code"),
         "operator code %u", ci);
    VTRY(w_.String(c, sc::OperatorCode::CustomCode, &custom, "custom_code"), "operator code %u", ci);
    VTRY(w_.Read(c, sc::OperatorCode::Version, &version, "version"), "operator code %u", ci);
    VTRY(w_.Read(c, sc::OperatorCode::BuiltinCode, &code, "builtin_code"), "operator code %u", ci);
    if (deprecated_code < 0) {
      return ModelError(Fmt("operator code %u: deprecated_builtin_code %d is not a builtin operator", ci,
                            int(deprecated_code)));
    }
    if (code < 0 || code >= kNumBuiltinOperators) {
      return ModelError(Fmt("operator code %u: builtin_code %d is not a known builtin operator (0..%d)", ci, code,
                            kNumBuiltinOperators - 1));
    }
    // The runtime uses the larger of the two fields (older files fill only the deprecated one).
    int32_t effective = code > deprecated_code ? code : int32_t(deprecated_code);
    if (effective == sc::BuiltinOperator_PLACEHOLDER_FOR_GREATER_OP_CODES) {
      return ModelError(Fmt("operator code %u: deprecated_builtin_code says the operator is in builtin_code, "
                            "but builtin_code is %d",
                            ci, code));
    }
    if (version < 1 || version > 1000) {
      return ModelError(Fmt("operator code %u (%s): version %d is out of range (1..1000)", ci, OpName(effective),
                            version));
    }
    if (effective == sc::BuiltinOperator_CUSTOM && (!custom.present || custom.len == 0)) {
      return ModelError(Fmt("operator code %u: CUSTOM operator without a custom_code name", ci));
    }
    opcodes_[ci] = effective;
    custom_codes_[ci] = custom;
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Subgraph
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifySubgraph(uint32_t si, const TableRef& sg) {
  VecRef tensors, inputs, outputs, ops, name;
  VTRY(w_.Vector(sg, sc::SubGraph::Tensors, &tensors, "tensors"), "subgraph %u", si);
  VTRY(w_.Vector(sg, sc::SubGraph::Inputs, &inputs, "inputs"), "subgraph %u", si);
  VTRY(w_.Vector(sg, sc::SubGraph::Outputs, &outputs, "outputs"), "subgraph %u", si);
  VTRY(w_.Vector(sg, sc::SubGraph::Operators, &ops, "operators"), "subgraph %u", si);
  VTRY(w_.String(sg, sc::SubGraph::Name, &name, "name"), "subgraph %u", si);
  int32_t debug_index;
  VTRY(w_.Read(sg, sc::SubGraph::DebugMetadataIndex, &debug_index, "debug_metadata_index"), "subgraph %u", si);

  const uint32_t nt = tensors.present ? tensors.len : 0;
  SubgraphInfo& info = subgraphs_[si];
  info.ntensors = nt;

  VRET(w_.Spend(uint64_t(nt) + inputs.len + outputs.len));
  std::vector<VerifiedTensor> tinfo(nt);
  for (uint32_t ti = 0; ti < nt; ++ti) {
    TableRef t;
    VTRY(w_.VecTable(tensors, ti, &t), "subgraph %u tensor %u", si, ti);
    VRET(VerifyTensor(si, ti, t, nt, &tinfo[ti]));
  }

  // Each listed input/output makes the runtime build per-tensor state (and
  // edgerun a buffer): more entries than tensors can only be repeats, which
  // multiply memory (200,000 outputs aliasing one tensor took gigabytes).
  if (inputs.len > nt || outputs.len > nt) {
    return ModelError(Fmt("subgraph %u: lists %u inputs and %u outputs but has only %u tensors", si, inputs.len,
                          outputs.len, nt));
  }
  std::vector<uint8_t> is_input(nt, 0);
  info.inputs.reserve(inputs.len);
  for (uint32_t i = 0; i < inputs.len; ++i) {
    int32_t v = w_.VI32(inputs, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(Fmt("subgraph %u: input %u is tensor index %d, out of range (subgraph has %u tensors)", si,
                            i, v, nt));
    }
    if (is_input[v]) return ModelError(Fmt("subgraph %u: input %u repeats tensor %d", si, i, v));
    is_input[v] = 1;
    info.inputs.push_back(v);
  }
  std::vector<uint8_t> is_output(nt, 0);
  for (uint32_t i = 0; i < outputs.len; ++i) {
    int32_t v = w_.VI32(outputs, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(Fmt("subgraph %u: output %u is tensor index %d, out of range (subgraph has %u tensors)",
                            si, i, v, nt));
    }
    if (is_output[v]) return ModelError(Fmt("subgraph %u: output %u repeats tensor %d", si, i, v));
    is_output[v] = 1;
    info.outputs.push_back(v);
  }

  if (ops.present) {
    VRET(w_.Spend(ops.len));
    std::vector<uint8_t> produced(nt, 0);
    for (uint32_t oi = 0; oi < ops.len; ++oi) {
      TableRef op;
      VTRY(w_.VecTable(ops, oi, &op), "subgraph %u operator %u", si, oi);
      VRET(VerifyOperator(si, oi, op, tinfo, &produced, is_input, &info));
    }
  }
  info.tensors = std::move(tinfo);
  return Status();
}

// ---------------------------------------------------------------------------
// Tensor
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyTensor(uint32_t si, uint32_t ti, const TableRef& t, uint32_t ntensors,
                                   VerifiedTensor* info) {
  // Name first, so that later messages can show it.
  VecRef name;
  VTRY(w_.String(t, sc::Tensor::Name, &name, "name"), "subgraph %u tensor %u", si, ti);
  auto where = [&]() {
    return name.present ? Fmt("subgraph %u tensor %u ('%s')", si, ti, w_.Printable(name).c_str())
                        : Fmt("subgraph %u tensor %u", si, ti);
  };
#define TTRY(expr)                                     \
  do {                                                 \
    ::edgerun::Status _ts = (expr);                    \
    if (!_ts.ok()) return Wrap(_ts, where());          \
  } while (0)

  VecRef shape, signature, variants;
  int8_t type;
  uint32_t buffer, external_buffer;
  bool is_variable, has_rank;
  TTRY(w_.Vector(t, sc::Tensor::Shape, &shape, "shape"));
  TTRY(w_.Read(t, sc::Tensor::Type, &type, "type"));
  TTRY(w_.Read(t, sc::Tensor::Buffer, &buffer, "buffer"));
  TTRY(w_.Read(t, sc::Tensor::IsVariable, &is_variable, "is_variable"));
  TTRY(w_.Vector(t, sc::Tensor::ShapeSignature, &signature, "shape_signature"));
  TTRY(w_.Read(t, sc::Tensor::HasRank, &has_rank, "has_rank"));
  TTRY(w_.Vector(t, sc::Tensor::VariantTensors, &variants, "variant_tensors"));
  TTRY(w_.Read(t, sc::Tensor::ExternalBuffer, &external_buffer, "external_buffer"));
  VRET(w_.Spend(uint64_t(shape.len) + signature.len));

  if (type < 0 || type >= kNumTensorTypes) {
    return ModelError(where() + Fmt(": tensor type %d is not a known type (0..%d)", int(type), kNumTensorTypes - 1));
  }
  info->type = type;
  info->is_variable = is_variable != 0;
  info->shape = shape;

  // Shape: dims >= 0, or -1 where the shape signature marks the dim dynamic.
  if (signature.present && signature.len != shape.len && shape.len != 0) {
    return ModelError(where() + Fmt(": shape %s and shape_signature have different ranks (%u vs %u)",
                                    FlatShapeString(w_, shape).c_str(), shape.len, signature.len));
  }
  bool dynamic = false;
  bool has_zero = false;
  uint64_t elements = 1;  // product of dims, 0 and -1 counted as 1
  for (uint32_t i = 0; i < shape.len; ++i) {
    int32_t dim = w_.VI32(shape, i);
    if (dim < 0) {
      bool allowed = dim == -1 && signature.present && i < signature.len && w_.VI32(signature, i) == -1;
      if (!allowed) {
        return ModelError(where() + Fmt(": shape %s has invalid dimension %d at index %u",
                                        FlatShapeString(w_, shape).c_str(), dim, i));
      }
      dynamic = true;
      continue;
    }
    if (dim == 0) {
      has_zero = true;
      continue;
    }
    if (elements > uint64_t(o_.max_tensor_elements) / uint64_t(dim)) {
      return ModelError(where() + Fmt(": shape %s has more than %llu elements", FlatShapeString(w_, shape).c_str(),
                                      ull(o_.max_tensor_elements)));
    }
    elements *= uint64_t(dim);
  }
  // The signature is bounded like the shape: the runtime takes its dims when the
  // shape is absent (found by fuzz_session: no shape, signature [2147483647,2147483647]).
  uint64_t sig_elements = 1;  // -1 and 0 counted as 1
  for (uint32_t i = 0; i < signature.len; ++i) {
    int32_t dim = w_.VI32(signature, i);
    if (dim < -1) {
      return ModelError(where() + Fmt(": shape_signature has invalid dimension %d at index %u", dim, i));
    }
    if (dim <= 0) continue;
    if (sig_elements > uint64_t(o_.max_tensor_elements) / uint64_t(dim)) {
      return ModelError(where() + Fmt(": shape_signature %s has more than %llu elements",
                                      FlatShapeString(w_, signature).c_str(), ull(o_.max_tensor_elements)));
    }
    sig_elements *= uint64_t(dim);
  }
  for (uint32_t i = 0; i < signature.len && !dynamic; ++i) info->dynamic = w_.VI32(signature, i) == -1;
  info->dynamic = info->dynamic || dynamic;
  const uint64_t count = has_zero ? 0 : elements;  // true element count when static
  info->zero_elements = has_zero && !dynamic;

  // Variant subtypes.
  if (variants.present) {
    VRET(w_.Spend(variants.len));
    for (uint32_t vi = 0; vi < variants.len; ++vi) {
      TableRef v;
      VecRef vshape;
      int8_t vtype;
      bool vrank;
      VTRY(w_.VecTable(variants, vi, &v), "%s: variant_tensors[%u]", where().c_str(), vi);
      TTRY(w_.Vector(v, sc::VariantSubType::Shape, &vshape, "variant shape"));
      TTRY(w_.Read(v, sc::VariantSubType::Type, &vtype, "variant type"));
      TTRY(w_.Read(v, sc::VariantSubType::HasRank, &vrank, "variant has_rank"));
      VRET(w_.Spend(vshape.len));
      if (vtype < 0 || vtype >= kNumTensorTypes) {
        return ModelError(where() + Fmt(": variant_tensors[%u] type %d is not a known type", vi, int(vtype)));
      }
      for (uint32_t i = 0; i < vshape.len; ++i) {
        if (w_.VI32(vshape, i) < -1) {
          return ModelError(where() + Fmt(": variant_tensors[%u] has invalid dimension %d", vi,
                                          w_.VI32(vshape, i)));
        }
      }
    }
  }

  // Buffer reference.
  const uint32_t nbuffers = uint32_t(buffers_.size());
  if (buffer >= nbuffers && !(buffer == 0 && nbuffers == 0)) {
    return ModelError(where() + Fmt(": buffer index %u out of range (model has %u buffers)", buffer, nbuffers));
  }
  const BufferInfo none;
  const BufferInfo& b = nbuffers ? buffers_[buffer] : none;
  info->has_data = b.size > 0;
  info->buffer = buffer;
  if (!info->has_data) {
    // What the runtime will allocate for it (arena, or a buffer of edgerun's for
    // an input/output): bounded for the whole model, so that a 700-byte file
    // cannot declare a 4 GB tensor and take the device's memory.
    const uint64_t n = elements > sig_elements ? elements : sig_elements;
    const uint64_t size = kTensorTypeSize[int(type)] ? kTensorTypeSize[int(type)] : 1;
    tensor_bytes_ += n * size;  // n <= 2^31 and size <= 16: no overflow per tensor
    if (tensor_bytes_ > o_.max_tensor_bytes) {
      return ModelError(where() + Fmt(": the model's tensors (other than constants) need more than %llu bytes "
                                      "(VerifyOptions::max_tensor_bytes); this one alone has shape %s",
                                      ull(o_.max_tensor_bytes), FlatShapeString(w_, shape).c_str()));
    }
  }

  if (external_buffer != 0) {
    if (!std::binary_search(external_buffer_ids_.begin(), external_buffer_ids_.end(), external_buffer)) {
      return ModelError(where() + Fmt(": external_buffer id %u does not name an external buffer of the model",
                                      external_buffer));
    }
  }

  // Quantization.
  TableRef q;
  bool has_q;
  TTRY(w_.Child(t, sc::Tensor::Quantization, &q, &has_q, "quantization"));
  if (has_q) TTRY(VerifyQuantization(q, shape, ntensors));

  // Sparsity: the buffer then holds only the stored (non-zero) values.
  TableRef sp;
  bool has_sp;
  TTRY(w_.Child(t, sc::Tensor::Sparsity, &sp, &has_sp, "sparsity"));
  uint64_t stored = count;
  info->sparse = has_sp;
  if (has_sp) {
    if (dynamic) return ModelError(where() + ": sparse tensor with a dynamic shape");
    TTRY(VerifySparsity(sp, shape, &stored));
  }

  // Buffer size against shape x element size.
  if (b.size > 0) {
    if (dynamic) {
      return ModelError(where() + Fmt(": constant tensor (buffer %u) has a dynamic shape %s", buffer,
                                      FlatShapeString(w_, shape).c_str()));
    }
    if (type == sc::TensorType_STRING) {
      if (has_sp) return ModelError(where() + ": sparse string tensor");
      TTRY(VerifyStringBuffer(b, count));
    } else if (type != sc::TensorType_RESOURCE && type != sc::TensorType_VARIANT) {
      uint64_t need = stored * kTensorTypeSize[int(type)];
      uint64_t packed = need;
      if (type == sc::TensorType_INT4 || type == sc::TensorType_UINT4) packed = (stored + 1) / 2;
      if (type == sc::TensorType_INT2) packed = (stored + 3) / 4;
      if (b.size != need && b.size != packed) {
        return ModelError(where() + Fmt(": buffer %u holds %llu bytes, but %s%s %s needs %llu bytes", buffer,
                                        ull(b.size), has_sp ? "sparse " : "", FlatShapeString(w_, shape).c_str(),
                                        TypeName(type), ull(packed)));
      }
    }
  }
#undef TTRY
  return Status();
}

Status ModelVerifier::VerifyStringBuffer(const BufferInfo& b, uint64_t elements) {
  // Layout: int32 count, int32 offsets[count + 1] (from the start of the buffer), then the bytes.
  const uint8_t* p = w_.data() + b.pos;
  if (b.size < 4) return ModelError(Fmt("string buffer of %llu bytes has no header", ull(b.size)));
  uint32_t count = LoadU32(p);
  if (count != elements) {
    return ModelError(Fmt("string buffer holds %u strings, but the shape has %llu elements", count, ull(elements)));
  }
  uint64_t header = 4ull * (uint64_t(count) + 2);
  if (header > b.size) {
    return ModelError(Fmt("string buffer of %llu bytes is too small for %u strings", ull(b.size), count));
  }
  VRET(w_.Spend(uint64_t(count) + 1));
  uint64_t prev = header;
  for (uint64_t i = 0; i <= count; ++i) {
    uint64_t off = LoadU32(p + 4 + 4 * i);
    if (off < prev || off > b.size) {
      return ModelError(Fmt("string buffer offset %llu of entry %llu is out of order or out of range "
                            "(buffer has %llu bytes)",
                            ull(off), ull(i), ull(b.size)));
    }
    prev = off;
  }
  if (prev != b.size) {
    return ModelError(Fmt("string buffer ends at %llu but holds %llu bytes", ull(prev), ull(b.size)));
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Quantization
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyQuantization(const TableRef& q, const VecRef& shape, uint32_t ntensors) {
  VecRef min, max, scale, zero_point;
  uint8_t details_type;
  int32_t qdim;
  VRET(w_.Vector(q, sc::QuantizationParameters::Min, &min, "min"));
  VRET(w_.Vector(q, sc::QuantizationParameters::Max, &max, "max"));
  VRET(w_.Vector(q, sc::QuantizationParameters::Scale, &scale, "scale"));
  VRET(w_.Vector(q, sc::QuantizationParameters::ZeroPoint, &zero_point, "zero_point"));
  VRET(w_.Read(q, sc::QuantizationParameters::DetailsType, &details_type, "details_type"));
  VRET(w_.Read(q, sc::QuantizationParameters::QuantizedDimension, &qdim, "quantized_dimension"));
  if (details_type > sc::QuantizationDetails_MAX) {
    return ModelError(Fmt("quantization details type %u is not known (0..%d)", details_type,
                          int(sc::QuantizationDetails_MAX)));
  }
  if (min.present && max.present && min.len != max.len) {
    return ModelError(Fmt("quantization min and max have different lengths (%u vs %u)", min.len, max.len));
  }
  const uint32_t nscale = scale.present ? scale.len : 0;
  const uint32_t nzp = zero_point.present ? zero_point.len : 0;
  if (nscale > 0 || nzp > 0) {
    if (nscale != nzp) {
      return ModelError(Fmt("quantization has %u scales but %u zero points", nscale, nzp));
    }
    if (qdim < 0 || (shape.len > 0 && uint32_t(qdim) >= shape.len)) {
      return ModelError(Fmt("quantized_dimension %d is out of range for rank %u", qdim, shape.len));
    }
    if (nscale != 1 && shape.len > 0) {
      int32_t dim = w_.VI32(shape, uint32_t(qdim));
      if (int64_t(nscale) != int64_t(dim)) {
        return ModelError(Fmt("quantization has %u scales, expected 1 or %d (size of quantized_dimension %d)", nscale,
                              dim, qdim));
      }
    }
  }
  if (details_type != 0) {
    TableRef det;
    bool present;
    VRET(w_.Child(q, sc::QuantizationParameters::Details, &det, &present, "details"));
    if (present) {
      if (details_type == sc::QuantizationDetails_CustomQuantization) {
        VecRef custom;
        VRET(w_.Vector(det, sc::CustomQuantization::Custom, &custom, "custom"));
      } else {  // BlockwiseQuantization / MultiAxisQuantization: tensor indices + block size + int vector
        // (the two tables share their layout; the static_asserts below keep it so)
        using BQ = sc::BlockwiseQuantization;
        int32_t scales, zero_points, block_size;
        VecRef dims;
        VRET(w_.Read(det, BQ::Scales, &scales, "scales"));
        VRET(w_.Read(det, BQ::ZeroPoints, &zero_points, "zero_points"));
        VRET(w_.Read(det, BQ::BlockSize, &block_size, "block_size"));
        if (details_type == sc::QuantizationDetails_BlockwiseQuantization) {
          VRET(w_.Vector(det, BQ::BlockShape, &dims, "block_shape"));
        } else {
          VRET(w_.Vector(det, sc::MultiAxisQuantization::QuantizedDimensions, &dims, "quantized_dimensions"));
        }
        if (scales < 0 || uint32_t(scales) >= ntensors) {
          return ModelError(Fmt("quantization details: scales tensor index %d out of range (subgraph has %u tensors)",
                                scales, ntensors));
        }
        if (zero_points < -1 || (zero_points >= 0 && uint32_t(zero_points) >= ntensors)) {
          return ModelError(Fmt("quantization details: zero_points tensor index %d out of range (subgraph has %u "
                                "tensors)",
                                zero_points, ntensors));
        }
        if (block_size < 0 || (details_type == sc::QuantizationDetails_BlockwiseQuantization && block_size == 0)) {
          return ModelError(Fmt("quantization details: invalid block_size %d", block_size));
        }
      }
    }
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Sparsity
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyIndexVector(const TableRef& dm, fb::ScalarField<uint8_t> type_field,
                                        fb::TableField value_field, const char* what, VecRef* v,
                                        uint32_t* elem_size) {
  uint8_t type;
  VRET(w_.Read(dm, type_field, &type, what));
  if (type < sc::SparseIndexVector_Int32Vector || type > sc::SparseIndexVector_Uint8Vector) {
    return ModelError(Fmt("%s has invalid index vector type %u", what, type));
  }
  TableRef t;
  bool present;
  VRET(w_.Child(dm, value_field, &t, &present, what));
  if (!present) return ModelError(Fmt("%s is missing", what));
  const fb::VectorField values = type == sc::SparseIndexVector_Int32Vector    ? sc::Int32Vector::Values
                                 : type == sc::SparseIndexVector_Uint16Vector ? sc::Uint16Vector::Values
                                                                              : sc::Uint8Vector::Values;
  *elem_size = values.elem_size;
  VRET(w_.Vector(t, values, v, what));
  if (!v->present) return ModelError(Fmt("%s has no values", what));
  return Status();
}

Status ModelVerifier::VerifySparsity(const TableRef& sp, const VecRef& shape, uint64_t* stored) {
  VecRef order, block_map, dims;
  VRET(w_.Vector(sp, sc::SparsityParameters::TraversalOrder, &order, "traversal_order"));
  VRET(w_.Vector(sp, sc::SparsityParameters::BlockMap, &block_map, "block_map"));
  VRET(w_.Vector(sp, sc::SparsityParameters::DimMetadata, &dims, "dim_metadata"));
  const uint32_t rank = shape.len;
  const uint32_t n = order.present ? order.len : 0;
  if (n < rank || n > rank + 16) {
    return ModelError(Fmt("sparsity traversal_order has %u entries for a tensor of rank %u", n, rank));
  }
  const uint32_t nblocks = n - rank;
  const uint32_t nmap = block_map.present ? block_map.len : 0;
  const uint32_t ndims = dims.present ? dims.len : 0;
  if (nmap != nblocks) {
    return ModelError(Fmt("sparsity block_map has %u entries, expected %u", nmap, nblocks));
  }
  if (ndims != n) return ModelError(Fmt("sparsity dim_metadata has %u entries, expected %u", ndims, n));
  VRET(w_.Spend(uint64_t(n) * 3));

  // traversal_order: a permutation of the tensor dims followed by a permutation of the block dims.
  std::vector<uint8_t> seen(n, 0);
  for (uint32_t j = 0; j < n; ++j) {
    int32_t d = w_.VI32(order, j);
    bool ok = j < rank ? (d >= 0 && uint32_t(d) < rank) : (uint32_t(d) >= rank && uint32_t(d) < n && d >= 0);
    if (!ok || seen[d]) return ModelError(Fmt("sparsity traversal_order entry %u (%d) is invalid", j, d));
    seen[d] = 1;
  }
  std::vector<uint64_t> expanded(n, 0);
  for (uint32_t d = 0; d < rank; ++d) {
    int32_t dim = w_.VI32(shape, d);
    if (dim < 0) return ModelError("sparse tensor with a negative dimension");
    expanded[d] = uint64_t(dim);
  }
  std::vector<uint8_t> blocked(rank, 0);
  for (uint32_t b = 0; b < nblocks; ++b) {
    int32_t d = w_.VI32(block_map, b);
    if (d < 0 || uint32_t(d) >= rank || blocked[d]) {
      return ModelError(Fmt("sparsity block_map entry %u (%d) is invalid", b, d));
    }
    blocked[d] = 1;
  }
  // Block sizes come from the (dense) metadata of the block dims.
  std::vector<TableRef> meta(n);
  for (uint32_t j = 0; j < n; ++j) VTRY(w_.VecTable(dims, j, &meta[j]), "sparsity dim_metadata %u", j);
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t d = uint32_t(w_.VI32(order, j));
    if (d < rank) continue;
    int8_t format;
    int32_t dense_size;
    VRET(w_.Read(meta[j], sc::DimensionMetadata::Format, &format, "format"));
    VRET(w_.Read(meta[j], sc::DimensionMetadata::DenseSize, &dense_size, "dense_size"));
    uint32_t b = d - rank;
    uint32_t orig = uint32_t(w_.VI32(block_map, b));
    if (format != sc::DimensionType_DENSE || dense_size <= 0 || expanded[orig] % uint64_t(dense_size) != 0) {
      return ModelError(Fmt("sparsity block dimension %u has invalid block size %d for dimension %u of size %llu",
                            b, dense_size, orig, ull(expanded[orig])));
    }
    expanded[d] = uint64_t(dense_size);
  }
  for (uint32_t b = 0; b < nblocks; ++b) {
    uint32_t orig = uint32_t(w_.VI32(block_map, b));
    expanded[orig] /= expanded[rank + b];
  }
  // Walk the dims in traversal order, counting the stored elements.
  uint64_t count = 1;
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t d = uint32_t(w_.VI32(order, j));
    int8_t format;
    int32_t dense_size;
    VTRY(w_.Read(meta[j], sc::DimensionMetadata::Format, &format, "format"), "sparsity dim_metadata %u", j);
    VTRY(w_.Read(meta[j], sc::DimensionMetadata::DenseSize, &dense_size, "dense_size"), "sparsity dim_metadata %u", j);
    if (format == sc::DimensionType_DENSE) {
      if (dense_size < 0 || uint64_t(dense_size) != expanded[d]) {
        return ModelError(Fmt("sparsity dim_metadata %u: dense_size %d, expected %llu", j, dense_size,
                              ull(expanded[d])));
      }
      count *= expanded[d];
    } else if (format == sc::DimensionType_SPARSE_CSR) {
      VecRef seg, idx;
      uint32_t seg_size, idx_size;
      using DM = sc::DimensionMetadata;
      VTRY(VerifyIndexVector(meta[j], DM::ArraySegmentsType, DM::ArraySegments, "array_segments", &seg, &seg_size),
           "sparsity dim_metadata %u", j);
      VTRY(VerifyIndexVector(meta[j], DM::ArrayIndicesType, DM::ArrayIndices, "array_indices", &idx, &idx_size),
           "sparsity dim_metadata %u", j);
      if (uint64_t(seg.len) != count + 1) {
        return ModelError(Fmt("sparsity dim_metadata %u: %u array_segments, expected %llu", j, seg.len,
                              ull(count + 1)));
      }
      VRET(w_.Spend(uint64_t(seg.len) + idx.len));
      auto at = [&](const VecRef& v, uint32_t size, uint32_t i) -> uint64_t {
        return size == 4 ? uint64_t(w_.VU32(v, i)) : size == 2 ? w_.VU16(v, i) : w_.VU8(v, i);
      };
      uint64_t prev = 0;
      for (uint32_t i = 0; i < seg.len; ++i) {
        uint64_t s = at(seg, seg_size, i);
        if ((seg_size == 4 && int32_t(uint32_t(s)) < 0) || s < prev || s > idx.len || (i == 0 && s != 0)) {
          return ModelError(Fmt("sparsity dim_metadata %u: array_segments[%u] = %llu is invalid", j, i, ull(s)));
        }
        prev = s;
      }
      if (prev != idx.len) {
        return ModelError(Fmt("sparsity dim_metadata %u: last segment %llu but %u indices", j, ull(prev), idx.len));
      }
      for (uint32_t i = 0; i < idx.len; ++i) {
        uint64_t x = at(idx, idx_size, i);
        if ((idx_size == 4 && int32_t(uint32_t(x)) < 0) || x >= expanded[d]) {
          return ModelError(Fmt("sparsity dim_metadata %u: array_indices[%u] = %llu out of range (dimension size "
                                "%llu)",
                                j, i, ull(x), ull(expanded[d])));
        }
      }
      count = idx.len;
    } else {
      return ModelError(Fmt("sparsity dim_metadata %u: unknown format %d", j, int(format)));
    }
    if (count > o_.max_tensor_elements) {
      return ModelError(Fmt("sparse tensor has more than %llu elements", ull(o_.max_tensor_elements)));
    }
  }
  *stored = count;
  return Status();
}

// ---------------------------------------------------------------------------
// Operator
// ---------------------------------------------------------------------------
Status ModelVerifier::CheckSubgraphRef(int64_t index, const char* what, SubgraphInfo* sginfo) {
  if (index < 0 || uint64_t(index) >= nsubgraphs_) {
    return ModelError(Fmt("%s subgraph index %lld out of range (model has %u subgraphs)", what, ll(index),
                          nsubgraphs_));
  }
  sginfo->callees.push_back(int32_t(index));
  return Status();
}

namespace {

// Input/output counts the runtime's kernels require (their Prepare() checks
// NumInputs/NumOutputs, and some read past the list before checking). Counts
// include optional inputs left out as -1, as the runtime counts them. Only ops
// whose kernels' arity is certain are listed: an op absent here is not checked.
struct Arity {
  int16_t min_in, max_in, min_out, max_out;  // -1: unbounded
};

bool ArityOf(int32_t code, Arity* a) {
  using namespace sc;
  switch (code) {
    case BuiltinOperator_ADD: case BuiltinOperator_SUB: case BuiltinOperator_MUL: case BuiltinOperator_DIV:
      *a = {2, 2, 1, 1}; return true;
    case BuiltinOperator_STRIDED_SLICE: *a = {4, 4, 1, 1}; return true;
    case BuiltinOperator_SLICE: *a = {3, 3, 1, 1}; return true;
    case BuiltinOperator_RESHAPE: *a = {1, 2, 1, 1}; return true;
    case BuiltinOperator_MEAN: case BuiltinOperator_SUM: case BuiltinOperator_REDUCE_MAX:
    case BuiltinOperator_REDUCE_MIN: case BuiltinOperator_REDUCE_PROD: case BuiltinOperator_REDUCE_ANY:
      *a = {2, 2, 1, 1}; return true;
    case BuiltinOperator_PAD: case BuiltinOperator_PADV2: *a = {2, 3, 1, 1}; return true;
    case BuiltinOperator_GATHER: case BuiltinOperator_GATHER_ND: case BuiltinOperator_TRANSPOSE:
    case BuiltinOperator_EXPAND_DIMS: case BuiltinOperator_RESIZE_BILINEAR:
    case BuiltinOperator_RESIZE_NEAREST_NEIGHBOR: case BuiltinOperator_BATCH_MATMUL:
    case BuiltinOperator_ARG_MAX: case BuiltinOperator_ARG_MIN: case BuiltinOperator_TILE:
    case BuiltinOperator_BROADCAST_TO:
      *a = {2, 2, 1, 1}; return true;
    case BuiltinOperator_SOFTMAX: case BuiltinOperator_LOGISTIC: case BuiltinOperator_TANH:
    case BuiltinOperator_RELU: case BuiltinOperator_RELU6: case BuiltinOperator_HARD_SWISH:
    case BuiltinOperator_QUANTIZE: case BuiltinOperator_DEQUANTIZE: case BuiltinOperator_AVERAGE_POOL_2D:
    case BuiltinOperator_MAX_POOL_2D: case BuiltinOperator_SQUEEZE: case BuiltinOperator_SHAPE:
    case BuiltinOperator_CAST:
      *a = {1, 1, 1, 1}; return true;
    // The bias is not optional here: DEPTHWISE_CONV_2D with two inputs crashes
    // XNNPACK's delegate (it reads inputs[2]); CONV_2D's kernel refuses it.
    case BuiltinOperator_CONV_2D: case BuiltinOperator_DEPTHWISE_CONV_2D: *a = {3, 3, 1, 1}; return true;
    case BuiltinOperator_FULLY_CONNECTED: *a = {2, 3, 1, 2}; return true;
    case BuiltinOperator_TRANSPOSE_CONV: *a = {3, 4, 1, 1}; return true;
    case BuiltinOperator_CONCATENATION: case BuiltinOperator_PACK: *a = {1, -1, 1, 1}; return true;
    case BuiltinOperator_UNPACK: *a = {1, 1, 1, -1}; return true;
    // Element-wise and other fixed-arity kernels (each checks NumInputs in
    // Prepare, but reads inputs before that in some versions).
    case BuiltinOperator_ABS: case BuiltinOperator_NEG: case BuiltinOperator_EXP: case BuiltinOperator_LOG:
    case BuiltinOperator_SQRT: case BuiltinOperator_RSQRT: case BuiltinOperator_SQUARE: case BuiltinOperator_SIN:
    case BuiltinOperator_COS: case BuiltinOperator_FLOOR: case BuiltinOperator_CEIL: case BuiltinOperator_ROUND:
    case BuiltinOperator_SIGN: case BuiltinOperator_ELU: case BuiltinOperator_GELU: case BuiltinOperator_LEAKY_RELU:
    case BuiltinOperator_RELU_N1_TO_1: case BuiltinOperator_RELU_0_TO_1: case BuiltinOperator_LOGICAL_NOT:
    case BuiltinOperator_L2_NORMALIZATION: case BuiltinOperator_LOCAL_RESPONSE_NORMALIZATION:
    case BuiltinOperator_LOG_SOFTMAX: case BuiltinOperator_L2_POOL_2D: case BuiltinOperator_ZEROS_LIKE:
    case BuiltinOperator_DEPTH_TO_SPACE: case BuiltinOperator_SPACE_TO_DEPTH: case BuiltinOperator_RANK:
    case BuiltinOperator_WHERE: case BuiltinOperator_MATRIX_DIAG:
      *a = {1, 1, 1, 1}; return true;
    case BuiltinOperator_MAXIMUM: case BuiltinOperator_MINIMUM: case BuiltinOperator_SQUARED_DIFFERENCE:
    case BuiltinOperator_POW: case BuiltinOperator_FLOOR_DIV: case BuiltinOperator_FLOOR_MOD:
    case BuiltinOperator_LESS: case BuiltinOperator_LESS_EQUAL: case BuiltinOperator_GREATER:
    case BuiltinOperator_GREATER_EQUAL: case BuiltinOperator_EQUAL: case BuiltinOperator_NOT_EQUAL:
    case BuiltinOperator_LOGICAL_AND: case BuiltinOperator_LOGICAL_OR: case BuiltinOperator_PRELU:
    case BuiltinOperator_MIRROR_PAD: case BuiltinOperator_REVERSE_V2: case BuiltinOperator_FILL:
    case BuiltinOperator_EMBEDDING_LOOKUP: case BuiltinOperator_CUMSUM: case BuiltinOperator_MATRIX_SET_DIAG:
      *a = {2, 2, 1, 1}; return true;
    case BuiltinOperator_SELECT: case BuiltinOperator_SELECT_V2: case BuiltinOperator_SPACE_TO_BATCH_ND:
    case BuiltinOperator_BATCH_TO_SPACE_ND: case BuiltinOperator_RANGE: case BuiltinOperator_SCATTER_ND:
      *a = {3, 3, 1, 1}; return true;
    case BuiltinOperator_ONE_HOT: *a = {4, 4, 1, 1}; return true;
    case BuiltinOperator_TOPK_V2: *a = {2, 2, 2, 2}; return true;
    case BuiltinOperator_ADD_N: *a = {1, -1, 1, 1}; return true;
    case BuiltinOperator_SPLIT: *a = {2, 2, 1, -1}; return true;
    case BuiltinOperator_SPLIT_V: *a = {3, 3, 1, -1}; return true;
    default: return false;
  }
}

std::string CountRange(int lo, int hi) {
  if (hi < 0) return "at least " + std::to_string(lo);
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace

Status ModelVerifier::VerifyOperator(uint32_t si, uint32_t oi, const TableRef& op,
                                     const std::vector<VerifiedTensor>& tensors, std::vector<uint8_t>* produced,
                                     const std::vector<uint8_t>& is_input, SubgraphInfo* sginfo) {
  uint32_t opcode_index;
  VTRY(w_.Read(op, sc::Operator::OpcodeIndex, &opcode_index, "opcode_index"), "subgraph %u operator %u", si, oi);
  if (opcode_index >= opcodes_.size()) {
    return ModelError(Fmt("subgraph %u operator %u: opcode_index %u out of range (model has %zu operator codes)", si,
                          oi, opcode_index, opcodes_.size()));
  }
  const int32_t code = opcodes_[opcode_index];
  auto where = [&]() { return Fmt("subgraph %u operator %u (%s)", si, oi, OpName(code)); };
#define OTRY(expr)                                   \
  do {                                               \
    ::edgerun::Status _os = (expr);                  \
    if (!_os.ok()) return Wrap(_os, where());        \
  } while (0)

  VecRef inputs, outputs, custom_options, mutating, intermediates;
  uint8_t opt_type, opt2_type;
  int8_t custom_format;
  uint64_t large_offset, large_size;
  int32_t debug_index;
  OTRY(w_.Vector(op, sc::Operator::Inputs, &inputs, "inputs"));
  OTRY(w_.Vector(op, sc::Operator::Outputs, &outputs, "outputs"));
  OTRY(w_.Read(op, sc::Operator::BuiltinOptionsType, &opt_type, "builtin_options_type"));
  OTRY(w_.Vector(op, sc::Operator::CustomOptions, &custom_options, "custom_options"));
  OTRY(w_.Read(op, sc::Operator::CustomOptionsFormat, &custom_format, "custom_options_format"));
  OTRY(w_.Vector(op, sc::Operator::MutatingVariableInputs, &mutating, "mutating_variable_inputs"));
  OTRY(w_.Vector(op, sc::Operator::Intermediates, &intermediates, "intermediates"));
  OTRY(w_.Read(op, sc::Operator::LargeCustomOptionsOffset, &large_offset, "large_custom_options_offset"));
  OTRY(w_.Read(op, sc::Operator::LargeCustomOptionsSize, &large_size, "large_custom_options_size"));
  OTRY(w_.Read(op, sc::Operator::BuiltinOptions2Type, &opt2_type, "builtin_options_2_type"));
  OTRY(w_.Read(op, sc::Operator::DebugMetadataIndex, &debug_index, "debug_metadata_index"));
  VRET(w_.Spend(uint64_t(inputs.len) + outputs.len + intermediates.len));

  const uint32_t nt = uint32_t(tensors.size());
  // (CALL_ONCE, which only runs an initialization subgraph, legitimately has neither.)
  if (inputs.len == 0 && outputs.len == 0 && code != sc::BuiltinOperator_CALL_ONCE) {
    return ModelError(where() + ": operator has no inputs and no outputs");
  }
  for (uint32_t i = 0; i < inputs.len; ++i) {
    int32_t v = w_.VI32(inputs, i);
    if (v == -1) continue;  // optional input left out
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(where() + Fmt(": input tensor index %d out of range (subgraph has %u tensors)", v, nt));
    }
  }
  for (uint32_t i = 0; i < outputs.len; ++i) {
    int32_t v = w_.VI32(outputs, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(where() + Fmt(": output tensor index %d out of range (subgraph has %u tensors)", v, nt));
    }
  }
  for (uint32_t i = 0; i < intermediates.len; ++i) {
    int32_t v = w_.VI32(intermediates, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(where() + Fmt(": intermediate tensor index %d out of range (subgraph has %u tensors)", v,
                                      nt));
    }
  }
  if (large_offset > 1 && (large_offset > w_.size() || large_size > w_.size() - large_offset)) {
    return ModelError(where() + Fmt(": large custom options at offset %llu with size %llu lie outside the file "
                                    "(size %llu)",
                                    ull(large_offset), ull(large_size), ull(w_.size())));
  }

  // Custom operators built into the runtime read their options as a FlexBuffer,
  // unchecked (null options included): structure, required keys and ranges.
  if (code == sc::BuiltinOperator_CUSTOM && IsFlexbufferCustomOp(custom_codes_[opcode_index])) {
    uint64_t begin = custom_options.data, size = custom_options.present ? custom_options.len : 0;
    if (large_offset > 1) begin = large_offset, size = large_size;
    const std::string name = w_.Printable(custom_codes_[opcode_index]);
    if (size == 0) return ModelError(where() + " '" + name + "': has no custom options (the operator needs them)");
    VTRY(fb::VerifyFlexBuffer(w_, begin, size), "%s '%s': custom options", where().c_str(), name.c_str());
    VRET(VerifyBuiltinCustomOp(name, begin, size, inputs, outputs, tensors, where() + " '" + name + "'"));
  }

  // Required inputs: -1 marks an optional input left out, which only trailing
  // optional operands may be (the runtime dereferences the others).
  // -1 marks an optional operand left out. Only the operands the runtime reads
  // through its optional-input accessor may be (every other kernel dereferences
  // the -1: PRELU's alpha, RESHAPE's shape and DEPTHWISE_CONV_2D's bias crashed).
  if (code != sc::BuiltinOperator_CUSTOM && code != sc::BuiltinOperator_DELEGATE &&
      code != sc::BuiltinOperator_STABLEHLO_CUSTOM_CALL) {
    const bool recurrent = code == sc::BuiltinOperator_LSTM || code == sc::BuiltinOperator_UNIDIRECTIONAL_SEQUENCE_LSTM ||
                           code == sc::BuiltinOperator_BIDIRECTIONAL_SEQUENCE_LSTM ||
                           code == sc::BuiltinOperator_BIDIRECTIONAL_SEQUENCE_RNN ||
                           code == sc::BuiltinOperator_UNIDIRECTIONAL_SEQUENCE_RNN || code == sc::BuiltinOperator_RNN ||
                           code == sc::BuiltinOperator_SVDF;
    for (uint32_t i = 0; i < inputs.len; ++i) {
      if (w_.VI32(inputs, i) != -1) continue;
      const bool optional = (recurrent && i >= 1) || (code == sc::BuiltinOperator_FULLY_CONNECTED && i == 2) ||
                            (code == sc::BuiltinOperator_TRANSPOSE_CONV && i == 3) ||
                            (code == sc::BuiltinOperator_PADV2 && i == 2);
      if (!optional) return ModelError(where() + Fmt(": input %u is left out (-1), but the operator requires it", i));
    }
  }
  {
    OpRecord rec;
    rec.code = code;
    rec.in.reserve(inputs.len);
    for (uint32_t i = 0; i < inputs.len; ++i) rec.in.push_back(w_.VI32(inputs, i));
    rec.out.reserve(outputs.len);
    for (uint32_t i = 0; i < outputs.len; ++i) rec.out.push_back(w_.VI32(outputs, i));
    sginfo->ops.push_back(std::move(rec));
  }

  // Options unions.
  if (opt_type >= kNumBuiltinOptions) {
    return ModelError(where() + Fmt(": builtin_options_type %u is not known (0..%d)", opt_type,
                                    kNumBuiltinOptions - 1));
  }
  if (opt2_type >= kNumBuiltinOptions2) {
    return ModelError(where() + Fmt(": builtin_options_2_type %u is not known (0..%d)", opt2_type,
                                    kNumBuiltinOptions2 - 1));
  }
  TableRef opts, opts2;
  bool has_opts = false, has_opts2 = false;
  if (opt_type != 0) {
    OTRY(w_.Child(op, sc::Operator::BuiltinOptions, &opts, &has_opts, sc::kBuiltinOptions[opt_type].name));
    if (has_opts) VTRY(w_.VerifyLayout(opts, sc::kBuiltinOptions[opt_type]), "%s: %s", where().c_str(),
                       sc::kBuiltinOptions[opt_type].name);
  }
  if (opt2_type != 0) {
    OTRY(w_.Child(op, sc::Operator::BuiltinOptions2, &opts2, &has_opts2, sc::kBuiltinOptions2[opt2_type].name));
    if (has_opts2) VTRY(w_.VerifyLayout(opts2, sc::kBuiltinOptions2[opt2_type]), "%s: %s", where().c_str(),
                        sc::kBuiltinOptions2[opt2_type].name);
  }

  if (code == sc::BuiltinOperator_VAR_HANDLE && has_opts && opt_type == sc::BuiltinOptions_VarHandleOptions) {
    VecRef container, shared;
    OTRY(w_.String(opts, sc::VarHandleOptions::Container, &container, "container"));
    OTRY(w_.String(opts, sc::VarHandleOptions::SharedName, &shared, "shared_name"));
    std::string& key = sginfo->ops.back().var_key;
    if (container.present) key.assign(reinterpret_cast<const char*>(w_.data() + container.data), container.len);
    key.push_back('\0');
    if (shared.present) key.append(reinterpret_cast<const char*>(w_.data() + shared.data), shared.len);
  }

  // Operators that need their options (the runtime would otherwise use zeros).
  auto need = [&](bool second, int type) -> Status {
    bool ok = second ? (opt2_type == type && has_opts2) : (opt_type == type && has_opts);
    if (ok) return Status();
    return ModelError(where() + Fmt(": operator has no %s", second ? sc::kBuiltinOptions2[type].name
                                                                   : sc::kBuiltinOptions[type].name));
  };
  auto positive = [&](const TableRef& t, fb::ScalarField<int32_t> f, const char* field) -> Status {
    int32_t v;
    OTRY(w_.Read(t, f, &v, field));
    if (v < 1) return ModelError(where() + Fmt(": %s is %d, must be >= 1", field, v));
    return Status();
  };
  switch (code) {
    case sc::BuiltinOperator_CONV_2D: {
      using O = sc::Conv2DOptions;
      VRET(need(false, sc::BuiltinOptions_Conv2DOptions));
      VRET(positive(opts, O::StrideW, "stride_w"));
      VRET(positive(opts, O::StrideH, "stride_h"));
      VRET(positive(opts, O::DilationWFactor, "dilation_w_factor"));
      VRET(positive(opts, O::DilationHFactor, "dilation_h_factor"));
      break;
    }
    case sc::BuiltinOperator_DEPTHWISE_CONV_2D: {
      using O = sc::DepthwiseConv2DOptions;
      VRET(need(false, sc::BuiltinOptions_DepthwiseConv2DOptions));
      VRET(positive(opts, O::StrideW, "stride_w"));
      VRET(positive(opts, O::StrideH, "stride_h"));
      VRET(positive(opts, O::DilationWFactor, "dilation_w_factor"));
      VRET(positive(opts, O::DilationHFactor, "dilation_h_factor"));
      break;
    }
    case sc::BuiltinOperator_AVERAGE_POOL_2D:
    case sc::BuiltinOperator_MAX_POOL_2D:
    case sc::BuiltinOperator_L2_POOL_2D: {
      using O = sc::Pool2DOptions;
      VRET(need(false, sc::BuiltinOptions_Pool2DOptions));
      VRET(positive(opts, O::StrideW, "stride_w"));
      VRET(positive(opts, O::StrideH, "stride_h"));
      VRET(positive(opts, O::FilterWidth, "filter_width"));
      VRET(positive(opts, O::FilterHeight, "filter_height"));
      break;
    }
    case sc::BuiltinOperator_TRANSPOSE_CONV: {
      using O = sc::TransposeConvOptions;
      VRET(need(false, sc::BuiltinOptions_TransposeConvOptions));
      VRET(positive(opts, O::StrideW, "stride_w"));
      VRET(positive(opts, O::StrideH, "stride_h"));
      break;
    }
    case sc::BuiltinOperator_CONV_3D:
    case sc::BuiltinOperator_CONV_3D_TRANSPOSE: {
      using O = sc::Conv3DOptions;
      VRET(need(false, sc::BuiltinOptions_Conv3DOptions));
      VRET(positive(opts, O::StrideD, "stride_d"));
      VRET(positive(opts, O::StrideW, "stride_w"));
      VRET(positive(opts, O::StrideH, "stride_h"));
      VRET(positive(opts, O::DilationDFactor, "dilation_d_factor"));
      VRET(positive(opts, O::DilationWFactor, "dilation_w_factor"));
      VRET(positive(opts, O::DilationHFactor, "dilation_h_factor"));
      break;
    }
    case sc::BuiltinOperator_SPACE_TO_DEPTH:
      VRET(need(false, sc::BuiltinOptions_SpaceToDepthOptions));
      VRET(positive(opts, sc::SpaceToDepthOptions::BlockSize, "block_size"));
      break;
    case sc::BuiltinOperator_DEPTH_TO_SPACE:
      VRET(need(false, sc::BuiltinOptions_DepthToSpaceOptions));
      VRET(positive(opts, sc::DepthToSpaceOptions::BlockSize, "block_size"));
      break;
    case sc::BuiltinOperator_CALL:
      VRET(need(false, sc::BuiltinOptions_CallOptions));
      break;
    case sc::BuiltinOperator_IF:
      VRET(need(false, sc::BuiltinOptions_IfOptions));
      break;
    case sc::BuiltinOperator_WHILE:
      VRET(need(false, sc::BuiltinOptions_WhileOptions));
      break;
    case sc::BuiltinOperator_CALL_ONCE:
      VRET(need(false, sc::BuiltinOptions_CallOnceOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_WHILE:
      VRET(need(true, sc::BuiltinOptions2_StablehloWhileOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_COMPOSITE:
      VRET(need(true, sc::BuiltinOptions2_StableHLOCompositeOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_CASE:
      VRET(need(true, sc::BuiltinOptions2_StablehloCaseOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_REDUCE:
      VRET(need(true, sc::BuiltinOptions2_StablehloReduceOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_REDUCE_WINDOW:
      VRET(need(true, sc::BuiltinOptions2_StablehloReduceWindowOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_SCATTER:
      VRET(need(true, sc::BuiltinOptions2_StablehloScatterOptions));
      break;
    case sc::BuiltinOperator_STABLEHLO_SORT:
      VRET(need(true, sc::BuiltinOptions2_StablehloSortOptions));
      break;
    default:
      break;
  }

  // DEQUANTIZE / DENSIFY of a constant: accelerators (XNNPACK) unpack these
  // ahead of time using the declared output shape, so it must be the input's.
  if ((code == sc::BuiltinOperator_DEQUANTIZE || code == sc::BuiltinOperator_DENSIFY) && inputs.len >= 1 &&
      outputs.len >= 1) {
    int32_t in = w_.VI32(inputs, 0), out = w_.VI32(outputs, 0);
    if (in >= 0 && (tensors[in].has_data || tensors[in].sparse)) {
      const VecRef& a = tensors[in].shape;
      const VecRef& b = tensors[out].shape;
      if (!ShapeEq(a, b)) {
        return ModelError(where() + Fmt(": output tensor %d has shape %s, but the constant input tensor %d has shape "
                                        "%s",
                                        out, FlatShapeString(w_, b).c_str(), in, FlatShapeString(w_, a).c_str()));
      }
    }
  }

  // Output shapes of common operators (all shapes static).
  const uint8_t rule = ShapeRules()[code];
  if (rule != kRuleNone) VRET(CheckShapeRule(rule, inputs, outputs, tensors, where));

  // Subgraph references held in options (whatever the operator).
  auto sub = [&](const TableRef& t, auto f, const char* field) -> Status {
    decltype(f.def) v;
    OTRY(w_.Read(t, f, &v, field));
    OTRY(CheckSubgraphRef(int32_t(v), field, sginfo));  // as int32: a huge uint32 prints negative
    return Status();
  };
  auto sub_vector = [&](const TableRef& t, fb::VectorField f, const char* field) -> Status {
    VecRef v;
    OTRY(w_.Vector(t, f, &v, field));
    VRET(w_.Spend(v.len));
    for (uint32_t i = 0; i < v.len; ++i) OTRY(CheckSubgraphRef(w_.VI32(v, i), field, sginfo));
    return Status();
  };
  if (has_opts) {
    switch (opt_type) {
      case sc::BuiltinOptions_CallOptions: VRET(sub(opts, sc::CallOptions::Subgraph, "subgraph")); break;
      case sc::BuiltinOptions_IfOptions:
        VRET(sub(opts, sc::IfOptions::ThenSubgraphIndex, "then_subgraph_index"));
        VRET(sub(opts, sc::IfOptions::ElseSubgraphIndex, "else_subgraph_index"));
        break;
      case sc::BuiltinOptions_WhileOptions:
        VRET(sub(opts, sc::WhileOptions::CondSubgraphIndex, "cond_subgraph_index"));
        VRET(sub(opts, sc::WhileOptions::BodySubgraphIndex, "body_subgraph_index"));
        break;
      case sc::BuiltinOptions_CallOnceOptions:
        VRET(sub(opts, sc::CallOnceOptions::InitSubgraphIndex, "init_subgraph_index"));
        break;
      default: break;
    }
  }
  if (has_opts2) {
    switch (opt2_type) {
      case sc::BuiltinOptions2_StablehloWhileOptions:
        VRET(sub(opts2, sc::StablehloWhileOptions::CondSubgraphIndex, "cond_subgraph_index"));
        VRET(sub(opts2, sc::StablehloWhileOptions::BodySubgraphIndex, "body_subgraph_index"));
        break;
      case sc::BuiltinOptions2_StablehloReduceOptions:
        VRET(sub(opts2, sc::StablehloReduceOptions::BodySubgraphIndex, "body_subgraph_index"));
        break;
      case sc::BuiltinOptions2_StablehloReduceWindowOptions:
        VRET(sub(opts2, sc::StablehloReduceWindowOptions::BodySubgraphIndex, "body_subgraph_index"));
        break;
      case sc::BuiltinOptions2_StablehloScatterOptions:
        VRET(sub(opts2, sc::StablehloScatterOptions::UpdateComputationSubgraphIndex,
                 "update_computation_subgraph_index"));
        break;
      case sc::BuiltinOptions2_StablehloSortOptions:
        VRET(sub(opts2, sc::StablehloSortOptions::ComparatorSubgraphIndex, "comparator_subgraph_index"));
        break;
      case sc::BuiltinOptions2_StableHLOCompositeOptions:
        VRET(sub(opts2, sc::StableHLOCompositeOptions::DecompositionSubgraphIndex, "decomposition_subgraph_index"));
        break;
      case sc::BuiltinOptions2_StablehloCaseOptions:
        VRET(sub_vector(opts2, sc::StablehloCaseOptions::BranchSubgraphIndices, "branch_subgraph_indices"));
        break;
      case sc::BuiltinOptions2_StablehloCustomCallOptions:
        VRET(sub_vector(opts2, sc::StablehloCustomCallOptions::CalledComputations, "called_computations"));
        break;
      default: break;
    }
  }

  // Data flow.
  if (o_.check_dataflow) {
    for (uint32_t i = 0; i < inputs.len; ++i) {
      int32_t v = w_.VI32(inputs, i);
      if (v == -1) continue;
      const VerifiedTensor& ti = tensors[v];
      if (!(ti.has_data || ti.zero_elements || ti.is_variable || is_input[v] || (*produced)[v])) {
        return ModelError(where() + Fmt(": input tensor %d is neither a constant, a variable, a subgraph input "
                                        "nor the output of an earlier operator",
                                        v));
      }
    }
    for (uint32_t i = 0; i < outputs.len; ++i) {
      int32_t v = w_.VI32(outputs, i);
      if (tensors[v].has_data) return ModelError(where() + Fmt(": output tensor %d is a constant", v));
      if (is_input[v]) return ModelError(where() + Fmt(": output tensor %d is a subgraph input", v));
      if ((*produced)[v]) {
        return ModelError(where() + Fmt(": output tensor %d is also written by an earlier operator", v));
      }
      (*produced)[v] = 1;
    }
  }
  // Arity last, so the structural messages above keep precedence (the runtime
  // reads past an operator's lists when the counts are wrong).
  // Every builtin kernel writes an output, except those that only change state
  // (SIGN with no outputs crashed the runtime's Prepare); the table's own
  // message comes below for the operators it lists.
  Arity arity_probe;
  if (outputs.len == 0 && code != sc::BuiltinOperator_CUSTOM && code != sc::BuiltinOperator_DELEGATE &&
      code != sc::BuiltinOperator_ASSIGN_VARIABLE && code != sc::BuiltinOperator_CALL_ONCE &&
      code != sc::BuiltinOperator_HASHTABLE_IMPORT && code != sc::BuiltinOperator_CALL &&
      code != sc::BuiltinOperator_IF && code != sc::BuiltinOperator_WHILE &&
      code < sc::BuiltinOperator_STABLEHLO_LOGISTIC && !ArityOf(code, &arity_probe)) {
    return ModelError(where() + ": has 0 output(s), the operator gives at least 1");
  }
  Arity arity;
  if (ArityOf(code, &arity)) {
    if (int64_t(inputs.len) < arity.min_in || (arity.max_in >= 0 && int64_t(inputs.len) > arity.max_in))
      return ModelError(where() + Fmt(": has %u input(s), the operator takes %s", inputs.len,
                                      CountRange(arity.min_in, arity.max_in).c_str()));
    if (int64_t(outputs.len) < arity.min_out || (arity.max_out >= 0 && int64_t(outputs.len) > arity.max_out))
      return ModelError(where() + Fmt(": has %u output(s), the operator gives %s", outputs.len,
                                      CountRange(arity.min_out, arity.max_out).c_str()));
  }
#undef OTRY
  return Status();
}

// ---------------------------------------------------------------------------
// Signatures, metadata, external buffers, call graph
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifySignatures(const TableRef& model) {
  VecRef sigs;
  VTRY(w_.Vector(model, sc::Model::SignatureDefs, &sigs, "signature_defs"), "model");
  if (!sigs.present) return Status();
  VRET(w_.Spend(sigs.len));
  for (uint32_t i = 0; i < sigs.len; ++i) {
    TableRef s;
    VTRY(w_.VecTable(sigs, i, &s), "signature %u", i);
    VecRef ins, outs, key;
    uint32_t sgi;
    VTRY(w_.Vector(s, sc::SignatureDef::Inputs, &ins, "inputs"), "signature %u", i);
    VTRY(w_.Vector(s, sc::SignatureDef::Outputs, &outs, "outputs"), "signature %u", i);
    VTRY(w_.String(s, sc::SignatureDef::SignatureKey, &key, "signature_key"), "signature %u", i);
    VTRY(w_.Read(s, sc::SignatureDef::SubgraphIndex, &sgi, "subgraph_index"), "signature %u", i);
    if (sgi >= nsubgraphs_) {
      return ModelError(Fmt("signature %u ('%s'): subgraph_index %u out of range (model has %u subgraphs)", i,
                            w_.Printable(key).c_str(), sgi, nsubgraphs_));
    }
    const uint32_t nt = subgraphs_[sgi].ntensors;
    for (int side = 0; side < 2; ++side) {
      const VecRef& maps = side == 0 ? ins : outs;
      const std::vector<int32_t>& io = side == 0 ? subgraphs_[sgi].inputs : subgraphs_[sgi].outputs;
      // The runtime pairs a signature's names with the subgraph's inputs/outputs
      // (and throws C++ exceptions on names it cannot find): the same tensors,
      // each once, each with a distinct name.
      if (maps.len != io.size()) {
        return ModelError(Fmt("signature %u ('%s'): lists %u %ss, but subgraph %u has %zu", i,
                              w_.Printable(key).c_str(), maps.len, side ? "output" : "input", sgi, io.size()));
      }
      std::vector<uint8_t> seen(io.size(), 0);
      std::vector<VecRef> names;
      VRET(w_.Spend(maps.len));
      for (uint32_t m = 0; m < maps.len; ++m) {
        TableRef tm;
        VecRef name;
        uint32_t index;
        VTRY(w_.VecTable(maps, m, &tm), "signature %u %s %u", i, side ? "output" : "input", m);
        const char* dir = side ? "output" : "input";
        VTRY(w_.String(tm, sc::TensorMap::Name, &name, "name"), "signature %u %s %u", i, dir, m);
        VTRY(w_.Read(tm, sc::TensorMap::TensorIndex, &index, "tensor_index"), "signature %u %s %u", i, dir, m);
        if (index >= nt) {
          return ModelError(Fmt("signature %u ('%s') %s '%s': tensor index %u out of range (subgraph %u has %u "
                                "tensors)",
                                i, w_.Printable(key).c_str(), side ? "output" : "input",
                                w_.Printable(name).c_str(), index, sgi, nt));
        }
        size_t pos = std::find(io.begin(), io.end(), int32_t(index)) - io.begin();
        if (pos == io.size() || seen[pos]) {
          return ModelError(Fmt("signature %u ('%s') %s '%s': tensor %u is %s of subgraph %u", i,
                                w_.Printable(key).c_str(), dir, w_.Printable(name).c_str(), index,
                                pos == io.size() ? (side ? "not an output" : "not an input")
                                                 : (side ? "listed twice as an output" : "listed twice as an input"),
                                sgi));
        }
        seen[pos] = 1;
        if (!name.present || name.len == 0) {
          return ModelError(Fmt("signature %u ('%s') %s %u: has no name", i, w_.Printable(key).c_str(), dir, m));
        }
        names.push_back(name);
      }
      const uint8_t* base = w_.data();
      auto less = [base](const VecRef& a, const VecRef& b) {
        int c = std::memcmp(base + a.data, base + b.data, std::min(a.len, b.len));
        return c < 0 || (c == 0 && a.len < b.len);
      };
      std::sort(names.begin(), names.end(), less);
      for (size_t k = 1; k < names.size(); ++k) {
        if (!less(names[k - 1], names[k])) {
          return ModelError(Fmt("signature %u ('%s'): two %ss are named '%s'", i, w_.Printable(key).c_str(),
                                side ? "output" : "input", w_.Printable(names[k]).c_str()));
        }
      }
    }
  }
  return Status();
}

Status ModelVerifier::VerifyMetadata(const TableRef& model) {
  const uint32_t nbuffers = uint32_t(buffers_.size());
  VecRef mb;
  VTRY(w_.Vector(model, sc::Model::MetadataBuffer, &mb, "metadata_buffer"), "model");
  VRET(w_.Spend(mb.len));
  for (uint32_t i = 0; i < mb.len; ++i) {
    int32_t v = w_.VI32(mb, i);
    if (v < 0 || uint32_t(v) >= nbuffers) {
      return ModelError(Fmt("model: metadata_buffer[%u] = %d out of range (model has %u buffers)", i, v, nbuffers));
    }
  }
  VecRef md;
  VTRY(w_.Vector(model, sc::Model::Metadata, &md, "metadata"), "model");
  if (!md.present) return Status();
  VRET(w_.Spend(md.len));
  for (uint32_t i = 0; i < md.len; ++i) {
    TableRef m;
    VecRef name;
    uint32_t buffer;
    VTRY(w_.VecTable(md, i, &m), "metadata %u", i);
    VTRY(w_.String(m, sc::Metadata::Name, &name, "name"), "metadata %u", i);
    VTRY(w_.Read(m, sc::Metadata::Buffer, &buffer, "buffer"), "metadata %u", i);
    if (buffer >= nbuffers) {
      return ModelError(Fmt("metadata %u ('%s'): buffer index %u out of range (model has %u buffers)", i,
                            w_.Printable(name).c_str(), buffer, nbuffers));
    }
  }
  return Status();
}

Status ModelVerifier::VerifyExternalBuffers(const TableRef& model) {
  VecRef groups, ext;
  VTRY(w_.Vector(model, sc::Model::ExternalBufferGroups, &groups, "external_buffer_groups"), "model");
  VTRY(w_.Vector(model, sc::Model::ExternalBuffers, &ext, "external_buffers"), "model");
  VRET(w_.Spend(uint64_t(groups.len) + ext.len));
  for (uint32_t i = 0; i < groups.len; ++i) {
    TableRef g;
    VecRef name;
    VTRY(w_.VecTable(groups, i, &g), "external buffer group %u", i);
    VTRY(w_.String(g, sc::ExternalBufferGroup::Name, &name, "name"), "external buffer group %u", i);
  }
  for (uint32_t i = 0; i < ext.len; ++i) {
    TableRef e;
    uint32_t id, group;
    uint64_t offset, length;
    VecRef packing;
    VTRY(w_.VecTable(ext, i, &e), "external buffer %u", i);
    VTRY(w_.Read(e, sc::ExternalBuffer::Id, &id, "id"), "external buffer %u", i);
    VTRY(w_.Read(e, sc::ExternalBuffer::Group, &group, "group"), "external buffer %u", i);
    VTRY(w_.Read(e, sc::ExternalBuffer::Offset, &offset, "offset"), "external buffer %u", i);
    VTRY(w_.Read(e, sc::ExternalBuffer::Length, &length, "length"), "external buffer %u", i);
    VTRY(w_.String(e, sc::ExternalBuffer::Packing, &packing, "packing"), "external buffer %u", i);
    if (group >= groups.len) {
      return ModelError(Fmt("external buffer %u: group %u out of range (model has %u groups)", i, group, groups.len));
    }
    if (offset + length < offset) {
      return ModelError(Fmt("external buffer %u: offset %llu + length %llu overflows", i, ull(offset), ull(length)));
    }
    external_buffer_ids_.push_back(id);
  }
  std::sort(external_buffer_ids_.begin(), external_buffer_ids_.end());
  return Status();
}

// Operators may call other subgraphs (WHILE, IF, CALL_ONCE, STABLEHLO_*): the
// calls must not form a cycle, or preparing the model recurses forever.
Status ModelVerifier::CheckCallGraph() {
  const uint32_t n = nsubgraphs_;
  std::vector<uint8_t> state(n, 0);  // 0 unvisited, 1 on the stack, 2 done
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (uint32_t root = 0; root < n; ++root) {
    if (state[root]) continue;
    stack.clear();
    stack.emplace_back(root, 0);
    state[root] = 1;
    while (!stack.empty()) {
      uint32_t s = stack.back().first;
      size_t& next = stack.back().second;
      const std::vector<int32_t>& callees = subgraphs_[s].callees;
      if (next < callees.size()) {
        uint32_t c = uint32_t(callees[next++]);
        if (state[c] == 1) {
          return ModelError(Fmt("subgraph %u calls subgraph %u, which is already on the call path (the subgraph "
                                "call graph has a cycle)",
                                s, c));
        }
        if (state[c] == 0) {
          state[c] = 1;
          stack.emplace_back(c, 0);
        }
      } else {
        state[s] = 2;
        stack.pop_back();
      }
    }
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Custom operators the runtime implements (their kernels parse the options
// without checking them, and index their inputs from option values)
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyBuiltinCustomOp(const std::string& name, uint64_t begin, uint64_t size,
                                            const VecRef& inputs, const VecRef& outputs,
                                            const std::vector<VerifiedTensor>& tensors, const std::string& where) {
  std::vector<fb::FlexEntry> entries;
  VTRY(fb::ReadFlexRootMap(w_, begin, size, &entries), "%s: custom options", where.c_str());
  auto find = [&](const char* key) -> const fb::FlexEntry* {
    for (const auto& e : entries)
      if (e.key == key) return &e;
    return nullptr;
  };
  // A required number in [lo, hi]; integers must be whole.
  auto number = [&](const char* key, bool integer, double lo, double hi, double* v, bool optional = false,
                    double def = 0) -> Status {
    const fb::FlexEntry* e = find(key);
    if (!e) {
      if (optional) {
        *v = def;
        return Status();
      }
      return ModelError(where + Fmt(": custom options have no '%s'", key));
    }
    if (!e->scalar) return ModelError(where + Fmt(": custom option '%s' is not a number", key));
    const double x = e->value;
    if (!(x >= lo && x <= hi) || (integer && x != double(int64_t(x)))) {
      return ModelError(where + Fmt(": custom option '%s' is %g, expected %s in [%g, %g]", key, x,
                                    integer ? "an integer" : "a number", lo, hi));
    }
    *v = x;
    return Status();
  };
  auto arity = [&](uint32_t nin, uint32_t nout) -> Status {
    if (inputs.len != nin || outputs.len != nout) {
      return ModelError(where + Fmt(": has %u input(s) and %u output(s), the operator takes %u and gives %u",
                                    inputs.len, outputs.len, nin, nout));
    }
    for (uint32_t i = 0; i < nin; ++i)
      if (w_.VI32(inputs, i) < 0) return ModelError(where + Fmt(": input %u is left out (-1)", i));
    return Status();
  };
  // Static shape of input i, or nullptr (dynamic / unknown: the kernel checks at run time).
  auto static_in = [&](uint32_t i) -> const VerifiedTensor* {
    const VerifiedTensor& t = tensors[w_.VI32(inputs, i)];
    return (t.dynamic || t.shape.len == 0) ? nullptr : &t;
  };
  const double kHuge = 1e9;
  if (name == "TFLite_Detection_PostProcess") {
    double max_det, max_cls, per_class, num_classes, v;
    VRET(number("num_classes", true, 1, 1 << 20, &num_classes));
    VRET(number("max_detections", true, 1, 1 << 16, &max_det));
    VRET(number("max_classes_per_detection", true, 1, num_classes, &max_cls));
    VRET(number("detections_per_class", true, 1, 1 << 16, &per_class, true, 100));
    VRET(number("nms_score_threshold", false, -kHuge, kHuge, &v));
    VRET(number("nms_iou_threshold", false, 0, 1, &v));
    for (const char* k : {"y_scale", "x_scale", "h_scale", "w_scale"}) {
      VRET(number(k, false, 1e-6, kHuge, &v));
    }
    VRET(number("use_regular_nms", true, 0, 1, &v, true, 0));
    VRET(arity(3, 4));
    const VerifiedTensor* boxes = static_in(0);
    const VerifiedTensor* scores = static_in(1);
    const VerifiedTensor* anchors = static_in(2);
    if (boxes && (boxes->shape.len != 3 || Dim(*boxes, 2) < 4)) {
      return ModelError(where + ": box encodings (input 0) must be [1, boxes, >= 4], got " +
                        FlatShapeString(w_, boxes->shape));
    }
    if (scores && (scores->shape.len != 3 || Dim(*scores, 2) < int64_t(num_classes) ||
                   (boxes && Dim(*scores, 1) != Dim(*boxes, 1)))) {
      return ModelError(where + Fmt(": class predictions (input 1) must be [1, boxes, >= num_classes (%lld)], got ",
                                    ll(int64_t(num_classes))) +
                        FlatShapeString(w_, scores->shape) +
                        (boxes ? " with box encodings " + FlatShapeString(w_, boxes->shape) : std::string()));
    }
    if (anchors && (anchors->shape.len != 2 || Dim(*anchors, 1) != 4 ||
                    (boxes && Dim(*anchors, 0) != Dim(*boxes, 1)))) {
      return ModelError(where + ": anchors (input 2) must be [boxes, 4], got " + FlatShapeString(w_, anchors->shape) +
                        (boxes ? " with box encodings " + FlatShapeString(w_, boxes->shape) : std::string()));
    }
    for (uint32_t i = 0; i < 3; ++i) {
      const VerifiedTensor& t = tensors[w_.VI32(inputs, i)];
      if (t.type != sc::TensorType_FLOAT32 && t.type != sc::TensorType_UINT8 && t.type != sc::TensorType_INT8) {
        return ModelError(where + Fmt(": input %u has type %s, expected float32, uint8 or int8", i, TypeName(t.type)));
      }
    }
  } else if (name == "AudioSpectrogram") {
    double window, stride, v;
    VRET(number("window_size", true, 2, 1 << 20, &window));
    VRET(number("stride", true, 1, 1 << 20, &stride));
    VRET(number("magnitude_squared", true, 0, 1, &v, true, 0));
    VRET(arity(1, 1));
    const VerifiedTensor* in = static_in(0);
    if (in && in->shape.len != 2) {
      return ModelError(where + ": input 0 must be [samples, channels], got " + FlatShapeString(w_, in->shape));
    }
    if (tensors[w_.VI32(inputs, 0)].type != sc::TensorType_FLOAT32) {
      return ModelError(where + ": input 0 must be float32");
    }
  } else if (name == "Mfcc") {
    double upper, lower, channels, dct;
    VRET(number("upper_frequency_limit", false, 0, kHuge, &upper));
    VRET(number("lower_frequency_limit", false, 0, upper, &lower));
    VRET(number("filterbank_channel_count", true, 1, 1 << 16, &channels));
    VRET(number("dct_coefficient_count", true, 1, channels, &dct));
    VRET(arity(2, 1));
    const VerifiedTensor* spec = static_in(0);
    if (spec && spec->shape.len != 3) {
      return ModelError(where + ": input 0 (spectrogram) must be [channels, frames, bins], got " +
                        FlatShapeString(w_, spec->shape));
    }
    const VerifiedTensor& rate = tensors[w_.VI32(inputs, 1)];
    if (rate.type != sc::TensorType_INT32 || tensors[w_.VI32(inputs, 0)].type != sc::TensorType_FLOAT32) {
      return ModelError(where + ": expects a float32 spectrogram (input 0) and an int32 sample rate (input 1)");
    }
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Value-dependent shapes
// ---------------------------------------------------------------------------
namespace {
// Bit i set: the *values* of input i decide the shape of an output.
uint32_t ShapeDecidingInputs(int32_t code) {
  using namespace sc;
  switch (code) {
    case BuiltinOperator_RESHAPE: case BuiltinOperator_MEAN: case BuiltinOperator_SUM:
    case BuiltinOperator_REDUCE_PROD: case BuiltinOperator_REDUCE_MAX: case BuiltinOperator_REDUCE_MIN:
    case BuiltinOperator_REDUCE_ANY: case BuiltinOperator_REDUCE_ALL: case BuiltinOperator_PAD:
    case BuiltinOperator_PADV2: case BuiltinOperator_MIRROR_PAD: case BuiltinOperator_TILE:
    case BuiltinOperator_BROADCAST_TO: case BuiltinOperator_EXPAND_DIMS: case BuiltinOperator_RESIZE_BILINEAR:
    case BuiltinOperator_RESIZE_NEAREST_NEIGHBOR: case BuiltinOperator_TRANSPOSE: case BuiltinOperator_ARG_MAX:
    case BuiltinOperator_ARG_MIN: case BuiltinOperator_ONE_HOT: case BuiltinOperator_SEGMENT_SUM:
    case BuiltinOperator_SPARSE_TO_DENSE: case BuiltinOperator_MULTINOMIAL: case BuiltinOperator_TOPK_V2:
      return 1u << 1;
    case BuiltinOperator_STRIDED_SLICE: return (1u << 1) | (1u << 2) | (1u << 3);
    case BuiltinOperator_SLICE: case BuiltinOperator_SPACE_TO_BATCH_ND: case BuiltinOperator_BATCH_TO_SPACE_ND:
    case BuiltinOperator_SPLIT_V:
      return (1u << 1) | (1u << 2);
    case BuiltinOperator_SPLIT: case BuiltinOperator_FILL: case BuiltinOperator_TRANSPOSE_CONV:
    case BuiltinOperator_RANDOM_STANDARD_NORMAL: case BuiltinOperator_RANDOM_UNIFORM:
    case BuiltinOperator_WHERE: case BuiltinOperator_UNIQUE:
      return 1u << 0;
    case BuiltinOperator_RANGE: return 7u;
    case BuiltinOperator_BROADCAST_ARGS: return 3u;
    case BuiltinOperator_UNSORTED_SEGMENT_PROD: case BuiltinOperator_UNSORTED_SEGMENT_MAX:
    case BuiltinOperator_UNSORTED_SEGMENT_SUM: case BuiltinOperator_UNSORTED_SEGMENT_MIN:
    case BuiltinOperator_SCATTER_ND: case BuiltinOperator_NON_MAX_SUPPRESSION_V4:
    case BuiltinOperator_NON_MAX_SUPPRESSION_V5:
      return 1u << 2;
    default: return 0;
  }
}
}  // namespace

// An operand whose values decide an output's shape must not depend on the
// values the caller feeds (or on variables): LiteRT sizes buffers at load and
// writes past them when a shape changes at run time (ASan: a heap overflow in
// the warm-up run when a MEAN's axes became a graph input). Values computed
// from *shapes* only (SHAPE, RANK) are fine: that is how dynamic-batch models
// compute their reshapes. Subgraphs called by others (WHILE bodies ...) are
// not checked: their inputs are loop state, not caller data.
Status ModelVerifier::CheckValueDependentShapes() {
  std::vector<uint8_t> called(nsubgraphs_, 0);
  for (const auto& sg : subgraphs_)
    for (int32_t c : sg.callees) called[c] = 1;
  for (uint32_t si = 0; si < nsubgraphs_; ++si) {
    if (called[si]) continue;
    const SubgraphInfo& sg = subgraphs_[si];
    std::vector<int32_t> from(sg.ntensors, -1);  // the graph input a tensor's values derive from
    for (int32_t v : sg.inputs) from[v] = v;
    for (size_t oi = 0; oi < sg.ops.size(); ++oi) {
      const OpRecord& op = sg.ops[oi];
      const uint32_t deciding = ShapeDecidingInputs(op.code);
      for (size_t k = 0; k < op.in.size() && k < 32; ++k) {
        const int32_t v = op.in[k];
        if (!(deciding >> k & 1) || v < 0 || from[v] < 0) continue;
        const int32_t src = from[v];
        return ModelError(Fmt("subgraph %u operator %zu (%s): input %zu (tensor %d) decides the shape of the output "
                              "and is computed from the values of %s; the output's size would change with the "
                              "data, and LiteRT sizes buffers once at load (it writes past them when a shape "
                              "changes at run time). Models whose shapes depend on input values are refused; "
                              "load a model you trust with verify=False",
                              si, oi, OpName(op.code), k, v,
                              src == int32_t(sg.ntensors) ? "a variable"
                                                          : Fmt("graph input tensor %d", src).c_str()));
      }
      if (op.code == sc::BuiltinOperator_SHAPE || op.code == sc::BuiltinOperator_RANK) continue;
      int32_t src = -1;
      if (op.code == sc::BuiltinOperator_READ_VARIABLE) src = int32_t(sg.ntensors);  // marker: a variable
      for (int32_t v : op.in)
        if (v >= 0 && from[v] >= 0) src = from[v];
      if (src < 0) continue;
      for (int32_t v : op.out)
        if (v >= 0) from[v] = src;
    }
  }
  return Status();
}

namespace {
std::string PrintableName(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 64; ++i) out += (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
  return s.size() > 64 ? out + "..." : out;
}
}  // namespace

// Resource variables: every READ_VARIABLE output and ASSIGN_VARIABLE value of
// one variable (VAR_HANDLE container + shared_name, across subgraphs) must
// have the same type and static shape (the runtime copies with the variable's
// size into a tensor sized from the model).
Status ModelVerifier::CheckVariables() {
  struct Var {
    const VerifiedTensor* t = nullptr;
    uint32_t si = 0;
    size_t oi = 0;
  };
  std::vector<std::pair<std::string, Var>> vars;  // few variables: linear search
  for (uint32_t si = 0; si < nsubgraphs_; ++si) {
    const SubgraphInfo& sg = subgraphs_[si];
    std::vector<int32_t> handle_of(sg.ntensors, -1);  // tensor -> index into sg.ops of its VAR_HANDLE
    std::vector<uint8_t> read_output(sg.ntensors, 0);
    for (const OpRecord& op : sg.ops)
      if (op.code == sc::BuiltinOperator_READ_VARIABLE)
        for (int32_t v : op.out)
          if (v >= 0) read_output[v] = 1;
    for (size_t oi = 0; oi < sg.ops.size(); ++oi) {
      const OpRecord& op = sg.ops[oi];
      if (op.code == sc::BuiltinOperator_VAR_HANDLE) {
        if (op.out.size() != 1 || op.out[0] < 0) {
          return ModelError(Fmt("subgraph %u operator %zu (VAR_HANDLE): must have exactly one output", si, oi));
        }
        if (sg.tensors[op.out[0]].type != sc::TensorType_RESOURCE) {
          return ModelError(Fmt("subgraph %u operator %zu (VAR_HANDLE): output tensor %d has type %s, expected "
                                "resource",
                                si, oi, op.out[0], TypeName(sg.tensors[op.out[0]].type)));
        }
        handle_of[op.out[0]] = int32_t(oi);
        continue;
      }
      const bool read = op.code == sc::BuiltinOperator_READ_VARIABLE;
      if (!read && op.code != sc::BuiltinOperator_ASSIGN_VARIABLE) {
        // XNNPACK crashes (the Interpreter too) on a binary operator given the same
        // READ_VARIABLE output twice (ADD(v, v), MUL(v, v): a SIGSEGV in its kernels).
        for (size_t a = 0; a < op.in.size(); ++a) {
          const int32_t v = op.in[a];
          if (v < 0 || !read_output[v]) continue;
          for (size_t b = a + 1; b < op.in.size(); ++b) {
            if (op.in[b] == v) {
              return ModelError(Fmt("subgraph %u operator %zu (%s): takes tensor %d, read from a variable, as both "
                                    "input %zu and input %zu (XNNPACK crashes on this; read the variable twice)",
                                    si, oi, OpName(op.code), v, a, b));
            }
          }
        }
        continue;
      }
      const char* opname = read ? "READ_VARIABLE" : "ASSIGN_VARIABLE";
      const size_t want_in = read ? 1 : 2, want_out = read ? 1 : 0;
      if (op.in.size() != want_in || op.out.size() != want_out) {
        return ModelError(Fmt("subgraph %u operator %zu (%s): has %zu input(s) and %zu output(s), expected %zu and "
                              "%zu",
                              si, oi, opname, op.in.size(), op.out.size(), want_in, want_out));
      }
      for (int32_t v : op.in)
        if (v < 0) return ModelError(Fmt("subgraph %u operator %zu (%s): an input is left out (-1)", si, oi, opname));
      if (sg.tensors[op.in[0]].type != sc::TensorType_RESOURCE) {
        return ModelError(Fmt("subgraph %u operator %zu (%s): input 0 (tensor %d) has type %s, expected resource",
                              si, oi, opname, op.in[0], TypeName(sg.tensors[op.in[0]].type)));
      }
      const int32_t value = read ? op.out[0] : op.in[1];
      const VerifiedTensor& t = sg.tensors[value];
      const int32_t h = handle_of[op.in[0]];
      if (h < 0) continue;  // a handle passed in from a caller: checked where it was made
      const std::string& key = sg.ops[h].var_key;
      Var* known = nullptr;
      for (auto& kv : vars)
        if (kv.first == key) known = &kv.second;
      if (!known) {
        vars.emplace_back(key, Var{&t, si, oi});
        continue;
      }
      const VerifiedTensor& k = *known->t;
      if (k.type != t.type || k.dynamic != t.dynamic || (!t.dynamic && !ShapeEq(k.shape, t.shape))) {
        const size_t nul = key.find('\0');
        return ModelError(Fmt("subgraph %u operator %zu (%s): variable '%s' is used as %s %s here but as %s %s by "
                              "subgraph %u operator %zu",
                              si, oi, opname, PrintableName(key.substr(nul + 1)).c_str(), TypeName(t.type),
                              FlatShapeString(w_, t.shape).c_str(), TypeName(k.type),
                              FlatShapeString(w_, k.shape).c_str(), known->si, known->oi));
      }
    }
  }
  return Status();
}

#undef VTRY
#undef VRET

}  // namespace

Status VerifyModel(const uint8_t* data, size_t size, const VerifyOptions& opts) {
  if (data == nullptr && size != 0) return ModelError("model data is null");
  uint64_t budget = opts.max_work;
  if (budget == 0) budget = (uint64_t(1) << 20) + 2 * uint64_t(size);
  ModelVerifier v(data, size, opts, budget);
  return v.Run();
}

Expected<std::vector<DeclaredInput>> DeclaredInputShapes(const uint8_t* data, size_t size) {
  if (data == nullptr || size < 16) return ModelError("model data too small");
  fb::Reader r(data, size, (uint64_t(1) << 20) + 2 * uint64_t(size));
  std::vector<DeclaredInput> out;
  fb::TableRef model;
  EDGERUN_RETURN_IF_ERROR(r.Table(fb::LoadU32(data), &model));
  fb::VecRef sgs;
  EDGERUN_RETURN_IF_ERROR(r.Vector(model, sc::Model::Subgraphs, &sgs, "subgraphs"));
  for (uint32_t si = 0; sgs.present && si < sgs.len; ++si) {
    fb::TableRef sg;
    EDGERUN_RETURN_IF_ERROR(r.VecTable(sgs, si, &sg));
    fb::VecRef tensors, inputs;
    EDGERUN_RETURN_IF_ERROR(r.Vector(sg, sc::SubGraph::Tensors, &tensors, "tensors"));
    EDGERUN_RETURN_IF_ERROR(r.Vector(sg, sc::SubGraph::Inputs, &inputs, "inputs"));
    for (uint32_t k = 0; inputs.present && k < inputs.len; ++k) {
      const int32_t ti = r.VI32(inputs, k);
      if (!tensors.present || ti < 0 || static_cast<uint32_t>(ti) >= tensors.len) continue;
      fb::TableRef t;
      EDGERUN_RETURN_IF_ERROR(r.VecTable(tensors, static_cast<uint32_t>(ti), &t));
      fb::VecRef name, shape, signature;
      EDGERUN_RETURN_IF_ERROR(r.String(t, sc::Tensor::Name, &name, "name"));
      EDGERUN_RETURN_IF_ERROR(r.Vector(t, sc::Tensor::Shape, &shape, "shape"));
      EDGERUN_RETURN_IF_ERROR(r.Vector(t, sc::Tensor::ShapeSignature, &signature, "shape_signature"));
      const fb::VecRef& dims = signature.present && signature.len == shape.len ? signature : shape;
      DeclaredInput in;
      in.subgraph = si;
      if (name.present) in.name.assign(reinterpret_cast<const char*>(data + name.data), name.len);
      for (uint32_t d = 0; dims.present && d < dims.len; ++d) in.shape.push_back(r.VI32(dims, d));
      out.push_back(std::move(in));
    }
  }
  return out;
}

}  // namespace edgerun
