// Tests for edgerun::VerifyModel (cpp/src/model/verify.cc).
//
// The models are assembled here with a tiny flatbuffer writer (tables are laid
// out front to back, children after their parents), so each test can take a
// valid model and break exactly one thing. Run once under
// -fsanitize=address,undefined: the truncation and byte-flip sweeps then prove
// that no corruption makes the verifier read outside the buffer.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "edgerun/verify.h"

namespace {

// --------------------------------------------------------------------------
// Minimal flatbuffer writer
// --------------------------------------------------------------------------
struct Node;
using NodeP = std::shared_ptr<Node>;

struct Node {
  enum Type { kTable, kScalarVector, kString, kTableVector };
  struct Field {
    int size = 0;
    uint64_t value = 0;
    NodeP ref;         // offset to a child
    bool raw = false;  // value written as-is in a 4-byte offset slot (corruption tests)
  };
  Type type = kTable;
  std::map<int, Field> fields;  // table
  std::vector<uint8_t> bytes;   // scalar vector / string payload
  uint32_t count = 0;           // scalar vector / string element count
  uint32_t elem_size = 1;
  bool nul = true;              // strings: write the terminating NUL
  std::vector<NodeP> elems;     // vector of tables

  Node& Scalar(int slot, int size, uint64_t v) {
    Field f;
    f.size = size;
    f.value = v;
    fields[slot] = f;
    return *this;
  }
  Node& I8(int slot, int8_t v) { return Scalar(slot, 1, uint8_t(v)); }
  Node& U8(int slot, uint8_t v) { return Scalar(slot, 1, v); }
  Node& I32(int slot, int32_t v) { return Scalar(slot, 4, uint32_t(v)); }
  Node& U32(int slot, uint32_t v) { return Scalar(slot, 4, v); }
  Node& U64(int slot, uint64_t v) { return Scalar(slot, 8, v); }
  Node& Ref(int slot, NodeP n) {
    Field f;
    f.size = 4;
    f.ref = std::move(n);
    fields[slot] = f;
    return *this;
  }
  Node& RawOffset(int slot, uint32_t v) {
    Field f;
    f.size = 4;
    f.value = v;
    f.raw = true;
    fields[slot] = f;
    return *this;
  }
  Node& Remove(int slot) {
    fields.erase(slot);
    return *this;
  }
};

NodeP Table() { return std::make_shared<Node>(); }

template <class T>
NodeP Vec(const std::vector<T>& v) {
  auto n = std::make_shared<Node>();
  n->type = Node::kScalarVector;
  n->elem_size = sizeof(T);
  n->count = uint32_t(v.size());
  n->bytes.resize(v.size() * sizeof(T));
  for (size_t i = 0; i < v.size(); ++i) {  // little-endian
    uint64_t x = 0;
    std::memcpy(&x, &v[i], sizeof(T));
    for (size_t b = 0; b < sizeof(T); ++b) n->bytes[i * sizeof(T) + b] = uint8_t(x >> (8 * b));
  }
  return n;
}
NodeP VecI32(const std::vector<int32_t>& v) { return Vec(v); }

NodeP Str(const std::string& s) {
  auto n = std::make_shared<Node>();
  n->type = Node::kString;
  n->bytes.assign(s.begin(), s.end());
  n->count = uint32_t(s.size());
  return n;
}

NodeP Tables(const std::vector<NodeP>& elems) {
  auto n = std::make_shared<Node>();
  n->type = Node::kTableVector;
  n->elems = elems;
  return n;
}

class Writer {
 public:
  std::vector<uint8_t> Write(const NodeP& root) {
    out_.assign(8, 0);
    std::memcpy(&out_[4], "TFL3", 4);
    Enqueue(0, root);
    while (!queue_.empty()) {
      const Node* n = queue_.front();
      queue_.pop_front();
      pos_[n] = Place(*n);
    }
    for (auto& p : patches_) Put(p.first, uint32_t(pos_[p.second] - p.first), 4);
    out_.resize(end_);  // no trailing padding: every truncation then cuts real content
    return out_;
  }

 private:
  void Put(size_t at, uint64_t v, int size) {
    for (int b = 0; b < size; ++b) out_[at + b] = uint8_t(v >> (8 * b));
  }
  void Align(size_t a, size_t extra = 0) {
    while ((out_.size() + extra) % a) out_.push_back(0);
  }
  void Enqueue(size_t at, const NodeP& n) {
    patches_.emplace_back(at, n.get());
    if (queued_.insert(n.get()).second) queue_.push_back(n.get());
  }
  size_t Place(const Node& n) {
    size_t p = PlaceNode(n);
    end_ = out_.size();
    return p;
  }
  size_t PlaceNode(const Node& n) {
    switch (n.type) {
      case Node::kTable: {
        // Fields largest first, each aligned to its size (the table start is 8-aligned).
        std::vector<std::pair<int, const Node::Field*>> order;
        for (auto& f : n.fields) order.emplace_back(f.first, &f.second);
        std::stable_sort(order.begin(), order.end(),
                         [](auto& a, auto& b) { return a.second->size > b.second->size; });
        std::map<int, uint32_t> offs;
        uint32_t cur = 4;
        for (auto& f : order) {
          while (cur % f.second->size) ++cur;
          offs[f.first] = cur;
          cur += f.second->size;
        }
        int nslots = n.fields.empty() ? 0 : n.fields.rbegin()->first + 1;
        Align(2);
        size_t vt = out_.size();
        out_.resize(vt + 4 + 2 * nslots, 0);
        Put(vt, 4 + 2 * nslots, 2);
        Put(vt + 2, cur, 2);
        for (auto& o : offs) Put(vt + 4 + 2 * o.first, o.second, 2);
        Align(8);
        size_t tp = out_.size();
        out_.resize(tp + cur, 0);
        Put(tp, uint32_t(int32_t(tp - vt)), 4);
        for (auto& f : n.fields) {
          size_t at = tp + offs[f.first];
          if (f.second.ref) {
            Enqueue(at, f.second.ref);
          } else {
            Put(at, f.second.value, f.second.size);
          }
        }
        return tp;
      }
      case Node::kScalarVector:
      case Node::kString: {
        Align(n.elem_size > 4 ? n.elem_size : 4, 4);
        size_t p = out_.size();
        out_.resize(p + 4, 0);
        Put(p, n.count, 4);
        out_.insert(out_.end(), n.bytes.begin(), n.bytes.end());
        if (n.type == Node::kString) out_.push_back(n.nul ? 0 : 'X');
        return p;
      }
      case Node::kTableVector: {
        Align(4);
        size_t p = out_.size();
        out_.resize(p + 4 + 4 * n.elems.size(), 0);
        Put(p, n.elems.size(), 4);
        for (size_t i = 0; i < n.elems.size(); ++i) Enqueue(p + 4 + 4 * i, n.elems[i]);
        return p;
      }
    }
    return 0;
  }

