// Implements edgerun/preprocess.h: names, frames and outputs from arrays, spec
// validation, geometry (roi/crop/rotate/flip/fit -> tap tables), kernel
// configurations and the plan cache (a plan fixes its kernel when it is
// built), the optional row-split thread pool, and the Transform.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <mutex>
#include <thread>
#include <vector>

#include "edgerun/cpu.h"
#include "edgerun/preprocess.h"
#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {

// Sizes every user number is checked against (in 64 bits) before it is
// narrowed to int or multiplied: frames up to 2^20 pixels on a side, model
// inputs up to 2^16.
constexpr int kMaxFrameSide = 1 << 20;
constexpr int kMaxOutputSide = 1 << 16;

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------
namespace {
const char* const kFormatNames[] = {"rgb", "bgr", "rgba", "bgra", "gray", "nv12", "nv21", "i420", "yuyv", "uyvy"};
const char* const kFitNames[] = {"stretch", "letterbox", "crop"};
const char* const kInterpNames[] = {"bilinear", "nearest", "area"};
const char* const kChannelNames[] = {"rgb", "bgr", "gray"};
const char* const kLayoutNames[] = {"nhwc", "nchw"};
const char* const kElemNames[] = {"float32", "float16", "uint8", "int8"};
const char* const kMatrixNames[] = {"bt601", "bt709"};
const char* const kRangeNames[] = {"limited", "full"};
const char* const kSamplingNames[] = {"yuv", "rgb"};
const char* const kIsaNames[] = {"auto", "scalar", "avx2", "neon"};
template <size_t N>
constexpr NameTable Table(const char* option, const char* const (&names)[N]) {
  return NameTable{option, names, static_cast<int>(N)};
}
}  // namespace

const char* Name(PixelFormat v) { return OptionName(v); }
const char* Name(Fit v) { return OptionName(v); }
const char* Name(Interpolation v) { return OptionName(v); }
const char* Name(Channels v) { return OptionName(v); }
const char* Name(Layout v) { return OptionName(v); }
const char* Name(ElemType v) { return OptionName(v); }
const char* Name(YuvMatrix v) { return OptionName(v); }
const char* Name(YuvRange v) { return OptionName(v); }
const char* Name(YuvSampling v) { return OptionName(v); }
const char* Name(Isa v) { return OptionName(v); }
Expected<PixelFormat> ParsePixelFormat(const std::string& s) { return ParseOption<PixelFormat>(s); }
Expected<Fit> ParseFit(const std::string& s) { return ParseOption<Fit>(s); }
Expected<Interpolation> ParseInterpolation(const std::string& s) { return ParseOption<Interpolation>(s); }
Expected<Channels> ParseChannels(const std::string& s) { return ParseOption<Channels>(s); }
Expected<Layout> ParseLayout(const std::string& s) { return ParseOption<Layout>(s); }
Expected<ElemType> ParseElemType(const std::string& s) { return ParseOption<ElemType>(s); }
Expected<YuvMatrix> ParseYuvMatrix(const std::string& s) { return ParseOption<YuvMatrix>(s); }
Expected<YuvRange> ParseYuvRange(const std::string& s) { return ParseOption<YuvRange>(s); }
Expected<YuvSampling> ParseYuvSampling(const std::string& s) { return ParseOption<YuvSampling>(s); }
Expected<Isa> ParseIsa(const std::string& s) { return ParseOption<Isa>(s); }

}  // namespace preprocess

#define EDGERUN_NAMES(E, option, names)           \
  template <>                                     \
  const NameTable& NamesOf<preprocess::E>() {     \
    static constexpr NameTable t = preprocess::Table(option, preprocess::names); \
    return t;                                     \
  }
EDGERUN_NAMES(PixelFormat, "format", kFormatNames)
EDGERUN_NAMES(Fit, "fit", kFitNames)
EDGERUN_NAMES(Interpolation, "interpolation", kInterpNames)
EDGERUN_NAMES(Channels, "channels", kChannelNames)
EDGERUN_NAMES(Layout, "layout", kLayoutNames)
EDGERUN_NAMES(ElemType, "dtype", kElemNames)
EDGERUN_NAMES(YuvMatrix, "color", kMatrixNames)
EDGERUN_NAMES(YuvRange, "yuv_range", kRangeNames)
EDGERUN_NAMES(YuvSampling, "yuv_sampling", kSamplingNames)
EDGERUN_NAMES(Isa, "isa", kIsaNames)
#undef EDGERUN_NAMES

