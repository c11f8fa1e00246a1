// edgerun: the tensor vocabulary shared by the runtime, the preprocessing and
// the decoding heads: element types, tensor descriptions, shape text, and IEEE
// half <-> float conversion. Nothing here depends on the runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace edgerun {

enum class DType : int {
  kUnknown = 0,
  kFloat32,
  kFloat16,
  kFloat64,
  kInt8,
  kUInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kUInt64,
  kBool,
  kComplex64,
};
size_t DTypeSize(DType dtype);       // bytes per element; 0 for kUnknown
const char* DTypeName(DType dtype);  // numpy spelling: "float32", "int8", ...

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // current shape (after any resize)
  DType dtype = DType::kUnknown;
  size_t nbytes = 0;           // product(shape) * itemsize
  // Per-tensor quantization; scale 0 and zero_point 0 when not quantized.
  float scale = 0.0f;
  int64_t zero_point = 0;
  // Per-channel quantization (empty unless the tensor is per-channel quantized).
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  int quantized_dimension = -1;
};

// Shapes in messages: "[1, 224, 224, 3]"; ShapeTupleString writes the numpy
// spelling "(1, 224, 224, 3)" ("(10,)" for one dim), for messages that quote a
// numpy array's shape.
std::string ShapeString(const std::vector<int64_t>& shape);
std::string ShapeTupleString(const std::vector<int64_t>& shape);

// IEEE half -> float: exact for every half, NaN payloads and Inf kept (no F16C
// needed). Inline: the decoding heads and the kernels' scalar tails call them
// per element.
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// float -> IEEE half, round to nearest even, like F16C (vcvtps2ph) and NEON
// fcvtn (F. Giesen's float_to_half_fast3_rtne).
inline uint16_t FloatToHalf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  uint32_t o;
  if (u >= (127u + 16u) << 23) {
    o = (u > (255u << 23)) ? 0x7e00u : 0x7c00u;
  } else if (u < (113u << 23)) {
    const uint32_t magic_u = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    float magic, ff;
    std::memcpy(&magic, &magic_u, 4);
    std::memcpy(&ff, &u, 4);
    ff += magic;
    uint32_t r;
    std::memcpy(&r, &ff, 4);
    o = r - magic_u;
  } else {
    const uint32_t mant_odd = (u >> 13) & 1u;
    u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
    u += mant_odd;
    o = u >> 13;
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}


}  // namespace edgerun