  std::vector<uint8_t> out_;
  size_t end_ = 0;
  std::map<const Node*, size_t> pos_;
  std::vector<std::pair<size_t, const Node*>> patches_;
  std::deque<const Node*> queue_;
  std::set<const Node*> queued_;
};

std::vector<uint8_t> Serialize(const NodeP& root) { return Writer().Write(root); }

// --------------------------------------------------------------------------
// Schema helpers (slots as in the TFLite schema)
// --------------------------------------------------------------------------
enum : int32_t { kADD = 0, kCONV_2D = 3, kCUSTOM = 32, kWHILE = 119, kSTABLEHLO_CASE = 209 };
enum : int8_t { kF32 = 0, kI32 = 2, kString = 5, kBool = 6, kI8 = 9 };

NodeP Buffer(const std::vector<uint8_t>& data) {
  auto b = Table();
  if (!data.empty()) b->Ref(0, Vec(data));
  return b;
}
std::vector<uint8_t> FloatBytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}
NodeP Tensor(const std::string& name, std::vector<int32_t> shape, int8_t type, uint32_t buffer) {
  auto t = Table();
  t->Ref(0, VecI32(shape)).I8(1, type).U32(2, buffer).Ref(3, Str(name));
  return t;
}
NodeP OpCode(int32_t code, int32_t version = 1) {
  auto c = Table();
  c->I8(0, int8_t(code < 127 ? code : 127)).I32(2, version).I32(3, code);
  return c;
}
NodeP Operator(uint32_t opcode_index, std::vector<int32_t> in, std::vector<int32_t> out) {
  auto op = Table();
  op->U32(0, opcode_index).Ref(1, VecI32(in)).Ref(2, VecI32(out));
  return op;
}
NodeP TensorMap(const std::string& name, uint32_t index) {
  auto m = Table();
  m->Ref(0, Str(name)).U32(1, index);
  return m;
}

// A small valid model: CONV_2D over [1,4,4,1] with 3x3 weights, plus a
// per-channel quantized int8 constant, a string constant, a signature and metadata.
struct TinyModel {
  NodeP model, subgraph, tensors_vec, ops_vec, op, conv_options, opcode, input, weights, bias, output, qtensor,
      quant, strings, signature, weights_buffer, metadata;
  std::vector<NodeP> tensors, buffers;

  TinyModel() {
    buffers = {Buffer({}),
               Buffer(FloatBytes({1, 2, 3, 4, 5, 6, 7, 8, 9})),
               Buffer(FloatBytes({0.5f})),
               // 2 strings "ab", "c": count, 3 offsets, bytes
               Buffer({2, 0, 0, 0, 16, 0, 0, 0, 18, 0, 0, 0, 19, 0, 0, 0, 'a', 'b', 'c'}),
               Buffer({'1', '.', '5', '.', '0', 0}),
               Buffer({1, 0xff})};
    weights_buffer = buffers[1];
    input = Tensor("input", {1, 4, 4, 1}, kF32, 0);
    input->Ref(7, VecI32({-1, 4, 4, 1}));
    weights = Tensor("weights", {1, 3, 3, 1}, kF32, 1);
    bias = Tensor("bias", {1}, kF32, 2);
    output = Tensor("output", {1, 2, 2, 1}, kF32, 0);
    output->Ref(7, VecI32({-1, 2, 2, 1}));
    qtensor = Tensor("qconst", {2, 1, 1, 1}, kI8, 5);
    quant = Table();
    quant->Ref(2, Vec<float>({0.5f, 0.25f})).Ref(3, Vec<int64_t>({0, 0})).I32(6, 0);
    qtensor->Ref(4, quant);
    strings = Tensor("strings", {2}, kString, 3);
    tensors = {input, weights, bias, output, qtensor, strings};

    conv_options = Table();
    conv_options->I8(0, 1).I32(1, 1).I32(2, 1).I8(3, 0);
    op = Operator(0, {0, 1, 2}, {3});
    op->U8(3, 1).Ref(4, conv_options);
    opcode = OpCode(kCONV_2D);

    subgraph = Table();
    tensors_vec = Tables(tensors);
    ops_vec = Tables({op});
    subgraph->Ref(0, tensors_vec).Ref(1, VecI32({0})).Ref(2, VecI32({3})).Ref(3, ops_vec).Ref(4, Str("main"));

    signature = Table();
    signature->Ref(0, Tables({TensorMap("input", 0)}))
        .Ref(1, Tables({TensorMap("output", 3)}))
        .Ref(2, Str("serving_default"))
        .U32(4, 0);
    metadata = Table();
    metadata->Ref(0, Str("min_runtime_version")).U32(1, 4);

    model = Table();
    model->U32(0, 3)
        .Ref(1, Tables({opcode}))
        .Ref(2, Tables({subgraph}))
        .Ref(3, Str("edgerun test model"))
        .Ref(4, Tables(buffers))
        .Ref(6, Tables({metadata}))
        .Ref(7, Tables({signature}));
  }
  std::vector<uint8_t> Bytes() const { return Serialize(model); }
};