namespace preprocess {

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------
int PackedChannels(PixelFormat f) {
  switch (f) {
    case PixelFormat::kRGB: case PixelFormat::kBGR: return 3;
    case PixelFormat::kRGBA: case PixelFormat::kBGRA: return 4;
    case PixelFormat::kYUYV: case PixelFormat::kUYVY: return 2;
    default: return 1;
  }
}
bool IsYuv420(PixelFormat f) {
  return f == PixelFormat::kNV12 || f == PixelFormat::kNV21 || f == PixelFormat::kI420;
}
int PlaneCount(PixelFormat f) {
  if (f == PixelFormat::kI420) return 3;
  if (f == PixelFormat::kNV12 || f == PixelFormat::kNV21) return 2;
  return 1;
}
int PlaneRowBytes(PixelFormat f, int width, int plane) {
  if (plane == 0) return width * PackedChannels(f);
  if (f == PixelFormat::kI420) return width / 2;
  return width;  // NV12/NV21 interleaved chroma
}
int PlaneRows(PixelFormat f, int height, int plane) {
  return plane == 0 ? height : height / 2;
}

Expected<Image> ImageFromBuffer(PixelFormat f, const uint8_t* data, int width, int height,
                                ptrdiff_t row_stride, size_t buffer_bytes) {
  if (data == nullptr) return InputError("frame: data pointer is null");
  if (width <= 0 || height <= 0)
    return InputError("frame: expected a positive size, got " + std::to_string(width) + "x" + std::to_string(height));
  if (width > kMaxFrameSide || height > kMaxFrameSide)
    return InputError("frame: " + std::to_string(width) + "x" + std::to_string(height) + " is larger than " +
                      std::to_string(kMaxFrameSide) + " pixels on a side");
  if (static_cast<unsigned>(f) > static_cast<unsigned>(PixelFormat::kUYVY) || PackedChannels(f) <= 0)
    return InputError("frame: unknown pixel format");
  const int row0 = PlaneRowBytes(f, width, 0);
  // The largest offset below is about (3/2 height) * stride: keep it far from overflowing.
  if (row_stride > (int64_t(1) << 40))
    return InputError("frame: row stride " + std::to_string(row_stride) + " bytes is implausibly large");
  if (row_stride < row0)
    return InputError("frame: row stride " + std::to_string(row_stride) + " bytes is smaller than a row of " +
                      std::to_string(row0) + " bytes");
  if (IsYuv420(f) && ((width | height) & 1))
    return InputError(std::string("frame: ") + Name(f) + " needs an even width and height, got " +
                      std::to_string(width) + "x" + std::to_string(height));
  if ((f == PixelFormat::kYUYV || f == PixelFormat::kUYVY) && (width & 1))
    return InputError(std::string("frame: ") + Name(f) + " needs an even width, got " + std::to_string(width));
  Image img;
  img.width = width;
  img.height = height;
  img.data[0] = data;
  img.stride[0] = row_stride;
  size_t end = static_cast<size_t>(height - 1) * row_stride + row0;
  if (f == PixelFormat::kNV12 || f == PixelFormat::kNV21) {
    img.data[1] = data + static_cast<size_t>(height) * row_stride;
    img.stride[1] = row_stride;
    end = static_cast<size_t>(height + height / 2 - 1) * row_stride + width;
  } else if (f == PixelFormat::kI420) {
    if (row_stride & 1) return InputError("frame: i420 needs an even row stride, got " + std::to_string(row_stride));
    const ptrdiff_t cs = row_stride / 2;
    img.data[1] = data + static_cast<size_t>(height) * row_stride;
    img.stride[1] = cs;
    img.data[2] = img.data[1] + static_cast<size_t>(height / 2) * cs;
    img.stride[2] = cs;
    end = static_cast<size_t>(img.data[2] - data) + static_cast<size_t>(height / 2 - 1) * cs + width / 2;
  }
  if (end > buffer_bytes)
    return InputError(std::string("frame: a ") + Name(f) + " frame of " + std::to_string(width) + "x" +
                      std::to_string(height) + " with row stride " + std::to_string(row_stride) + " needs " +
                      std::to_string(end) + " bytes, the buffer has " + std::to_string(buffer_bytes));
  return img;
}

// ---------------------------------------------------------------------------
// Arrays (numpy) -> Image / Output
// ---------------------------------------------------------------------------
namespace {
std::string ShapeStr(const ArrayDesc& a) {
  std::string s = "(";
  for (int i = 0; i < a.ndim && i < ArrayDesc::kMaxDims; ++i) s += (i ? ", " : "") + std::to_string(a.shape[i]);
  if (a.ndim > ArrayDesc::kMaxDims) s += ", ...";
  if (a.ndim == 1) s += ",";
  return s + ")";
}

// numpy's name of the element type ("float64", "int32", "bool").
std::string DtypeStr(const ArrayDesc& a) {
  std::string base;
  switch (a.kind) {
    case 'f': base = "float"; break;
    case 'i': base = "int"; break;
    case 'u': base = "uint"; break;
    case 'c': base = "complex"; break;
    case 'b': return "bool";
    default: return "a non-numeric dtype";
  }
  return (a.native_order || a.itemsize == 1 ? "" : "byte-swapped ") + base + std::to_string(a.itemsize * 8);
}
}  // namespace

Expected<Image> FrameFromArray(PixelFormat f, const ArrayDesc& a) {
  const char* fname = Name(f);
  if (a.kind != 'u' || a.itemsize != 1)
    return InputError(std::string("frame: expected a uint8 array for format '") + fname + "', got " + DtypeStr(a));
  const int C = PackedChannels(f);
  const bool yuv420 = IsYuv420(f);
  bool ok;
  if (yuv420) ok = a.ndim == 2;
  else if (f == PixelFormat::kGray) ok = a.ndim == 2 || (a.ndim == 3 && a.shape[2] == 1);
  else ok = a.ndim == 3 && a.shape[2] == C;
  if (!ok || a.shape[0] <= 0 || a.shape[1] <= 0) {
    const std::string want = yuv420 ? "(H*3/2, W)" : f == PixelFormat::kGray ? "(H, W) or (H, W, 1)"
                                                                              : "(H, W, " + std::to_string(C) + ")";
    return InputError(std::string("frame: format '") + fname + "' expects a uint8 array of shape " + want + ", got " +
                      ShapeStr(a));
  }
  const int64_t rows = a.shape[0], W = a.shape[1];
  // Pixels of a row must be contiguous; rows may be padded (positive stride).
  const int64_t inner = a.ndim == 3 ? a.shape[2] : 1;
  if ((a.ndim == 3 && a.strides[2] != 1 && a.shape[2] > 1) || (W > 1 && a.strides[1] != inner))
    return InputError("frame: the pixels of a row must be contiguous (strides (row, " + std::to_string(a.strides[1]) +
                      ", ...) were given, expected a column stride of " + std::to_string(inner) +
                      " bytes); a row stride larger than the row is fine");
  if (rows > 3 * int64_t(kMaxFrameSide) || W > kMaxFrameSide)
    return InputError("frame: shape " + ShapeStr(a) + " is larger than " + std::to_string(kMaxFrameSide) +
                      " pixels on a side");
  const int64_t S = a.strides[0];
  if (rows > 1 && S < W * inner)
    return InputError("frame: expected rows stored top to bottom with a row stride >= " + std::to_string(W * inner) +
                      " bytes, got a row stride of " + std::to_string(S));
  int H;
  if (yuv420) {
    if (rows % 3 != 0 || (W & 1))
      return InputError(std::string("frame: format '") + fname + "' expects shape (H*3/2, W) with even H and W, got " +
                        ShapeStr(a));
    H = static_cast<int>(rows / 3 * 2);
  } else {
    H = static_cast<int>(rows);
  }
  if (rows > 1 && S > (int64_t(1) << 40))
    return InputError("frame: row stride " + std::to_string(S) + " bytes is implausibly large");
  const int64_t stride = rows > 1 ? S : W * inner;
  const size_t extent = static_cast<size_t>((rows - 1) * stride + W * inner);
  const bool padded_i420 = f == PixelFormat::kI420 && stride != W;
  const size_t readable = padded_i420 && a.readable ? a.readable(a.readable_ctx, extent) : extent;
  auto img = ImageFromBuffer(f, static_cast<const uint8_t*>(a.data), static_cast<int>(W), H, stride, readable);
  if (!img.ok() && padded_i420)
    return InputError("frame: an i420 array with padded rows (row stride " + std::to_string(stride) + " for width " +
                      std::to_string(W) + ") places its chroma rows at stride/2 beyond the array's memory; pass the "
                      "whole buffer (shape (H*3/2, stride)) sliced as a view, or a contiguous array");
  return img;
}

Expected<Output> OutputFromArray(const Spec& s, const ArrayDesc& a) {
  Output o;
  if (!a.native_order && a.itemsize > 1) return InputError("out: expected a native byte order array, got " + DtypeStr(a));
  if (a.kind == 'f' && a.itemsize == 4) o.type = ElemType::kFloat32;
  else if (a.kind == 'f' && a.itemsize == 2) o.type = ElemType::kFloat16;
  else if (a.kind == 'u' && a.itemsize == 1) o.type = ElemType::kUInt8;
  else if (a.kind == 'i' && a.itemsize == 1) o.type = ElemType::kInt8;
  else return InputError("out: expected a float32, float16, uint8 or int8 array, got " + DtypeStr(a));
  if (!a.writable) return InputError("out: the array is read-only");
  if (!a.c_contiguous) return InputError("out: expected a C-contiguous array (a dense tensor), got strides that are not");
  const bool gray = s.channels == Channels::kGray;
  const int C = gray ? 1 : 3;
  const bool nchw = s.layout == Layout::kNCHW;
  const int64_t* sh = a.shape;
  int n = a.ndim;
  if (n == 4) {
    if (sh[0] != 1) return InputError("out: a 4-D input must have batch 1, got shape " + ShapeStr(a));
    ++sh;
    --n;
  }
  int64_t H = -1, W = -1;  // narrowed to int only once in range
  if (n == 3) {
    if (!nchw && sh[2] == C) { H = sh[0]; W = sh[1]; }
    if (nchw && sh[0] == C) { H = sh[1]; W = sh[2]; }
  } else if (n == 2 && gray && a.ndim == 2) {
    H = sh[0];
    W = sh[1];
  }
  if (H > kMaxOutputSide || W > kMaxOutputSide)
    return InputError("out: shape " + ShapeStr(a) + " is larger than " + std::to_string(kMaxOutputSide) +
                      " pixels on a side");
  if (H <= 0 || W <= 0) {
    const std::string c = std::to_string(C);
    std::string want = nchw ? "(" + c + ", H, W) or (1, " + c + ", H, W)" : "(H, W, " + c + ") or (1, H, W, " + c + ")";
    if (gray) want += " or (H, W)";
    return InputError("out: channels='" + std::string(Name(s.channels)) + "' with layout='" + Name(s.layout) +
                      "' expects shape " + want + ", got " + ShapeStr(a));
  }
  o.data = a.data;
  o.width = static_cast<int>(W);
  o.height = static_cast<int>(H);
  o.channels = C;
  o.bytes = a.nbytes;
  return o;
}

// ---------------------------------------------------------------------------
// Transform
// ---------------------------------------------------------------------------
void Transform::ToSource(double x, double y, double* sx, double* sy) const {
  *sx = m[0] * x + m[1] * y + m[2];
  *sy = m[3] * x + m[4] * y + m[5];
}
void Transform::ToInput(double sx, double sy, double* x, double* y) const {
  const double det = m[0] * m[4] - m[1] * m[3];
  const double dx = sx - m[2], dy = sy - m[5];
  *x = (m[4] * dx - m[1] * dy) / det;
  *y = (-m[3] * dx + m[0] * dy) / det;
}

// ---------------------------------------------------------------------------
// Kernel configurations (XNNPACK's config style, see plan.h)
// ---------------------------------------------------------------------------
namespace internal {
namespace {
struct KernelConfigs {
  KernelConfig scalar, simd;  // simd.fn == nullptr: no SIMD kernel on this machine
};
KernelConfigs InitKernelConfigs() {
  KernelConfigs c;
  c.scalar.isa = Isa::kScalar;
  c.scalar.fn = KernelRef;
#if defined(EDGERUN_ARCH_X86)
  const CpuFeatures& cpu = DetectCpu();
  if (cpu.avx2 && cpu.fma && cpu.f16c) c.simd = KernelConfig{Isa::kAVX2, KernelAvx2, true, SimdLayout::kAvx2};
#elif defined(EDGERUN_ARCH_ARM64)
  if (DetectCpu().neon) c.simd = KernelConfig{Isa::kNEON, KernelNeon, true, SimdLayout::kNeon};
#endif
  return c;
}
}  // namespace

const KernelConfig* GetKernelConfig(Isa isa) {
  static const KernelConfigs configs = InitKernelConfigs();  // once per process, thread-safe
  const bool has_simd = configs.simd.fn != nullptr;
  if (isa == Isa::kScalar) return &configs.scalar;
  if (isa == Isa::kAuto) return has_simd ? &configs.simd : &configs.scalar;
  return has_simd && configs.simd.isa == isa ? &configs.simd : nullptr;
}
}  // namespace internal

static bool SimdDisabledByEnv() {
  const char* e = std::getenv("EDGERUN_DISABLE_SIMD");
  return e != nullptr && e[0] != '\0' && std::strcmp(e, "0") != 0;
}

bool IsaAvailable(Isa isa) { return internal::GetKernelConfig(isa) != nullptr; }

static Isa BestIsa() { return internal::GetKernelConfig(Isa::kAuto)->isa; }

// The kernel a frame asks for: the spec's choice, or for kAuto the best one
// unless EDGERUN_DISABLE_SIMD is set (read per call, so that setting it in a
// running process takes effect; it selects the plan, not a branch per row).
static Isa RequestedIsa(const Spec& s) {
  if (s.isa != Isa::kAuto) return s.isa;
  return SimdDisabledByEnv() ? Isa::kScalar : BestIsa();
}

const char* ActiveIsa() { return SimdDisabledByEnv() ? "scalar" : Name(BestIsa()); }

namespace internal {

YuvCoefs YuvCoefficients(YuvMatrix matrix, YuvRange range) {
  YuvCoefs c;
  if (matrix == YuvMatrix::kBT601 && range == YuvRange::kLimited) {
    // OpenCV's ITU-R BT.601 constants (COLOR_YUV2RGB_NV12 and friends), 20-bit.
    c.cy = 1220542.0 / 1048576; c.crv = 1673527.0 / 1048576; c.cgv = -852492.0 / 1048576;
    c.cgu = -409993.0 / 1048576; c.cbu = 2116026.0 / 1048576; c.yoff = 16;
  } else {
    const double kr = matrix == YuvMatrix::kBT601 ? 0.299 : 0.2126;
    const double kb = matrix == YuvMatrix::kBT601 ? 0.114 : 0.0722;
    const double kg = 1.0 - kr - kb;
    const bool lim = range == YuvRange::kLimited;
    const double ys = lim ? 255.0 / 219.0 : 1.0, cs = lim ? 255.0 / 224.0 : 1.0;
    c.cy = ys; c.yoff = lim ? 16 : 0;
    c.crv = 2 * (1 - kr) * cs; c.cbu = 2 * (1 - kb) * cs;
    c.cgu = -2 * kb * (1 - kb) / kg * cs; c.cgv = -2 * kr * (1 - kr) / kg * cs;
  }
  return c;
}

// ---------------------------------------------------------------------------
// Plan
// ---------------------------------------------------------------------------
struct Plan {
  KPlan k;
  Transform transform;
  std::vector<int32_t> row_a, row_b, row_w, col_x, col_xb;
  std::vector<uint8_t> col_wa, col_wb;
  std::vector<int32_t> off_a[3], off_b[3];
  std::vector<int32_t> arow_start, arow_idx, acol_start, acol_idx;
  std::vector<int32_t> arow_w, acol_w;
  AreaTables area_tables;
  // The kernel, fixed when the plan is built: KernelRef on `k`, or a SIMD
  // kernel on `ksimd` (k + the tables of its layout).
  KernelFn kernel = KernelRef;
  const KPlan* kplan = nullptr;
  KPlan ksimd;
  KPlan kwarm;  // *kplan without prefetch (KPlan::prefetch), for a frame read by the call before
  SimdTables tables;
  std::vector<uint8_t> pad_row;  // one output row of padding (NHWC: W*C elems; NCHW: C rows of W)
  int pad_byte = -1;             // the byte every pad_row byte equals, or -1 (then copy rows)
  std::string path = "scalar";   // "<isa>/<path>" of the kernel (SimdPathName) or "scalar"
  // cache key
  int src_w = 0, src_h = 0, out_w = 0, out_h = 0, out_c = 0;
  ElemType type = ElemType::kFloat32;
  float scale = 1.f;
  int zp = 0;
  Isa isa = Isa::kScalar;  // the kernel asked for (RequestedIsa), not necessarily the one used
};

namespace {

struct AxisMap {
  bool src_is_x;  // source axis this output axis samples along
  bool rev;       // reversed
  int origin;     // roi origin along that source axis
  int n;          // roi length along that source axis
};

// Output-x / output-y axis -> source axis for a rotation (clockwise) after flip.
void OrientAxes(int rotate, bool flip, const Roi& roi, AxisMap* ax, AxisMap* ay) {
  const AxisMap X{true, false, roi.x, roi.width}, Y{false, false, roi.y, roi.height};
  switch (rotate) {
    case 0: *ax = X; ax->rev = flip; *ay = Y; ay->rev = false; break;
    case 90: *ax = Y; ax->rev = true; *ay = X; ay->rev = flip; break;
    case 180: *ax = X; ax->rev = !flip; *ay = Y; ay->rev = true; break;
    default: *ax = Y; ax->rev = false; *ay = X; ay->rev = !flip; break;  // 270
  }
}

inline int MapIndex(const AxisMap& m, int k) { return m.origin + (m.rev ? m.n - 1 - k : k); }

// Bilinear (half-pixel centres, OpenCV INTER_LINEAR clamping) or nearest
// (half-pixel centres, ~floor((d + 0.5) * scale) computed with OpenCV
// INTER_NEAREST_EXACT's 16-bit fixed point so ties round the same way) taps in
// oriented index space, then mapped to absolute source indices.
void LinearTaps(const AxisMap& m, int n_dst, bool nearest, std::vector<int32_t>* a, std::vector<int32_t>* b,
                std::vector<double>* f) {
  const double scale = static_cast<double>(m.n) / n_dst;
  a->resize(n_dst);
  b->resize(n_dst);
  f->resize(n_dst);
  for (int d = 0; d < n_dst; ++d) {
    int i0, i1;
    double fr;
    if (nearest) {
      const int64_t ifx = ((static_cast<int64_t>(m.n) << 16) + n_dst / 2) / n_dst;
      const int64_t ifx0 = ifx / 2 - m.n % 2;
      i0 = static_cast<int>((ifx0 + ifx * d) >> 16);
      i0 = std::min(std::max(i0, 0), m.n - 1);
      i1 = i0;
      fr = 0.0;
    } else {
      const double u = (d + 0.5) * scale - 0.5;
      i0 = static_cast<int>(std::floor(u));
      fr = u - i0;
      if (i0 < 0) { i0 = 0; fr = 0.0; }
      if (i0 >= m.n - 1) { i0 = m.n - 1; fr = 0.0; }
      i1 = fr > 0.0 ? i0 + 1 : i0;
    }
    (*a)[d] = MapIndex(m, i0);
    (*b)[d] = MapIndex(m, i1);
    (*f)[d] = fr;
  }
}

// INTER_AREA taps in the integer domain. Along an axis that downscales
// (n >= m), output cell d covers [d*n/m, (d+1)*n/m) source pixels: with
// g = gcd(n, m), N = n/g, M = m/g, the overlap of cell d with source pixel k,
// measured in units of 1/M pixel, is an integer in [0, M], and the overlaps of a
// cell sum to N. Those overlaps are the weights (OpenCV computeResizeAreaTab's
// fractional weights, exactly). When N exceeds `limit`, the weights are
// rescaled to sum to `quant` (rounded, largest remainders first), so that the
// kernels' integer sums cannot overflow (see plan.h). An axis that upscales
// uses 2-tap bilinear weights summing to 128 (as documented). *one = the sum
// of every cell's weights.
void AreaTaps(const AxisMap& m, int n_dst, int limit, int quant, std::vector<int32_t>* start,
              std::vector<int32_t>* idx, std::vector<int32_t>* w, int* one) {
  start->assign(1, 0);
  idx->clear();
  w->clear();
  if (m.n < n_dst) {
    std::vector<int32_t> a, b;
    std::vector<double> f;
    LinearTaps(m, n_dst, false, &a, &b, &f);
    *one = 128;
    for (int d = 0; d < n_dst; ++d) {
      const int wb = static_cast<int>(std::lround(f[d] * 128));
      if (wb < 128) { idx->push_back(a[d]); w->push_back(128 - wb); }
      if (wb > 0) { idx->push_back(b[d]); w->push_back(wb); }
      start->push_back(static_cast<int32_t>(idx->size()));
    }
    return;
  }
  const int64_t g = std::gcd(static_cast<int64_t>(m.n), static_cast<int64_t>(n_dst));
  const int64_t N = m.n / g, M = n_dst / g;
  const bool exact = N <= limit;
  *one = exact ? static_cast<int>(N) : quant;
  std::vector<int64_t> ov;
  std::vector<int32_t> k_of;
  for (int d = 0; d < n_dst; ++d) {
    const int64_t c0 = d * N, c1 = c0 + N;  // cell in units of 1/M source pixel
    ov.clear();
    k_of.clear();
    for (int64_t k = c0 / M; k * M < c1; ++k) {
      const int64_t o = std::min(c1, (k + 1) * M) - std::max(c0, k * M);
      if (o > 0) { ov.push_back(o); k_of.push_back(static_cast<int32_t>(k)); }
    }
    std::vector<int64_t> q(ov.size());
    if (exact) {
      q = ov;
    } else {  // round to `quant`, the sum kept exact by largest remainders
      int64_t sum = 0;
      std::vector<std::pair<int64_t, size_t>> rem;
      for (size_t i = 0; i < ov.size(); ++i) {
        q[i] = ov[i] * quant / N;
        sum += q[i];
        rem.push_back({ov[i] * quant % N, i});
      }
      std::stable_sort(rem.begin(), rem.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
      for (size_t i = 0; sum < quant; ++i, ++sum) ++q[rem[i].second];
    }
    for (size_t i = 0; i < ov.size(); ++i) {
      if (q[i] == 0) continue;
      idx->push_back(MapIndex(m, k_of[i]));
      w->push_back(static_cast<int32_t>(q[i]));
    }
    start->push_back(static_cast<int32_t>(idx->size()));
  }
}

struct ViewDesc {
  int plane, bpp, xshift, yshift, nch;
  int ch_off[3];
  int slot[3];
  int row_bytes;
};

// Views (byte planes -> sampled slots), colour op and channel permutation.
void SetupViews(const Spec& s, int width, KPlan* k, ViewDesc* views) {
  const bool gray_out = s.channels == Channels::kGray;
  const bool bgr_out = s.channels == Channels::kBGR;
  auto set_perm_rgb = [&] {
    k->perm[0] = bgr_out ? 2 : 0;
    k->perm[1] = 1;
    k->perm[2] = bgr_out ? 0 : 2;
  };
  int nv = 0;
  auto add = [&](int plane, int bpp, int xs, int ys, int row_bytes, std::initializer_list<std::pair<int, int>> ch) {
    ViewDesc& v = views[nv++];
    v.plane = plane; v.bpp = bpp; v.xshift = xs; v.yshift = ys; v.row_bytes = row_bytes;
    v.nch = 0;
    for (auto& c : ch) {
      v.ch_off[v.nch] = c.first;
      v.slot[v.nch] = c.second;
      ++v.nch;
    }
  };
  const PixelFormat f = s.format;
  switch (f) {
    case PixelFormat::kRGB: case PixelFormat::kBGR: case PixelFormat::kRGBA: case PixelFormat::kBGRA: {
      const int bpp = PackedChannels(f);
      const bool bgr_src = f == PixelFormat::kBGR || f == PixelFormat::kBGRA;
      const int r = bgr_src ? 2 : 0, b = bgr_src ? 0 : 2;
      // slots 0,1,2 = R,G,B; listed in memory order (windows start at the lowest byte)
      if (bgr_src) add(0, bpp, 0, 0, width * bpp, {{b, 2}, {1, 1}, {r, 0}});
      else add(0, bpp, 0, 0, width * bpp, {{r, 0}, {1, 1}, {b, 2}});
      k->nslots = 3;
      if (gray_out) { k->op = ColorOp::kRgbToGray; }
      else { k->op = ColorOp::kCopy; set_perm_rgb(); }
      break;
    }
    case PixelFormat::kGray:
      add(0, 1, 0, 0, width, {{0, 0}});
      k->nslots = 1;
      k->op = gray_out ? ColorOp::kCopy : ColorOp::kGrayToRgb;
      k->perm[0] = 0;
      break;
    case PixelFormat::kNV12: case PixelFormat::kNV21: case PixelFormat::kI420:
    case PixelFormat::kYUYV: case PixelFormat::kUYVY: {
      const bool packed = f == PixelFormat::kYUYV || f == PixelFormat::kUYVY;
      if (packed) add(0, 2, 0, 0, width * 2, {{f == PixelFormat::kUYVY ? 1 : 0, 0}});
      else add(0, 1, 0, 0, width, {{0, 0}});
      if (gray_out) {
        k->nslots = 1;
        k->op = ColorOp::kCopy;  // luma as is (OpenCV COLOR_YUV2GRAY_*)
        k->perm[0] = 0;
        break;
      }
      if (f == PixelFormat::kNV12) add(1, 2, 1, 1, width, {{0, 1}, {1, 2}});
      else if (f == PixelFormat::kNV21) add(1, 2, 1, 1, width, {{0, 2}, {1, 1}});
      else if (f == PixelFormat::kI420) { add(1, 1, 1, 1, width / 2, {{0, 1}}); add(2, 1, 1, 1, width / 2, {{0, 2}}); }
      else if (f == PixelFormat::kYUYV) add(0, 4, 1, 0, width * 2, {{1, 1}, {3, 2}});
      else add(0, 4, 1, 0, width * 2, {{0, 1}, {2, 2}});
      k->nslots = 3;
      k->op = ColorOp::kYuvToRgb;
      set_perm_rgb();
      break;
    }
  }
  k->nviews = nv;
}

void SetupColor(const Spec& s, KPlan* k) {
  const double S = kValueScale;
  const YuvCoefs yc = YuvCoefficients(s.yuv_matrix, s.yuv_range);
  const double cy = yc.cy, crv = yc.crv, cgu = yc.cgu, cgv = yc.cgv, cbu = yc.cbu, yoff = yc.yoff;
  k->ky = static_cast<float>(cy);
  k->ymin = static_cast<float>(yoff * S);
  k->crv = static_cast<float>(crv);
  k->cgu = static_cast<float>(cgu);
  k->cgv = static_cast<float>(cgv);
  k->cbu = static_cast<float>(cbu);
  k->kr = static_cast<float>(-(yoff * S * cy + 128 * S * crv));
  k->kg = static_cast<float>(-(yoff * S * cy + 128 * S * (cgu + cgv)));
  k->kb = static_cast<float>(-(yoff * S * cy + 128 * S * cbu));
  k->vmax = static_cast<float>(255 * S);
  k->ty = static_cast<int>(yoff);
  k->tcy = static_cast<int>(std::lround(cy * 8192));
  k->tcvr = static_cast<int>(std::lround(crv * 8192));
  k->tcug = static_cast<int>(std::lround(cgu * 8192));
  k->tcvg = static_cast<int>(std::lround(cgv * 8192));
  k->tcub = static_cast<int>(std::lround(cbu * 8192));
  k->gw[0] = 4899.0f / 16384;
  k->gw[1] = 9617.0f / 16384;
  k->gw[2] = 1868.0f / 16384;
}

// Fails (InputError) when mean/std/scale would make the kernels compute
// infinities or NaN (e.g. std=1e-45: 1/std overflows float).
Status SetupNormalize(const Spec& s, ElemType type, float scale, int zp, int out_c, KPlan* k) {
  const bool integer = type == ElemType::kUInt8 || type == ElemType::kInt8;
  const double q = integer ? scale : 1.0;
  constexpr double kFloatMax = 3.4028234663852886e38;
  for (int c = 0; c < out_c; ++c) {
    const double sd = s.stddev[c], mn = s.mean[c];
    const double a = 1.0 / (sd * q * kValueScale), b = -mn / (sd * q);
    // Largest magnitude a kernel computes: a * 255 * kValueScale + b (and its parts).
    const double top = std::fabs(a) * 255.0 * kValueScale + std::fabs(b);
    if (!std::isfinite(a) || !std::isfinite(b) || !std::isfinite(top) || top >= kFloatMax ||
        std::fabs(a) >= kFloatMax || std::fabs(b) >= kFloatMax)
      return InputError("std: " + std::to_string(sd) + (integer ? " with quantization scale " + std::to_string(q) : "") +
                        " (mean " + std::to_string(mn) + ") gives values beyond float range ((255 - mean) / std " +
                        (integer ? "/ scale " : "") + "must be finite in float32); use a larger std");
    k->A[c] = static_cast<float>(a);
    k->B[c] = static_cast<float>(b);
  }
  k->zp = integer ? zp : 0;
  k->qclamp = false;
  for (int c = 0; c < out_c; ++c) {
    const double a = k->A[c], b = k->B[c], top = a * 255.0 * kValueScale + b;
    if (std::fabs(b) >= 1073741824.0 || std::fabs(top) >= 1073741824.0) k->qclamp = true;
  }
  if (type == ElemType::kUInt8) { k->qlo = static_cast<float>(0 - zp); k->qhi = static_cast<float>(255 - zp); }
  if (type == ElemType::kInt8) { k->qlo = static_cast<float>(-128 - zp); k->qhi = static_cast<float>(127 - zp); }
  return Status::Ok();
}

}  // namespace

// The kernel path a plan runs, for tests and diagnostics (PlannedPath,
// Preprocessor::KernelPath): "area", "windows" (16-byte windows + shuffles),
// "packed" / "packed-uniform" (AVX2 per-pixel loads for 3/4-byte pixels).
static const char* SimdPathName(const KPlan& k) {
  if (k.area) {  // "area-uniform": every view on the integer-ratio path (KView::uwidth)
    if (k.rgb_rows) return "area-rgb";  // yuv_sampling="rgb": rows converted to RGB first
    bool uniform = true;
    for (int v = 0; v < k.nviews; ++v) uniform = uniform && k.views[v].uwidth > 0;
    return uniform ? "area-uniform" : "area";
  }
  bool packed = false, uniform = false;
  for (int v = 0; v < k.nviews; ++v) {
    packed = packed || k.views[v].packed;
    uniform = uniform || k.views[v].ustride > 0;
  }
  return uniform ? "packed-uniform" : packed ? "packed" : "windows";
}

// Kernel, chosen once for the plan. The reference serves rows too short for
// 16-byte windows (BuildSimdTables refuses them) and area tables past their
// size limits (BuildAreaTables).
static void SelectKernelOnly(Plan& P, const KernelConfig* cfg);
static void SelectKernel(Plan& P, const KernelConfig* cfg) {
  SelectKernelOnly(P, cfg);
  P.kwarm = *P.kplan;
  P.kwarm.prefetch = false;
}
static void SelectKernelOnly(Plan& P, const KernelConfig* cfg) {
  P.kernel = KernelRef;
  P.kplan = &P.k;
  P.path = "scalar";
  if (cfg == nullptr || !cfg->simd) return;
  P.ksimd = P.k;
  if (BuildNearestPlan(P.ksimd)) {
    P.kernel = KernelNearest;
    P.kplan = &P.ksimd;
    P.path = std::string(Name(cfg->isa)) + "/nearest-lut";
    return;
  }
  P.ksimd = P.k;
  if (P.k.area ? BuildAreaTables(P.ksimd, &P.area_tables) : BuildSimdTables(P.ksimd, cfg->layout, &P.tables)) {
    P.kernel = cfg->fn;
    P.kplan = &P.ksimd;
    P.path = std::string(Name(cfg->isa)) + "/" + SimdPathName(P.ksimd);
  }
}

// Builds a plan. Assumes spec validated and geometry checked.
static Expected<std::shared_ptr<Plan>> BuildPlan(const Spec& s, int src_w, int src_h, int out_w, int out_h,
                                                 int out_c, ElemType type, float scale, int zp, Isa isa) {
  auto plan = std::make_shared<Plan>();
  Plan& P = *plan;
  KPlan& k = P.k;
  P.src_w = src_w; P.src_h = src_h; P.out_w = out_w; P.out_h = out_h; P.out_c = out_c;
  P.type = type; P.scale = scale; P.zp = zp; P.isa = isa;

  Roi roi = s.has_roi ? s.roi : Roi{0, 0, src_w, src_h};
  // 64-bit sums: x + w of two ints near INT_MAX must not wrap past the check.
  if (roi.x < 0 || roi.y < 0 || roi.width <= 0 || roi.height <= 0 ||
      static_cast<int64_t>(roi.x) + roi.width > src_w || static_cast<int64_t>(roi.y) + roi.height > src_h)
    return InputError("roi (" + std::to_string(roi.x) + ", " + std::to_string(roi.y) + ", " +
                      std::to_string(roi.width) + ", " + std::to_string(roi.height) +
                      ") must lie inside the " + std::to_string(src_w) + "x" + std::to_string(src_h) + " frame");
  AxisMap ax, ay;
  OrientAxes(s.rotate, s.flip, roi, &ax, &ay);
  if (s.fit == Fit::kCrop) {
    const double sc = std::max(static_cast<double>(out_w) / ax.n, static_cast<double>(out_h) / ay.n);
    const int cw = std::min(ax.n, std::max(1, static_cast<int>(std::lround(out_w / sc))));
    const int chh = std::min(ay.n, std::max(1, static_cast<int>(std::lround(out_h / sc))));
    const int ox = (ax.n - cw) / 2, oy = (ay.n - chh) / 2;
    auto crop = [](AxisMap& m, int off, int len) {
      m.origin += m.rev ? m.n - off - len : off;
      m.n = len;
    };
    crop(ax, ox, cw);
    crop(ay, oy, chh);
  }
  int cx = 0, cy = 0, cw = out_w, chh = out_h;
  if (s.fit == Fit::kLetterbox) {
    const double sc = std::min(static_cast<double>(out_w) / ax.n, static_cast<double>(out_h) / ay.n);
    cw = std::min(out_w, std::max(1, static_cast<int>(std::lround(ax.n * sc))));
    chh = std::min(out_h, std::max(1, static_cast<int>(std::lround(ay.n * sc))));
    cx = (out_w - cw) / 2;
    cy = (out_h - chh) / 2;
  }
  // Final roi in source coordinates (after crop).
  Roi fr;
  {
    const AxisMap& mx = ax.src_is_x ? ax : ay;
    const AxisMap& my = ax.src_is_x ? ay : ax;
    fr = Roi{mx.origin, my.origin, mx.n, my.n};
  }
  // Transform: source = M * input.
  {
    Transform& t = P.transform;
    std::fill(t.m, t.m + 6, 0.0);
    auto put = [&](const AxisMap& m, int in_axis, int c0, int len) {
      const double su = static_cast<double>(m.n) / len;
      const double coef = m.rev ? -su : su;
      const double cst = m.rev ? m.origin + m.n + c0 * su : m.origin - c0 * su;
      const int row = m.src_is_x ? 0 : 3;
      t.m[row + in_axis] = coef;
      t.m[row + 2] += cst;
    };
    put(ax, 0, cx, cw);
    put(ay, 1, cy, chh);
    t.input_width = out_w;
    t.input_height = out_h;
    t.content[0] = cx; t.content[1] = cy; t.content[2] = cw; t.content[3] = chh;
    t.source_roi[0] = fr.x; t.source_roi[1] = fr.y; t.source_roi[2] = fr.width; t.source_roi[3] = fr.height;
  }

  k.out_w = out_w; k.out_h = out_h; k.out_c = out_c; k.type = type; k.layout = s.layout;
  k.transposed = s.rotate == 90 || s.rotate == 270;
  k.cx = cx; k.cy = cy; k.cw = cw; k.ch = chh;
  // Lines follow the output axis that maps to source y.
  const AxisMap& line_axis = k.transposed ? ax : ay;  // samples source y
  const AxisMap& pos_axis = k.transposed ? ay : ax;   // samples source x
  const int nlines = k.transposed ? cw : chh;
  const int npos = k.transposed ? chh : cw;
  k.nlines = nlines;
  k.npos = npos;

  ViewDesc vd[3];
  SetupViews(s, src_w, &k, vd);
  SetupColor(s, &k);
  if (k.op == ColorOp::kYuvToRgb && s.yuv_sampling == YuvSampling::kRgb) {
    k.rgb_taps = true;  // slots become R, G, B per tap
    k.op = ColorOp::kCopy;
  }
  EDGERUN_RETURN_IF_ERROR(SetupNormalize(s, type, scale, zp, out_c, &k));

  // Area where neither axis downscales is bilinear (each axis that upscales is), so
  // such plans are bilinear plans, with bilinear's finer row weights -- unless a
  // row is narrower than bilinear's 16-byte SIMD windows (the area kernel is not).
  bool wide_rows = true;
  for (int v = 0; v < k.nviews; ++v) wide_rows = wide_rows && vd[v].row_bytes >= 16;
  const bool area = s.interpolation == Interpolation::kArea &&
                    (line_axis.n > nlines || pos_axis.n > npos || !wide_rows);
  if (area) {
    k.area = true;
    int one_y = 0, one_x = 0;
    AreaTaps(line_axis, nlines, kAreaRowLimit, kAreaRowLimit, &P.arow_start, &P.arow_idx, &P.arow_w, &one_y);
    AreaTaps(pos_axis, npos, kAreaColLimit, kAreaColQuant, &P.acol_start, &P.acol_idx, &P.acol_w, &one_x);
    k.area_scale = static_cast<float>(static_cast<double>(kValueScale) / (static_cast<double>(one_x) * one_y));
    k.arow_start = P.arow_start.data(); k.arow_idx = P.arow_idx.data(); k.arow_w = P.arow_w.data();
    k.acol_start = P.acol_start.data(); k.acol_idx = P.acol_idx.data(); k.acol_w = P.acol_w.data();
  } else {
    const bool nearest = s.interpolation == Interpolation::kNearest;
    std::vector<int32_t> a, b;
    std::vector<double> f;
    LinearTaps(line_axis, nlines, nearest, &a, &b, &f);
    P.row_a.resize(nlines); P.row_b.resize(nlines); P.row_w.resize(nlines);
    for (int j = 0; j < nlines; ++j) {
      int w = static_cast<int>(std::lround(f[j] * kRowOne));
      P.row_a[j] = a[j];
      P.row_b[j] = w == 0 ? a[j] : b[j];
      P.row_w[j] = w;
    }
    LinearTaps(pos_axis, npos, nearest, &a, &b, &f);
    P.col_x.resize(npos); P.col_xb.resize(npos); P.col_wa.resize(npos); P.col_wb.resize(npos);
    std::vector<int32_t>& cb = P.col_xb;
    for (int i = 0; i < npos; ++i) {
      int wb = static_cast<int>(std::lround(f[i] * kColOne));
      int xa = a[i], xb = b[i];
      int wa = kColOne - wb;
      if (wb == 0) { xb = xa; wa = wb = kColOne / 2; }
      else if (wa == 0) { xa = xb; wa = wb = kColOne / 2; }
      P.col_x[i] = xa;
      cb[i] = xb;
      P.col_wa[i] = static_cast<uint8_t>(wa);
      P.col_wb[i] = static_cast<uint8_t>(wb);
    }
    for (int v = 0; v < k.nviews; ++v) {
      P.off_a[v].resize(npos);
      P.off_b[v].resize(npos);
      for (int i = 0; i < npos; ++i) {
        P.off_a[v][i] = (P.col_x[i] >> vd[v].xshift) * vd[v].bpp;
        P.off_b[v][i] = (cb[i] >> vd[v].xshift) * vd[v].bpp;
      }
    }
    k.row_a = P.row_a.data(); k.row_b = P.row_b.data(); k.row_w = P.row_w.data();
    k.col_wa = P.col_wa.data(); k.col_wb = P.col_wb.data(); k.col_x = P.col_x.data(); k.col_xb = P.col_xb.data();
  }
  for (int v = 0; v < k.nviews; ++v) {
    KView& kv = k.views[v];
    kv.plane = vd[v].plane; kv.bpp = vd[v].bpp; kv.xshift = vd[v].xshift; kv.yshift = vd[v].yshift;
    kv.nch = vd[v].nch; kv.row_bytes = vd[v].row_bytes;
    for (int c = 0; c < 3; ++c) { kv.ch_off[c] = vd[v].ch_off[c]; kv.slot[c] = vd[v].slot[c]; }
    if (!k.area) {
      kv.off_a = P.off_a[v].data();
      kv.off_b = P.off_b[v].data();
      int lo = kv.row_bytes, hi = 0;
      for (int i = 0; i < k.npos; ++i) {
        lo = std::min({lo, kv.off_a[i], kv.off_b[i]});
        hi = std::max({hi, kv.off_a[i] + kv.bpp, kv.off_b[i] + kv.bpp});
      }
      kv.pf_lo = std::min(lo, kv.row_bytes);
      kv.pf_hi = std::min(hi, kv.row_bytes);
      kv.pf_desc = k.npos > 1 && kv.off_a[k.npos - 1] < kv.off_a[0];
    }
  }

  // Padding row (letterbox borders): pad_value (RGB pixel units) through the same colour/normalize path.
  {
    const size_t es = ElemSize(type);
    P.pad_row.assign(static_cast<size_t>(out_w) * out_c * es, 0);
    float slots[3], o[3];
    KPlan pk = k;
    const float S = kValueScale;
    if (out_c == 1) {
      pk.op = ColorOp::kRgbToGray;
      for (int c = 0; c < 3; ++c) slots[c] = s.pad_value[c] * S;
    } else {
      pk.op = ColorOp::kCopy;
      for (int c = 0; c < 3; ++c) { slots[c] = s.pad_value[c] * S; pk.perm[c] = c; }
      if (s.channels == Channels::kBGR) { pk.perm[0] = 2; pk.perm[2] = 0; }
    }
    NormalizePixelRef(pk, slots, o);
    // Write a one-row tensor.
    pk.out_w = out_w;
    pk.out_h = 1;
    for (int x = 0; x < out_w; ++x) StorePixelRef(pk, P.pad_row.data(), x, o);
    P.pad_byte = P.pad_row.empty() ? -1 : P.pad_row[0];
    for (uint8_t b : P.pad_row)
      if (b != P.pad_row[0]) P.pad_byte = -1;
  }

  SelectKernel(P, GetKernelConfig(isa));
  return plan;
}

// ---------------------------------------------------------------------------
// Cache, pool
// ---------------------------------------------------------------------------
struct PlanCache {
  std::mutex mu;
  std::vector<std::shared_ptr<Plan>> plans;  // most recent first, a few entries
};

struct Pool {
  explicit Pool(int n) {
    for (int i = 0; i < n; ++i) workers.emplace_back([this] { Loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
  }
  // Runs fn(0..ntasks-1) on the workers and the calling thread; returns when all are done.
  void Run(int ntasks, const std::function<void(int)>& fn) {
    std::lock_guard<std::mutex> run_lock(run_mu);
    {
      std::lock_guard<std::mutex> l(mu);
      job = &fn;
      total = ntasks;
      next = 0;
      done = 0;
      ++generation;
    }
    cv.notify_all();
    Work();
    std::unique_lock<std::mutex> l(mu);
    done_cv.wait(l, [&] { return done == total; });
    job = nullptr;
  }

 private:
  void Work() {
    for (;;) {
      int t;
      const std::function<void(int)>* f;
      {
        std::lock_guard<std::mutex> l(mu);
        if (job == nullptr || next >= total) return;
        t = next++;
        f = job;
      }
      (*f)(t);
      {
        std::lock_guard<std::mutex> l(mu);
        if (++done == total) done_cv.notify_all();
      }
    }
  }
  void Loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      Work();
    }
  }
  std::vector<std::thread> workers;
  std::mutex run_mu, mu;
  std::condition_variable cv, done_cv;
  const std::function<void(int)>* job = nullptr;
  int total = 0, next = 0, done = 0;
  uint64_t generation = 0;
  bool stop = false;
};

}  // namespace internal

// ---------------------------------------------------------------------------
// Preprocessor
// ---------------------------------------------------------------------------
using internal::Plan;

namespace {
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
std::string Triple(const float (&v)[3]) { return "(" + Num(v[0]) + ", " + Num(v[1]) + ", " + Num(v[2]) + ")"; }
}  // namespace

// The one place a preprocessing option is checked (the Python API passes its
// keywords through unchanged): messages name the option, the value received
// and what is allowed.
static Status ValidateSpec(const Spec& s) {
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.format));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.fit));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.interpolation));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.channels));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.layout));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.yuv_matrix));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.yuv_range));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.yuv_sampling));
  EDGERUN_RETURN_IF_ERROR(CheckOption(s.isa));
  if (s.rotate != 0 && s.rotate != 90 && s.rotate != 180 && s.rotate != 270)
    return InputError("rotate: expected 0, 90, 180 or 270 (degrees clockwise), got " + std::to_string(s.rotate));
  if (s.has_roi && (s.roi.x < 0 || s.roi.y < 0 || s.roi.width <= 0 || s.roi.height <= 0))
    return InputError("roi: expected (x, y, w, h) with x, y >= 0 and w, h > 0, got (" + std::to_string(s.roi.x) + ", " +
                      std::to_string(s.roi.y) + ", " + std::to_string(s.roi.width) + ", " + std::to_string(s.roi.height) + ")");
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(s.mean[c])) return InputError("mean: expected finite values, got " + Triple(s.mean));
    if (!std::isfinite(s.stddev[c]) || s.stddev[c] == 0.f)
      return InputError("std: expected finite, non-zero values, got " + Triple(s.stddev));
    // (pixel - mean) / std must stay finite in float32 (std=1e-45 gave NaN inputs).
    const double worst = (255.0 + std::fabs(static_cast<double>(s.mean[c]))) / std::fabs(static_cast<double>(s.stddev[c]));
    if (!(worst < 1e30))
      return InputError("std: " + Triple(s.stddev) + " is too small: (pixel - mean) / std reaches " + Num(worst) +
                        ", beyond what float32 inputs can hold meaningfully");
    if (!(s.pad_value[c] >= 0.f && s.pad_value[c] <= 255.f))
      return InputError("pad_value: expected pixel values in 0..255, got " + Triple(s.pad_value));
  }
  if (s.threads < 1 || s.threads > 64) return InputError("threads: expected 1..64, got " + std::to_string(s.threads));
  if (!IsaAvailable(s.isa)) return InputError(std::string("isa: '") + Name(s.isa) + "' kernels are not available on this machine");
  return Status::Ok();
}

