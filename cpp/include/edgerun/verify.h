// edgerun: verification of .tflite (LiteRT flatbuffer) model bytes.
//
// The LiteRT C API does not verify the flatbuffer it is given: truncated or
// corrupted model files crash or hang the process. VerifyModel() checks, before
// the runtime sees the bytes:
//  - structure: identifier "TFL3", every table / vtable / vector / string /
//    union reached from Model in bounds and aligned, strings NUL-terminated,
//    option tables of both builtin-options unions field by field, FlexBuffer
//    custom options of the custom operators the runtime implements itself;
//  - references: operator codes (known builtin codes, sane versions), tensor
//    indices of operators / subgraphs / signatures / quantization details,
//    buffer indices, buffer and custom-option byte ranges, subgraph indices
//    held in options (WHILE, IF, CALL_ONCE, STABLEHLO_*) and no call cycles;
//  - tensors: known types, dims >= 0 (-1 only where the shape signature says
//    dynamic), element counts bounded, constant data size = shape x type size
//    (string buffers parsed, sparse tensors counted through their metadata),
//    quantization vectors consistent with quantized_dimension;
//  - operators: no operator without inputs and outputs (except CALL_ONCE),
//    strides/dilations/filter sizes >= 1 where a zero would divide by zero,
//    static output shapes of common operators consistent with their inputs,
//    and data flow (see VerifyOptions::check_dataflow), required inputs not
//    left out (-1), operator arity for the builtin operators whose kernels
//    read their lists unchecked;
//  - the custom operators the runtime implements (TFLite_Detection_PostProcess,
//    AudioSpectrogram, Mfcc): options present, required keys, ranges, arity and
//    input shapes;
//  - subgraph inputs/outputs: no repeats, no more than the tensors;
//  - resource variables: the same type and shape wherever one is read/assigned;
//  - no shape that depends on input values (see allow_value_dependent_shapes);
//  - signatures: their inputs/outputs are exactly the subgraph's, names unique.
// It reads the bytes only, allocates in proportion to the number of buffers,
// tensors and subgraphs, needs no other library, runs in time linear in the
// file size, and stops after a bounded amount of work.
#pragma once

#include <cstddef>
#include <cstdint>

#include <string>
#include <vector>

#include "edgerun/status.h"

namespace edgerun {

struct VerifyOptions {
  // Largest number of elements one tensor may have (product of its dims; a 0
  // or dynamic (-1) dim counts as 1 so that no partial product can overflow).
  size_t max_tensor_elements = size_t(1) << 31;
  // Largest total size in bytes of the model's non-constant tensors (all
  // subgraphs; dynamic dims counted as 1): what the runtime allocates for
  // activations, inputs and outputs is at most this. 2 GiB is far above what
  // edge models declare (the largest vision models tried stay under 200 MB) and
  // below what a file of a few hundred bytes could otherwise make it take.
  uint64_t max_tensor_bytes = uint64_t(2) << 30;
  // Upper bound on the work done (tables visited + vector elements examined).
  // 0 = automatic: 2^20 + 2 * size, far above what a well-formed model needs
  // (a model that shares sub-tables to multiply the work is rejected).
  uint64_t max_work = 0;
  // Per-subgraph data flow: every operator input is a constant, a variable, a
  // subgraph input or the output of an earlier operator; no operator writes a
  // constant tensor or a subgraph input, and no tensor is written twice.
  bool check_dataflow = true;
  // Operands whose values decide an output's shape (RESHAPE's shape, MEAN's
  // axes, STRIDED_SLICE's begin/end, PAD's paddings ...) may be computed from
  // the values of graph inputs or variables. Off by default: LiteRT sizes
  // buffers at load and writes past them when such a shape changes at run time.
  bool allow_value_dependent_shapes = false;
};

// OK, or a Status with Code::kModelError whose message says what is wrong and
// where, e.g. "subgraph 0 operator 12 (CONV_2D): input tensor index 50331833
// out of range (subgraph has 87 tensors)". `data` may have any alignment;
// offsets and alignment are checked relative to `data`.
Status VerifyModel(const uint8_t* data, size_t size, const VerifyOptions& opts = {});

// The declared shape of every subgraph input tensor, by tensor name (in
// subgraph order; shape_signature where the model has one, so a dynamic
// dimension reads -1, else shape). Bounds-checked: safe on unverified bytes.
struct DeclaredInput {
  uint32_t subgraph = 0;
  std::string name;
  std::vector<int64_t> shape;
};
Expected<std::vector<DeclaredInput>> DeclaredInputShapes(const uint8_t* data, size_t size);

}  // namespace edgerun