// A model with control flow: subgraph 0 runs WHILE(cond = subgraph 1, body = subgraph 2).
struct WhileModel {
  NodeP model, while_op, while_options;
  std::vector<NodeP> subgraphs;
  WhileModel() {
    auto sg0 = Table();
    while_options = Table();
    while_options->I32(0, 1).I32(1, 2);
    while_op = Operator(1, {0}, {1});
    while_op->U8(3, 93).Ref(4, while_options);
    sg0->Ref(0, Tables({Tensor("x", {1}, kF32, 0), Tensor("y", {1}, kF32, 0)}))
        .Ref(1, VecI32({0}))
        .Ref(2, VecI32({1}))
        .Ref(3, Tables({while_op}));
    auto cond = Table();  // x -> (x < 10)
    cond->Ref(0, Tables({Tensor("x", {1}, kF32, 0), Tensor("ten", {1}, kF32, 1), Tensor("c", {1}, kBool, 0)}))
        .Ref(1, VecI32({0}))
        .Ref(2, VecI32({2}))
        .Ref(3, Tables({Operator(2, {0, 1}, {2})}));
    auto body = Table();  // x -> x + x
    body->Ref(0, Tables({Tensor("x", {1}, kF32, 0), Tensor("y", {1}, kF32, 0)}))
        .Ref(1, VecI32({0}))
        .Ref(2, VecI32({1}))
        .Ref(3, Tables({Operator(0, {0, 0}, {1})}));
    subgraphs = {sg0, cond, body};
    model = Table();
    model->U32(0, 3)
        .Ref(1, Tables({OpCode(kADD), OpCode(kWHILE), OpCode(58 /* LESS */)}))
        .Ref(2, Tables(subgraphs))
        .Ref(4, Tables({Buffer({}), Buffer(FloatBytes({10}))}));
  }
  std::vector<uint8_t> Bytes() const { return Serialize(model); }
};

// --------------------------------------------------------------------------
// Expectations
// --------------------------------------------------------------------------
edgerun::Status Verify(const std::vector<uint8_t>& bytes, const edgerun::VerifyOptions& o = {}) {
  // Exactly-sized heap copy, so that ASan catches any read past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size() ? bytes.size() : 1]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return edgerun::VerifyModel(copy.get(), bytes.size(), o);
}

#define EXPECT_OK(bytes)                                                                     \
  do {                                                                                       \
    edgerun::Status _s = Verify(bytes);                                                      \
    CHECK_MSG(_s.ok(), "expected OK, got: %s", _s.message().c_str());                        \
  } while (0)

#define EXPECT_REJECT(bytes, fragment)                                                       \
  do {                                                                                       \
    edgerun::Status _s = Verify(bytes);                                                      \
    CHECK_MSG(!_s.ok() && _s.code() == edgerun::Code::kModelError &&                         \
                  _s.message().find(fragment) != std::string::npos,                          \
              "expected rejection containing \"%s\", got %s: %s", fragment,                  \
              _s.ok() ? "OK" : "error", _s.message().c_str());                               \
  } while (0)

}  // namespace

// --------------------------------------------------------------------------
// Valid models
// --------------------------------------------------------------------------
TEST(ValidModelsAccepted) {
  EXPECT_OK(TinyModel().Bytes());
  EXPECT_OK(WhileModel().Bytes());
  // Unaligned start address: offsets are relative to the data pointer.
  std::vector<uint8_t> b = TinyModel().Bytes();
  std::vector<uint8_t> shifted(b.size() + 1);
  std::memcpy(shifted.data() + 1, b.data(), b.size());
  CHECK(edgerun::VerifyModel(shifted.data() + 1, b.size()).ok());
}

TEST(OptionalInputMinusOneAccepted) {
  // -1 (an operand left out) only where the kernel reads the operand as optional:
  // FULLY_CONNECTED's bias yes; CONV_2D's bias no (the runtime refuses it, and
  // DEPTHWISE_CONV_2D's crashed XNNPACK).
  TinyModel m;
  m.op->Ref(1, VecI32({0, 1, -1}));
  EXPECT_REJECT(m.Bytes(), "operator 0 (CONV_2D): input 2 is left out (-1), but the operator requires it");
  m.opcode->I8(0, 9).I32(3, 9);  // FULLY_CONNECTED
  EXPECT_OK(m.Bytes());
  m.op->Ref(1, VecI32({0, -1, 2}));
  EXPECT_REJECT(m.Bytes(), "operator 0 (FULLY_CONNECTED): input 1 is left out (-1)");
}

TEST(TensorBytesBounded) {
  // A few hundred bytes must not declare gigabytes of activations.
  TinyModel m;
  m.input->Ref(0, VecI32({1, 1 << 30}));
  m.input->Ref(7, VecI32({1, 1 << 30}));
  EXPECT_REJECT(m.Bytes(), "the model's tensors (other than constants) need more than 2147483648 bytes");
  edgerun::VerifyOptions o;
  o.max_tensor_bytes = uint64_t(1) << 33;
  edgerun::Status s = Verify(m.Bytes(), o);
  CHECK_MSG(s.ok() || s.message().find("need more than") == std::string::npos, "%s", s.message().c_str());
}

TEST(DynamicDimAllowedBySignature) {
  TinyModel m;
  m.input->Ref(0, VecI32({-1, 4, 4, 1}));  // signature says dim 0 is dynamic
  EXPECT_OK(m.Bytes());
  m.input->Ref(7, VecI32({1, 4, 4, 1}));
  EXPECT_REJECT(m.Bytes(), "invalid dimension -1 at index 0");
  m.input->Remove(7);
  EXPECT_REJECT(m.Bytes(), "invalid dimension -1 at index 0");
}

// --------------------------------------------------------------------------
// Structure
// --------------------------------------------------------------------------
TEST(IdentifierAndSize) {
  EXPECT_REJECT(std::vector<uint8_t>(), "too small");
  EXPECT_REJECT(std::vector<uint8_t>(12, 0), "too small");
  std::vector<uint8_t> b = TinyModel().Bytes();
  b[5] = 'X';
  EXPECT_REJECT(b, "TFL3");
  CHECK(!edgerun::VerifyModel(nullptr, 100).ok());
}

TEST(RootOutOfBoundsOrMisaligned) {
  std::vector<uint8_t> b = TinyModel().Bytes();
  b[0] = 0xf0, b[1] = 0xff, b[2] = 0xff, b[3] = 0x7f;
  EXPECT_REJECT(b, "model root table: table at offset 2147483632 lies outside the file");
  b = TinyModel().Bytes();
  b[0] += 2;
  EXPECT_REJECT(b, "misaligned");
}

TEST(OffsetFieldOutsideFile) {
  TinyModel m;
  m.quant->RawOffset(2, 0x7ffffff0);
  EXPECT_REJECT(m.Bytes(), "subgraph 0 tensor 4 ('qconst'): field 'scale' points outside the file");
  TinyModel m2;
  m2.op->RawOffset(4, 0x10000000);  // builtin_options union table
  EXPECT_REJECT(m2.Bytes(), "subgraph 0 operator 0 (CONV_2D): field 'Conv2DOptions' points outside the file");
}

TEST(StringNotTerminated) {
  TinyModel m;
  auto name = Str("weights");
  name->nul = false;
  m.weights->Ref(3, name);
  EXPECT_REJECT(m.Bytes(), "string 'name' at offset");
}