Preprocessor::Preprocessor(const Spec& spec) : spec_(spec), cache_(new internal::PlanCache) {
  if (spec.threads > 1) pool_.reset(new internal::Pool(spec.threads - 1));
}
Preprocessor::~Preprocessor() = default;

Expected<std::unique_ptr<Preprocessor>> Preprocessor::Create(const Spec& spec) {
  EDGERUN_RETURN_IF_ERROR(ValidateSpec(spec));
  return std::unique_ptr<Preprocessor>(new Preprocessor(spec));
}

const char* Preprocessor::kernel_name() const {
  if (spec_.isa != Isa::kAuto) return Name(spec_.isa);
  return ActiveIsa();
}

namespace {
Expected<std::shared_ptr<Plan>> GetPlan(internal::PlanCache& cache, const Spec& s, int sw, int sh, int ow, int oh, int oc,
                                        ElemType type, float scale, int zp, Isa isa) {
  {
    std::lock_guard<std::mutex> l(cache.mu);
    for (size_t i = 0; i < cache.plans.size(); ++i) {
      const Plan& p = *cache.plans[i];
      if (p.src_w == sw && p.src_h == sh && p.out_w == ow && p.out_h == oh && p.out_c == oc && p.type == type &&
          p.scale == scale && p.zp == zp && p.isa == isa) {
        auto sp = cache.plans[i];
        if (i != 0) {
          cache.plans.erase(cache.plans.begin() + static_cast<ptrdiff_t>(i));
          cache.plans.insert(cache.plans.begin(), sp);
        }
        return sp;
      }
    }
  }
  auto built = internal::BuildPlan(s, sw, sh, ow, oh, oc, type, scale, zp, isa);
  if (!built.ok()) return built.status();
  std::lock_guard<std::mutex> l(cache.mu);
  cache.plans.insert(cache.plans.begin(), built.value());
  if (cache.plans.size() > 4) cache.plans.pop_back();
  return built.value();
}

// Per-thread kernel scratch, kept between frames (no allocation per call).
uint8_t* Scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
}