TEST(TruncationAtEveryLengthRejected) {
  for (const std::vector<uint8_t>& full : {TinyModel().Bytes(), WhileModel().Bytes()}) {
    int accepted = 0;
    for (size_t len = 0; len < full.size(); ++len) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + len);
      if (Verify(cut).ok()) ++accepted;
    }
    CHECK_MSG(accepted == 0, "%d truncated copies accepted", accepted);
  }
}

TEST(ByteFlipsNeverCrash) {
  // Every byte, several xor patterns: the verifier must return (ASan/UBSan-clean);
  // most flips are rejected, some (in names, float data) are harmless.
  std::vector<uint8_t> full = TinyModel().Bytes();
  int rejected = 0, total = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t x : {0x01, 0x02, 0x04, 0x10, 0x80, 0xff, 0x7f}) {
      std::vector<uint8_t> b = full;
      b[i] ^= x;
      rejected += !Verify(b).ok();
      ++total;
    }
  }
  CHECK(rejected > total / 3);
  std::printf("  byte flips: %d of %d rejected (model of %zu bytes)\n", rejected, total, full.size());
}

// --------------------------------------------------------------------------
// Cross references
// --------------------------------------------------------------------------
TEST(OperatorTensorIndices) {
  TinyModel m;
  m.op->Ref(1, VecI32({0, 50331833, 2}));
  EXPECT_REJECT(m.Bytes(),
                "subgraph 0 operator 0 (CONV_2D): input tensor index 50331833 out of range (subgraph has 6 tensors)");
  m.op->Ref(1, VecI32({0, -2786, 2}));
  EXPECT_REJECT(m.Bytes(), "input tensor index -2786 out of range");
  m.op->Ref(1, VecI32({0, 1, 2}));
  m.op->Ref(2, VecI32({-1}));
  EXPECT_REJECT(m.Bytes(), "output tensor index -1 out of range");
  m.op->Ref(2, VecI32({6}));
  EXPECT_REJECT(m.Bytes(), "output tensor index 6 out of range");
  m.op->Ref(2, VecI32({3}));
  m.op->Ref(8, VecI32({99}));
  EXPECT_REJECT(m.Bytes(), "intermediate tensor index 99 out of range");
}

TEST(OperatorWithoutInputsAndOutputs) {
  TinyModel m;
  m.op->Remove(1).Remove(2);
  EXPECT_REJECT(m.Bytes(), "operator 0 (CONV_2D): operator has no inputs and no outputs");
  m.op->Ref(1, VecI32({})).Ref(2, VecI32({}));
  EXPECT_REJECT(m.Bytes(), "no inputs and no outputs");
  // CALL_ONCE (runs an initialization subgraph) has neither, legitimately.
  WhileModel w;
  auto call_once_options = Table();
  call_once_options->I32(0, 2);
  auto call_once = Operator(3, {}, {});
  call_once->U8(3, 103).Ref(4, call_once_options);
  w.subgraphs[0]->Ref(3, Tables({call_once, w.while_op}));
  w.model->Ref(1, Tables({OpCode(kADD), OpCode(kWHILE), OpCode(58), OpCode(129 /* CALL_ONCE */)}));
  EXPECT_OK(w.Bytes());
}

TEST(OperatorCodes) {
  TinyModel m;
  m.op->U32(0, 1);
  EXPECT_REJECT(m.Bytes(), "opcode_index 1 out of range (model has 1 operator codes)");
  TinyModel m2;
  m2.opcode->I32(3, 250);
  EXPECT_REJECT(m2.Bytes(), "builtin_code 250 is not a known builtin operator");
  m2.opcode->I32(3, -5);
  EXPECT_REJECT(m2.Bytes(), "builtin_code -5 is not a known builtin operator");
  TinyModel m3;
  m3.opcode->I8(0, -3).I32(3, 0);
  EXPECT_REJECT(m3.Bytes(), "deprecated_builtin_code -3");
  TinyModel m4;
  m4.opcode->I8(0, 127).I32(3, 0);
  EXPECT_REJECT(m4.Bytes(), "but builtin_code is 0");
  TinyModel m5;
  m5.opcode->I32(2, 0);
  EXPECT_REJECT(m5.Bytes(), "operator code 0 (CONV_2D): version 0 is out of range");
  m5.opcode->I32(2, 100000);
  EXPECT_REJECT(m5.Bytes(), "version 100000 is out of range");
  TinyModel m6;
  m6.opcode->I8(0, kCUSTOM).I32(3, kCUSTOM);
  EXPECT_REJECT(m6.Bytes(), "CUSTOM operator without a custom_code");
  m6.opcode->Ref(1, Str("MyOp"));
  m6.op->U8(3, 0).Remove(4);
  EXPECT_OK(m6.Bytes());
}

TEST(ModelVersion) {
  TinyModel m;
  m.model->U32(0, 2);
  EXPECT_REJECT(m.Bytes(), "schema version 2 is not supported");
}

TEST(SubgraphInputsOutputs) {
  TinyModel m;
  m.subgraph->Ref(1, VecI32({7}));
  EXPECT_REJECT(m.Bytes(), "subgraph 0: input 0 is tensor index 7, out of range (subgraph has 6 tensors)");
  TinyModel m2;
  m2.subgraph->Ref(2, VecI32({3, -1}));
  EXPECT_REJECT(m2.Bytes(), "subgraph 0: output 1 is tensor index -1, out of range");
  TinyModel m3;
  m3.model->Ref(2, Tables({}));
  EXPECT_REJECT(m3.Bytes(), "model has no subgraphs");
}

TEST(TensorTypeAndBufferIndex) {
  TinyModel m;
  m.bias->I8(1, 99);
  EXPECT_REJECT(m.Bytes(), "subgraph 0 tensor 2 ('bias'): tensor type 99 is not a known type");
  m.bias->I8(1, -1);
  EXPECT_REJECT(m.Bytes(), "tensor type -1 is not a known type");
  TinyModel m2;
  m2.bias->U32(2, 6);
  EXPECT_REJECT(m2.Bytes(), "subgraph 0 tensor 2 ('bias'): buffer index 6 out of range (model has 6 buffers)");
}

TEST(BufferSizeMatchesShape) {
  TinyModel m;
  m.weights_buffer->Ref(0, Vec<uint8_t>(std::vector<uint8_t>(8, 0)));
  EXPECT_REJECT(m.Bytes(), "tensor 1 ('weights'): buffer 1 holds 8 bytes, but [1,3,3,1] FLOAT32 needs 36 bytes");
  TinyModel m2;
  m2.weights->Ref(0, VecI32({1, 3, 3, 2}));
  EXPECT_REJECT(m2.Bytes(), "needs 72 bytes");
  TinyModel m3;  // a constant tensor cannot have a dynamic dim
  m3.weights->Ref(0, VecI32({-1, 3, 3, 1})).Ref(7, VecI32({-1, 3, 3, 1}));
  EXPECT_REJECT(m3.Bytes(), "constant tensor (buffer 1) has a dynamic shape");
}

TEST(ShapeDimsAndElementCount) {
  TinyModel m;
  m.output->Ref(0, VecI32({1, -2, 2, 1}));
  EXPECT_REJECT(m.Bytes(), "tensor 3 ('output'): shape [1,-2,2,1] has invalid dimension -2 at index 1");
  TinyModel m2;
  m2.output->Ref(0, VecI32({65536, 65536, 65536, 1}));
  EXPECT_REJECT(m2.Bytes(), "has more than 2147483648 elements");
  TinyModel m3;  // 0 dims do not hide an overflow of the other dims
  m3.output->Ref(0, VecI32({0, 2147483647, 2147483647, 2147483647}));
  EXPECT_REJECT(m3.Bytes(), "has more than");
  TinyModel m4;
  edgerun::VerifyOptions o;
  o.max_tensor_elements = 8;
  edgerun::Status s = Verify(m4.Bytes(), o);
  CHECK_MSG(!s.ok() && s.message().find("tensor 0 ('input'): shape [1,4,4,1] has more than 8 elements") !=
                           std::string::npos,
            "%s", s.message().c_str());
  TinyModel m5;
  m5.output->Ref(7, VecI32({-1, 2, -3, 1}));
  EXPECT_REJECT(m5.Bytes(), "shape_signature has invalid dimension -3");
  m5.output->Ref(7, VecI32({-1, 2, 2}));
  EXPECT_REJECT(m5.Bytes(), "different ranks");
  // The signature's element count is bounded too, also when the shape is absent
  // (fuzz_session: the runtime then sizes buffers from the signature).
  TinyModel m6;
  m6.output->Remove(0);
  m6.output->Ref(7, VecI32({2147483647, 2147483647}));
  EXPECT_REJECT(m6.Bytes(), "tensor 3 ('output'): shape_signature [2147483647,2147483647] has more than 2147483648 elements");
  m6.output->Ref(7, VecI32({-1, 65536, 0, 65536}));
  EXPECT_REJECT(m6.Bytes(), "shape_signature [-1,65536,0,65536] has more than");
}

TEST(Quantization) {
  TinyModel m;
  m.quant->Ref(2, Vec<float>({0.5f, 0.25f, 1.0f})).Ref(3, Vec<int64_t>({0, 0, 0}));
  EXPECT_REJECT(m.Bytes(), "tensor 4 ('qconst'): quantization has 3 scales, expected 1 or 2");
  TinyModel m2;
  m2.quant->I32(6, 4);
  EXPECT_REJECT(m2.Bytes(), "quantized_dimension 4 is out of range for rank 4");
  m2.quant->I32(6, -1);
  EXPECT_REJECT(m2.Bytes(), "quantized_dimension -1 is out of range");
  TinyModel m3;
  m3.quant->Ref(3, Vec<int64_t>({0}));
  EXPECT_REJECT(m3.Bytes(), "quantization has 2 scales but 1 zero points");
  TinyModel m4;  // per-tensor
  m4.quant->Ref(2, Vec<float>({0.5f})).Ref(3, Vec<int64_t>({3}));
  EXPECT_OK(m4.Bytes());
  TinyModel m5;
  m5.quant->U8(4, 9);
  EXPECT_REJECT(m5.Bytes(), "quantization details type 9 is not known");
  TinyModel m6;  // blockwise details: scale tensor index must be in range
  auto blockwise = Table();
  blockwise->I32(0, 40).I32(1, -1).I32(2, 32);
  m6.quant->U8(4, 2).Ref(5, blockwise);
  EXPECT_REJECT(m6.Bytes(), "scales tensor index 40 out of range (subgraph has 6 tensors)");
  blockwise->I32(0, 1);
  EXPECT_OK(m6.Bytes());
  blockwise->I32(2, 0);
  EXPECT_REJECT(m6.Bytes(), "invalid block_size 0");
  TinyModel m7;  // details union table with a broken vtable
  auto custom = Table();
  custom->Ref(0, Vec<uint8_t>({1, 2, 3}));
  m7.quant->U8(4, 1).Ref(5, custom);
  EXPECT_OK(m7.Bytes());
  m7.quant->RawOffset(5, 0x20000000);
  EXPECT_REJECT(m7.Bytes(), "field 'details' points outside the file");
}

TEST(StringTensorBuffer) {
  TinyModel m;
  m.buffers[3]->Ref(0, Vec<uint8_t>({2, 0, 0, 0, 16, 0, 0, 0, 18, 0, 0, 0, 99, 0, 0, 0, 'a', 'b', 'c'}));
  EXPECT_REJECT(m.Bytes(), "tensor 5 ('strings'): string buffer offset 99");
  m.buffers[3]->Ref(0, Vec<uint8_t>({3, 0, 0, 0, 16, 0, 0, 0}));
  EXPECT_REJECT(m.Bytes(), "string buffer holds 3 strings, but the shape has 2 elements");
  m.buffers[3]->Ref(0, Vec<uint8_t>({2, 0, 0, 0, 16, 0, 0, 0}));
  EXPECT_REJECT(m.Bytes(), "too small for 2 strings");
}