Status CheckGeometry(const Spec& s, int sw, int sh, int ow, int oh) {
  if (sw <= 0 || sh <= 0)
    return InputError("frame: expected a positive size, got " + std::to_string(sw) + "x" + std::to_string(sh));
  if (IsYuv420(s.format) && ((sw | sh) & 1))
    return InputError(std::string("frame: ") + Name(s.format) + " needs an even width and height, got " +
                      std::to_string(sw) + "x" + std::to_string(sh));
  if ((s.format == PixelFormat::kYUYV || s.format == PixelFormat::kUYVY) && (sw & 1))
    return InputError(std::string("frame: ") + Name(s.format) + " needs an even width, got " + std::to_string(sw));
  if (ow <= 0 || oh <= 0)
    return InputError("output: expected a positive size, got " + std::to_string(ow) + "x" + std::to_string(oh));
  if (sw > kMaxFrameSide || sh > kMaxFrameSide)
    return InputError("frame: " + std::to_string(sw) + "x" + std::to_string(sh) + " is larger than " +
                      std::to_string(kMaxFrameSide) + " pixels on a side");
  if (ow > kMaxOutputSide || oh > kMaxOutputSide)
    return InputError("output: " + std::to_string(ow) + "x" + std::to_string(oh) + " is larger than " +
                      std::to_string(kMaxOutputSide) + " pixels on a side");
  return Status::Ok();
}
}  // namespace