TEST(ExternalBufferOffsets) {
  TinyModel m;
  std::vector<uint8_t> ok = m.Bytes();
  // Large-model layout: bytes after the flatbuffer; point buffer 1 at the first 36 bytes of the file.
  m.weights_buffer->Remove(0).U64(1, 8).U64(2, 36);
  EXPECT_OK(m.Bytes());
  m.weights_buffer->U64(1, 1ull << 40);
  EXPECT_REJECT(m.Bytes(), "buffer 1: external data at offset 1099511627776 with size 36 lies outside the file");
  m.weights_buffer->U64(1, 8).U64(2, ~0ull);
  EXPECT_REJECT(m.Bytes(), "lies outside the file");
  TinyModel m3;  // external buffer table (data in other files) and the tensors' ids into it
  auto group = Table();
  group->Ref(0, Str("weights.bin"));
  auto ext = Table();
  ext->U32(0, 5).U32(1, 0).U64(2, 0).U64(3, 64).Ref(4, Str("none"));
  m3.model->Ref(8, Tables({group})).Ref(9, Tables({ext}));
  m3.output->U32(10, 5);
  EXPECT_OK(m3.Bytes());
  m3.output->U32(10, 6);
  EXPECT_REJECT(m3.Bytes(), "tensor 3 ('output'): external_buffer id 6 does not name an external buffer");
  ext->U32(1, 3);
  EXPECT_REJECT(m3.Bytes(), "external buffer 0: group 3 out of range (model has 1 groups)");
  TinyModel m2;
  m2.op->U64(9, 16).U64(10, 1u << 30);
  EXPECT_REJECT(m2.Bytes(), "large custom options at offset 16 with size 1073741824 lie outside the file");
}

TEST(OptionsUnionAndConvParameters) {
  TinyModel m;
  m.op->U8(3, 200);
  EXPECT_REJECT(m.Bytes(), "builtin_options_type 200 is not known");
  TinyModel m2;
  m2.op->U8(11, 60);
  EXPECT_REJECT(m2.Bytes(), "builtin_options_2_type 60 is not known");
  TinyModel m3;
  m3.conv_options->I32(1, 0);
  EXPECT_REJECT(m3.Bytes(), "operator 0 (CONV_2D): stride_w is 0, must be >= 1");
  TinyModel m4;
  m4.op->U8(3, 11);  // AddOptions on a CONV_2D
  EXPECT_REJECT(m4.Bytes(), "operator 0 (CONV_2D): operator has no Conv2DOptions");
  TinyModel m5;  // a union table whose layout does not fit the declared type
  m5.op->U8(3, 5);  // Pool2DOptions: filter_width (4 bytes) would overlap the end of the table
  EXPECT_REJECT(m5.Bytes(), "Pool2DOptions: field 'slot 3' at offset 13 lies outside its table (size 14)");
  TinyModel m6;  // a vector field inside an options table is checked too
  auto reshape = Table();
  reshape->RawOffset(0, 0x40000000);
  m6.op->U8(3, 17).Ref(4, reshape);
  m6.opcode->I8(0, 22).I32(3, 22);  // RESHAPE
  EXPECT_REJECT(m6.Bytes(), "(RESHAPE): ReshapeOptions: field 'slot 0' points outside the file");
}

TEST(SignatureDefs) {
  TinyModel m;
  m.signature->U32(4, 3);
  EXPECT_REJECT(m.Bytes(), "signature 0 ('serving_default'): subgraph_index 3 out of range (model has 1 subgraphs)");
  TinyModel m2;
  m2.signature->Ref(1, Tables({TensorMap("output", 17)}));
  EXPECT_REJECT(m2.Bytes(), "signature 0 ('serving_default') output 'output': tensor index 17 out of range");
}

TEST(MetadataBuffers) {
  TinyModel m;
  m.metadata->U32(1, 77);
  EXPECT_REJECT(m.Bytes(), "metadata 0 ('min_runtime_version'): buffer index 77 out of range");
  TinyModel m2;
  m2.model->Ref(5, VecI32({1, -4}));
  EXPECT_REJECT(m2.Bytes(), "metadata_buffer[1] = -4 out of range");
}

TEST(SubgraphReferencesAndCycles) {
  WhileModel w;
  w.while_options->I32(1, 7);
  EXPECT_REJECT(w.Bytes(), "subgraph 0 operator 0 (WHILE): body_subgraph_index subgraph index 7 out of range");
  WhileModel w2;
  w2.while_options->I32(1, 0);  // body = the calling subgraph
  EXPECT_REJECT(w2.Bytes(), "subgraph 0 calls subgraph 0");
  WhileModel w3;
  w3.while_op->U8(3, 0).Remove(4);
  EXPECT_REJECT(w3.Bytes(), "operator 0 (WHILE): operator has no WhileOptions");
  WhileModel w4;  // the body subgraph runs a WHILE whose body is itself
  auto inner_options = Table();
  inner_options->I32(0, 1).I32(1, 2);
  auto inner = Operator(1, {0}, {1});
  inner->U8(3, 93).Ref(4, inner_options);
  w4.subgraphs[2]->Ref(3, Tables({inner}));
  EXPECT_REJECT(w4.Bytes(), "the subgraph call graph has a cycle");
  WhileModel w5;  // STABLEHLO_CASE with a branch list
  auto case_options = Table();
  case_options->Ref(0, VecI32({1, 2, 9}));
  auto case_op = Operator(3, {0}, {1});
  case_op->U8(11, 23).Ref(12, case_options);
  w5.subgraphs[0]->Ref(3, Tables({case_op}));
  w5.model->Ref(1, Tables({OpCode(kADD), OpCode(kWHILE), OpCode(58), OpCode(kSTABLEHLO_CASE)}));
  EXPECT_REJECT(w5.Bytes(), "branch_subgraph_indices subgraph index 9 out of range");
  case_options->Ref(0, VecI32({1, 2}));
  EXPECT_OK(w5.Bytes());
}

TEST(DataFlow) {
  TinyModel m;
  m.op->Ref(2, VecI32({1}));  // writes the constant weights
  EXPECT_REJECT(m.Bytes(), "output tensor 1 is a constant");
  TinyModel m2;
  m2.op->Ref(2, VecI32({0}));
  EXPECT_REJECT(m2.Bytes(), "output tensor 0 is a subgraph input");
  TinyModel m3;
  m3.op->Ref(1, VecI32({3, 1, 2}));  // reads its own output, produced by nobody before
  EXPECT_REJECT(m3.Bytes(), "input tensor 3 is neither a constant");
  edgerun::VerifyOptions o;
  o.check_dataflow = false;
  CHECK(Verify(m3.Bytes(), o).ok());
  TinyModel m4;
  m4.ops_vec->elems.push_back(m4.op);  // the same operator twice writes the same output twice
  EXPECT_REJECT(m4.Bytes(), "operator 1 (CONV_2D): output tensor 3 is also written by an earlier operator");
}

TEST(Sparsity) {
  // A 4x4 float matrix, row-major, CSR in dim 1: rows hold 1, 1, 0, 1 values.
  auto make = [](std::vector<uint8_t> indices, std::vector<int32_t> segments, size_t nvalues) {
    TinyModel m;
    auto seg = Table();
    seg->Ref(0, VecI32(segments));
    auto idx = Table();
    idx->Ref(0, Vec<uint8_t>(indices));
    auto dense = Table();
    dense->I8(0, 0).I32(1, 4);
    auto csr = Table();
    csr->I8(0, 1).U8(2, 1).Ref(3, seg).U8(4, 3).Ref(5, idx);
    auto sp = Table();
    sp->Ref(0, VecI32({0, 1})).Ref(2, Tables({dense, csr}));
    auto t = Tensor("sparse", {4, 4}, kF32, 6);
    t->Ref(6, sp);
    m.tensors_vec->elems.push_back(t);
    m.buffers.push_back(Buffer(FloatBytes(std::vector<float>(nvalues, 1.0f))));
    m.model->Ref(4, Tables(m.buffers));
    return m.Bytes();
  };
  EXPECT_OK(make({0, 2, 3}, {0, 1, 2, 2, 3}, 3));
  EXPECT_REJECT(make({0, 4, 3}, {0, 1, 2, 2, 3}, 3), "array_indices[1] = 4 out of range (dimension size 4)");
  EXPECT_REJECT(make({0, 2, 3}, {0, 2, 1, 2, 3}, 3), "array_segments[2] = 1 is invalid");
  EXPECT_REJECT(make({0, 2, 3}, {0, 1, 2, 3}, 3), "4 array_segments, expected 5");
  EXPECT_REJECT(make({0, 2, 3}, {0, 1, 2, 2, 3}, 16), "buffer 6 holds 64 bytes, but sparse [4,4] FLOAT32 needs 12");
}

TEST(DequantizeOfConstantKeepsItsShape) {
  // XNNPACK unpacks DEQUANTIZE(constant) ahead of time with the declared output shape.
  TinyModel m;
  auto fp16 = Tensor("w_fp16", {1, 3, 3, 1}, 1 /* FLOAT16 */, 6);
  auto deq_out = Tensor("w", {1, 3, 3, 1}, kF32, 0);
  m.tensors_vec->elems.push_back(fp16);     // tensor 6
  m.tensors_vec->elems.push_back(deq_out);  // tensor 7
  m.buffers.push_back(Buffer(std::vector<uint8_t>(18, 0)));
  m.model->Ref(4, Tables(m.buffers));
  auto deq = Operator(1, {6}, {7});
  m.ops_vec->elems.insert(m.ops_vec->elems.begin(), deq);
  m.op->Ref(1, VecI32({0, 7, 2}));
  m.model->Ref(1, Tables({m.opcode, OpCode(6 /* DEQUANTIZE */)}));
  EXPECT_OK(m.Bytes());
  deq_out->Ref(0, VecI32({1, 3, 41219, 1}));
  EXPECT_REJECT(m.Bytes(), "operator 0 (DEQUANTIZE): output tensor 7 has shape [1,3,41219,1], but the constant input "
                           "tensor 6 has shape [1,3,3,1]");
}

TEST(ShapeRulesOfCommonOperators) {
  // The runtime re-infers output shapes; an output larger than declared would
  // overrun buffers sized from the model, so static shapes must agree.
  WhileModel w;  // body: y = x + x, shapes [1]
  std::vector<uint8_t> ok = w.Bytes();
  EXPECT_OK(ok);
  auto body_tensors = Tables({Tensor("x", {1}, kF32, 0), Tensor("y", {3}, kF32, 0)});
  w.subgraphs[2]->Ref(0, body_tensors);
  EXPECT_REJECT(w.Bytes(), "subgraph 2 operator 0 (ADD): output tensor 1 has shape [3], but inputs [1] and [1] "
                           "broadcast to [1]");
  body_tensors->elems[0]->Ref(0, VecI32({2, 3}));
  EXPECT_REJECT(w.Bytes(), "broadcast to [2,3]");
  body_tensors->elems[1]->Ref(0, VecI32({2, 3}));
  EXPECT_OK(w.Bytes());
  body_tensors->elems[1]->Ref(0, VecI32({2, 4}));
  body_tensors->elems[0]->Ref(0, VecI32({-1, 4})).Ref(7, VecI32({-1, 4}));  // dynamic: left to the runtime
  EXPECT_OK(w.Bytes());
  TinyModel m;  // a shape-preserving unary operator
  auto relu_out = Tensor("relu", {1, 2, 2, 1}, kF32, 0);
  m.tensors_vec->elems.push_back(relu_out);  // tensor 6
  auto relu = Operator(1, {3}, {6});
  m.ops_vec->elems.push_back(relu);
  m.model->Ref(1, Tables({m.opcode, OpCode(19 /* RELU */)}));
  EXPECT_OK(m.Bytes());
  relu_out->Ref(0, VecI32({140, 32}));
  EXPECT_REJECT(m.Bytes(), "operator 1 (RELU): output tensor 6 has shape [140,32], but input tensor 3 has shape "
                           "[1,2,2,1]");
}