Expected<std::string> Preprocessor::KernelPath(int sw, int sh, int ow, int oh, ElemType type) {
  EDGERUN_RETURN_IF_ERROR(CheckGeometry(spec_, sw, sh, ow, oh));
  if (static_cast<unsigned>(type) > static_cast<unsigned>(ElemType::kInt8)) return InputError("dtype: unknown output type");
  const int oc = spec_.channels == Channels::kGray ? 1 : 3;
  auto plan = GetPlan(*cache_, spec_, sw, sh, ow, oh, oc, type, 1.f, 0, RequestedIsa(spec_));
  if (!plan.ok()) return plan.status();
  return plan.value()->path;
}

namespace internal {
Expected<std::string> PlannedPath(const Spec& s, int sw, int sh, int ow, int oh, ElemType type, SimdLayout layout) {
  EDGERUN_RETURN_IF_ERROR(CheckGeometry(s, sw, sh, ow, oh));
  const int oc = s.channels == Channels::kGray ? 1 : 3;
  auto built = BuildPlan(s, sw, sh, ow, oh, oc, type, 1.f, 0, Isa::kScalar);
  if (!built.ok()) return built.status();
  const KernelConfig cfg{layout == SimdLayout::kAvx2 ? Isa::kAVX2 : Isa::kNEON, KernelRef, true, layout};
  SelectKernel(*built.value(), &cfg);
  return built.value()->path;
}
}  // namespace internal