TEST(ShapeRulesWithConstantParameters) {
  // PAD with constant paddings and RESIZE_* with a constant size: a corrupted
  // parameter would make the runtime's output far larger than declared.
  auto make = [](std::vector<int32_t> paddings, std::vector<int32_t> pad_out, std::vector<int32_t> size,
                 std::vector<int32_t> resize_out) {
    TinyModel m;
    std::vector<uint8_t> pbytes(paddings.size() * 4), sbytes(size.size() * 4);
    std::memcpy(pbytes.data(), paddings.data(), pbytes.size());
    std::memcpy(sbytes.data(), size.data(), sbytes.size());
    m.buffers.push_back(Buffer(pbytes));  // 6
    m.buffers.push_back(Buffer(sbytes));  // 7
    m.model->Ref(4, Tables(m.buffers));
    m.tensors_vec->elems.push_back(Tensor("paddings", {4, 2}, kI32, 6));  // 6
    m.tensors_vec->elems.push_back(Tensor("padded", pad_out, kF32, 0));    // 7
    m.tensors_vec->elems.push_back(Tensor("size", {2}, kI32, 7));          // 8
    m.tensors_vec->elems.push_back(Tensor("resized", resize_out, kF32, 0));  // 9
    m.ops_vec->elems.push_back(Operator(1, {0, 6}, {7}));
    m.ops_vec->elems.push_back(Operator(2, {0, 8}, {9}));
    m.model->Ref(1, Tables({m.opcode, OpCode(34 /* PAD */), OpCode(23 /* RESIZE_BILINEAR */)}));
    return m.Bytes();
  };
  EXPECT_OK(make({0, 0, 1, 1, 0, 2, 0, 0}, {1, 6, 6, 1}, {8, 8}, {1, 8, 8, 1}));
  EXPECT_REJECT(make({45312, 0, 1, 1, 0, 2, 0, 0}, {1, 6, 6, 1}, {8, 8}, {1, 8, 8, 1}),
                "operator 1 (PAD): output tensor 7 has shape [1,6,6,1], but input [1,4,4,1] with constant paddings "
                "tensor 6 gives [45313,6,6,1]");
  EXPECT_REJECT(make({0, -1, 1, 1, 0, 2, 0, 0}, {1, 6, 6, 1}, {8, 8}, {1, 8, 8, 1}),
                "padding [0, -1] of dimension 0 is invalid");
  EXPECT_REJECT(make({0, 0, 1, 1, 0, 2, 0, 0}, {1, 6, 6, 1}, {8, 80000}, {1, 8, 8, 1}),
                "operator 2 (RESIZE_BILINEAR): output tensor 9 has shape [1,8,8,1], but input [1,4,4,1] with constant "
                "size tensor 8 gives [1,8,80000,1]");
}

// FlexBuffer map {max_detections: 10, num_classes: 3, nms_iou_threshold: 0.5,
// use_regular_nms: false, name: "ssd", v: [1, 2, 3]} (flatbuffers.flexbuffers.Dumps).
const std::vector<uint8_t> kFlexOptions = {
    0x6d, 0x61, 0x78, 0x5f, 0x64, 0x65, 0x74, 0x65, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x73, 0x00, 0x6e, 0x75, 0x6d, 0x5f,
    0x63, 0x6c, 0x61, 0x73, 0x73, 0x65, 0x73, 0x00, 0x6e, 0x6d, 0x73, 0x5f, 0x69, 0x6f, 0x75, 0x5f, 0x74, 0x68, 0x72,
    0x65, 0x73, 0x68, 0x6f, 0x6c, 0x64, 0x00, 0x75, 0x73, 0x65, 0x5f, 0x72, 0x65, 0x67, 0x75, 0x6c, 0x61, 0x72, 0x5f,
    0x6e, 0x6d, 0x73, 0x00, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x03, 0x73, 0x73, 0x64, 0x00, 0x76, 0x00, 0x03, 0x01, 0x02,
    0x03, 0x04, 0x04, 0x04, 0x06, 0x51, 0x15, 0x38, 0x45, 0x28, 0x0f, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x06, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x25, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x03, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x06, 0x14, 0x0e, 0x06, 0x6a, 0x28, 0x1e, 0x26, 0x01};

TEST(FlexBufferCustomOptions) {
  // Custom operators the runtime implements itself (TFLite_Detection_PostProcess,
  // Mfcc, AudioSpectrogram) parse their options unchecked: verify them as FlexBuffers.
  auto make = [](const std::vector<uint8_t>& options, const char* name) {
    TinyModel m;
    m.opcode->I8(0, kCUSTOM).I32(3, kCUSTOM).Ref(1, Str(name));
    m.op->U8(3, 0).Remove(4).Ref(5, Vec<uint8_t>(options));
    return m.Bytes();
  };
  // Structurally fine, but the detection operator's required keys are missing
  // (the kernel would read zeros: its options are checked key by key).
  EXPECT_REJECT(make(kFlexOptions, "TFLite_Detection_PostProcess"),
                "'TFLite_Detection_PostProcess': custom options have no 'max_classes_per_detection'");
  EXPECT_REJECT(make({}, "Mfcc"), "operator 0 (CUSTOM) 'Mfcc': has no custom options");
  std::vector<uint8_t> cut(kFlexOptions.begin(), kFlexOptions.end() - 1);
  EXPECT_REJECT(make(cut, "TFLite_Detection_PostProcess"),
                "operator 0 (CUSTOM) 'TFLite_Detection_PostProcess': custom options: FlexBuffer root width 38 is "
                "invalid");
  std::vector<uint8_t> bad = kFlexOptions;
  bad[84] = 0x7f;  // the offset from the map to its keys vector
  EXPECT_REJECT(make(bad, "TFLite_Detection_PostProcess"), "FlexBuffer");
  EXPECT_OK(make(bad, "SomeoneElsesOp"));  // other custom ops own their option format
  // Every single-byte corruption is handled (ASan-clean), most are rejected.
  int rejected = 0;
  for (size_t i = 0; i < kFlexOptions.size(); ++i) {
    for (uint8_t x : {0x01, 0x08, 0x80, 0xff}) {
      std::vector<uint8_t> o = kFlexOptions;
      o[i] ^= x;
      rejected += !Verify(make(o, "Mfcc")).ok();
    }
  }
  std::printf("  FlexBuffer flips: %d of %zu rejected\n", rejected, 4 * kFlexOptions.size());
  CHECK(rejected > 0);
}

// --------------------------------------------------------------------------
// Bounded work
// --------------------------------------------------------------------------
TEST(WorkLimit) {
  edgerun::VerifyOptions o;
  o.max_work = 20;
  edgerun::Status s = Verify(TinyModel().Bytes(), o);
  CHECK_MSG(!s.ok() && s.message().find("work limit") != std::string::npos, "%s", s.message().c_str());

  // A "table bomb": 60000 tensor entries all pointing at one tensor whose shape has
  // 60000 dims of 1 (about 0.5 MB). Without the budget this is 3.6e9 steps.
  TinyModel m;
  std::vector<int32_t> ones(60000, 1);
  auto big = Tensor("big", ones, kF32, 0);
  std::vector<NodeP> many(m.tensors);
  many.resize(60000, big);
  m.subgraph->Ref(0, Tables(many));
  std::vector<uint8_t> bomb = m.Bytes();
  auto t0 = std::chrono::steady_clock::now();
  s = Verify(bomb);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK_MSG(!s.ok() && s.message().find("work limit") != std::string::npos, "%s", s.message().c_str());
  CHECK_MSG(ms < 2000, "table bomb took %.0f ms", ms);
  std::printf("  table bomb (%zu bytes) rejected in %.1f ms\n", bomb.size(), ms);
}

TEST_MAIN()