Expected<Transform> Preprocessor::GetTransform(int sw, int sh, int ow, int oh) {
  EDGERUN_RETURN_IF_ERROR(CheckGeometry(spec_, sw, sh, ow, oh));
  const int oc = spec_.channels == Channels::kGray ? 1 : 3;
  auto plan = GetPlan(*cache_, spec_, sw, sh, ow, oh, oc, ElemType::kFloat32, 1.f, 0, RequestedIsa(spec_));
  if (!plan.ok()) return plan.status();
  return plan.value()->transform;
}

Expected<Transform> Preprocessor::Run(const Image& img, const Output& out) {
  const Spec& s = spec_;
  EDGERUN_RETURN_IF_ERROR(CheckGeometry(s, img.width, img.height, out.width, out.height));
  const int oc = s.channels == Channels::kGray ? 1 : 3;
  if (out.channels != oc)
    return InputError("output: channels='" + std::string(Name(s.channels)) + "' writes " + std::to_string(oc) +
                      " channel(s), the output has " + std::to_string(out.channels));
  if (out.data == nullptr) return InputError("output: data pointer is null");
  if (static_cast<unsigned>(out.type) > static_cast<unsigned>(ElemType::kInt8)) return InputError("output: unknown dtype");
  const size_t es = internal::ElemSize(out.type);
  const size_t need = static_cast<size_t>(out.width) * out.height * oc * es;
  if (out.bytes < need)
    return InputError("output: " + std::to_string(out.width) + "x" + std::to_string(out.height) + "x" +
                      std::to_string(oc) + " " + Name(out.type) + " needs " + std::to_string(need) + " bytes, got " +
                      std::to_string(out.bytes));
  float scale = 1.f;
  int zp = 0;
  if (out.type == ElemType::kUInt8 || out.type == ElemType::kInt8) {
    if (!(std::isfinite(out.scale) && out.scale > 0.f))
      return InputError("output: quantization scale must be positive and finite, got " + std::to_string(out.scale));
    const int lo = out.type == ElemType::kUInt8 ? 0 : -128, hi = out.type == ElemType::kUInt8 ? 255 : 127;
    if (out.zero_point < lo || out.zero_point > hi)
      return InputError("output: zero_point " + std::to_string(out.zero_point) + " is outside the " +
                        Name(out.type) + " range");
    scale = out.scale;
    zp = out.zero_point;
  }
  // Frame planes.
  const int np = PlaneCount(s.format);
  for (int i = 0; i < np; ++i) {
    if (img.data[i] == nullptr) return InputError("frame: plane " + std::to_string(i) + " is null");
    const int rb = PlaneRowBytes(s.format, img.width, i);
    if (img.stride[i] < rb)
      return InputError("frame: plane " + std::to_string(i) + " row stride " + std::to_string(img.stride[i]) +
                        " is smaller than its row of " + std::to_string(rb) + " bytes");
  }
  auto planr = GetPlan(*cache_, s, img.width, img.height, out.width, out.height, oc, out.type, scale, zp,
                       RequestedIsa(s));
  if (!planr.ok()) return planr.status();
  const std::shared_ptr<Plan> plan = planr.value();
  const Plan& P = *plan;
  // The plan's kernel (chosen when it was built).
  const internal::KernelFn fn = P.kernel;
  // A frame buffer the previous call did not read is likely not cached (a
  // camera frame): prefetch its rows; the same buffer again runs without.
  const bool fresh = last_frame_.exchange(img.data[0], std::memory_order_relaxed) != img.data[0];
  const internal::KPlan* kp = fresh ? P.kplan : &P.kwarm;

  uint8_t* o = static_cast<uint8_t*>(out.data);
  // Letterbox borders.
  const internal::KPlan& k = P.k;
  if (k.cw != out.width || k.ch != out.height) {
    const size_t plane_b = static_cast<size_t>(out.width) * out.height * es;
    // Bands of whole pad rows are contiguous (per plane): one memset each when
    // the pad pattern is a single repeated byte (e.g. uint8 outputs, 0.0f).
    const bool bands = P.pad_byte >= 0;
    if (bands) {
      const bool nhwc = s.layout == Layout::kNHWC;
      const size_t row_b = static_cast<size_t>(out.width) * (nhwc ? oc : 1) * es;
      for (int c = 0; c < (nhwc ? 1 : oc); ++c) {
        uint8_t* pl = o + c * plane_b;
        std::memset(pl, P.pad_byte, static_cast<size_t>(k.cy) * row_b);
        const int y1 = k.cy + k.ch;
        std::memset(pl + static_cast<size_t>(y1) * row_b, P.pad_byte, static_cast<size_t>(out.height - y1) * row_b);
      }
    }
    for (int y = bands ? k.cy : 0; y < (bands ? k.cy + k.ch : out.height); ++y) {
      const bool full = y < k.cy || y >= k.cy + k.ch;
      auto fill = [&](int x0, int x1) {
        if (x1 <= x0) return;
        if (s.layout == Layout::kNHWC) {
          const size_t px = static_cast<size_t>(oc) * es;
          std::memcpy(o + (static_cast<size_t>(y) * out.width + x0) * px, P.pad_row.data() + x0 * px, (x1 - x0) * px);
        } else {
          for (int c = 0; c < oc; ++c)
            std::memcpy(o + c * plane_b + (static_cast<size_t>(y) * out.width + x0) * es,
                        P.pad_row.data() + (static_cast<size_t>(c) * out.width + x0) * es, (x1 - x0) * es);
        }
      };
      if (full) fill(0, out.width);
      else { fill(0, k.cx); fill(k.cx + k.cw, out.width); }
    }
  }

  const size_t scratch_bytes = internal::ScratchBytes(*kp);
  const int nlines = kp->nlines;
  int ntasks = 1;
  if (pool_ && nlines >= 16) ntasks = std::min(s.threads, nlines / 8);
  if (ntasks <= 1) {
    fn(*kp, img, o, 0, nlines, Scratch(scratch_bytes));
  } else {
    std::function<void(int)> task = [&](int t) {
      const int l0 = static_cast<int>(static_cast<int64_t>(nlines) * t / ntasks);
      const int l1 = static_cast<int>(static_cast<int64_t>(nlines) * (t + 1) / ntasks);
      fn(*kp, img, o, l0, l1, Scratch(scratch_bytes));
    };
    pool_->Run(ntasks, task);
  }
  return P.transform;
}

}  // namespace preprocess
}  // namespace edgerun
