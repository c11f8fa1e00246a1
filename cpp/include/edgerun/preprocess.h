// edgerun::preprocess: camera frame -> model input in one fused pass.
//
// A Preprocessor converts colour, crops/rotates/flips, resamples, normalizes and
// quantizes in one pass at output resolution, writing straight into the model's
// input buffer. The scalar reference kernel (cpp/src/preprocess/preprocess_ref.cc)
// is the specification; SIMD kernels (AVX2 on x86-64, NEON on aarch64) match it
// bit-exactly for the integer sampling stage and within 1 LSB of the output type
// overall. Runtime CPU detection picks the kernel once per plan (one per frame
// and output geometry); EDGERUN_DISABLE_SIMD=1 forces the reference.
// Semantics: docs/preprocessing.md.
//
// No Python, no exceptions: every failure is a Status (InputError for bad
// arguments, naming what was expected and what arrived).
#pragma once

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "edgerun/options.h"
#include "edgerun/status.h"

namespace edgerun {
namespace preprocess {

enum class PixelFormat : int {
  kRGB = 0, kBGR, kRGBA, kBGRA, kGray,  // H x W x C uint8 (C = 3, 3, 4, 4, 1)
  kNV12, kNV21, kI420,                  // (H*3/2) x W uint8, 4:2:0, even W and H
  kYUYV, kUYVY,                         // H x W x 2 uint8, 4:2:2, even W
};
enum class Fit : int { kStretch = 0, kLetterbox, kCrop };
enum class Interpolation : int { kBilinear = 0, kNearest, kArea };
enum class Channels : int { kRGB = 0, kBGR, kGray };
enum class Layout : int { kNHWC = 0, kNCHW };
enum class ElemType : int { kFloat32 = 0, kFloat16, kUInt8, kInt8 };
enum class YuvMatrix : int { kBT601 = 0, kBT709 };
enum class YuvRange : int { kLimited = 0, kFull };
// Where YUV sources are interpolated. kYuv (default, fast): Y/U/V are sampled
// and converted once per output pixel. kRgb: every source tap is converted to
// uint8 RGB first and the RGB taps are interpolated, the order of OpenCV's
// cvtColor -> resize chain (differs from kYuv only where colours saturate).
enum class YuvSampling : int { kYuv = 0, kRgb };
// Kernel selection. kAuto = best available (after EDGERUN_DISABLE_SIMD); the
// others force one implementation (tests, benchmarks) and fail with InputError
// when it is not available on this machine.
enum class Isa : int { kAuto = 0, kScalar, kAVX2, kNEON };

// Names as the Python API spells them ("nv12", "letterbox", "float32", ...),
// from the one name table of each enum (NamesOf<E>(), see options.h).
const char* Name(PixelFormat v);
const char* Name(Fit v);
const char* Name(Interpolation v);
const char* Name(Channels v);
const char* Name(Layout v);
const char* Name(ElemType v);
const char* Name(YuvMatrix v);
const char* Name(YuvRange v);
const char* Name(YuvSampling v);
const char* Name(Isa v);
Expected<PixelFormat> ParsePixelFormat(const std::string& s);
Expected<Fit> ParseFit(const std::string& s);
Expected<Interpolation> ParseInterpolation(const std::string& s);
Expected<Channels> ParseChannels(const std::string& s);
Expected<Layout> ParseLayout(const std::string& s);
Expected<ElemType> ParseElemType(const std::string& s);
Expected<YuvMatrix> ParseYuvMatrix(const std::string& s);
Expected<YuvRange> ParseYuvRange(const std::string& s);
Expected<YuvSampling> ParseYuvSampling(const std::string& s);
Expected<Isa> ParseIsa(const std::string& s);

// Number of uint8 channels of a packed format (3 for rgb, 2 for yuyv, ...); 1 for
// planar YUV (the array is 2-D).
int PackedChannels(PixelFormat f);
bool IsYuv420(PixelFormat f);

struct Roi {
  int x = 0, y = 0, width = 0, height = 0;
};

// The one options object of preprocessing (DESIGN principle 7). These
// defaults are the only ones: edgerun.Preprocessor's signature reads them
// through the bindings. Preprocessor::Create validates every field.
struct Spec {
  PixelFormat format = PixelFormat::kRGB;
  Fit fit = Fit::kStretch;
  bool has_roi = false;  // roi applies first, in source pixels
  Roi roi;
  int rotate = 0;        // 0/90/180/270 clockwise, applied after flip
  bool flip = false;     // horizontal mirror of the source (before rotation)
  Interpolation interpolation = Interpolation::kBilinear;
  float mean[3] = {127.5f, 127.5f, 127.5f};  // per output channel, pixel units 0..255
  float stddev[3] = {127.5f, 127.5f, 127.5f};
  Channels channels = Channels::kRGB;
  Layout layout = Layout::kNHWC;
  YuvMatrix yuv_matrix = YuvMatrix::kBT601;
  YuvRange yuv_range = YuvRange::kLimited;
  YuvSampling yuv_sampling = YuvSampling::kYuv;
  float pad_value[3] = {0.f, 0.f, 0.f};  // letterbox border, RGB pixel units 0..255
  int threads = 1;                       // 1..64; >1: rows split across a small pool
  Isa isa = Isa::kAuto;
};

// A source frame: up to three byte planes with their row strides.
// Packed formats and YUYV/UYVY use plane 0; NV12/NV21 use plane 0 (Y) and
// plane 1 (interleaved chroma); I420 uses planes 0, 1 (U), 2 (V).
struct Image {
  int width = 0, height = 0;
  const uint8_t* data[3] = {nullptr, nullptr, nullptr};
  ptrdiff_t stride[3] = {0, 0, 0};
};

// Describes a frame stored in one buffer the way camera drivers / numpy hand
// it over: rows of `row_stride` bytes; for 4:2:0 formats the chroma follows the
// H luma rows (NV12/NV21: H/2 rows of W bytes with the same stride; I420: U
// then V planes of H/2 rows of W/2 bytes with stride row_stride/2).
// `buffer_bytes` is the readable size starting at `data`; every byte the frame
// describes must lie inside it.
Expected<Image> ImageFromBuffer(PixelFormat format, const uint8_t* data, int width, int height,
                                ptrdiff_t row_stride, size_t buffer_bytes);

// Bytes of one row of plane `plane` that a kernel may read (width * bytes per
// pixel for packed, W for NV12 chroma, W/2 for I420 chroma).
int PlaneRowBytes(PixelFormat format, int width, int plane);
int PlaneRows(PixelFormat format, int height, int plane);
int PlaneCount(PixelFormat format);

// The model input a Preprocessor writes: a dense tensor of shape (H, W, C)
// (NHWC) or (C, H, W) (NCHW), C = 1 for gray else 3.
struct Output {
  void* data = nullptr;
  ElemType type = ElemType::kFloat32;
  int width = 0, height = 0, channels = 3;
  size_t bytes = 0;       // size of the buffer at data (checked)
  float scale = 1.0f;     // integer types: q = clamp(round((px-mean)/std/scale) + zero_point)
  int zero_point = 0;
};

// An array as the caller's array library describes it (numpy: data pointer,
// element kind and size, shape and byte strides, flags). FrameFromArray and
// OutputFromArray interpret it (which shapes a format takes, which layouts an
// output takes) with messages naming what arrived, so the bindings only copy
// numpy's fields here.
struct ArrayDesc {
  static constexpr int kMaxDims = 4;
  void* data = nullptr;
  char kind = '?';            // 'u' unsigned, 'i' signed, 'f' float, 'b' bool, 'c' complex, other: '?'
  int itemsize = 0;
  bool native_order = true;   // false: byte-swapped elements
  bool writable = true;
  bool c_contiguous = true;
  int ndim = 0;               // > kMaxDims: only ndim is meaningful (rejected)
  int64_t shape[kMaxDims] = {0, 0, 0, 0};
  int64_t strides[kMaxDims] = {0, 0, 0, 0};  // bytes
  size_t nbytes = 0;
  // Bytes readable from `data` when a frame extends past the array's own
  // extent (an i420 view with padded rows whose chroma lies beyond the view, in
  // the buffer it was sliced from). Called only then; null: the own extent.
  size_t (*readable)(const void* ctx, size_t own_extent) = nullptr;
  const void* readable_ctx = nullptr;
};

// The frame a uint8 array holds for `format`: (H, W, C) for packed formats
// (C = 3, 3, 4, 4, 2, 2; gray (H, W) or (H, W, 1)), (H*3/2, W) for 4:2:0; rows
// may be padded (positive row stride), pixels of a row contiguous.
Expected<Image> FrameFromArray(PixelFormat format, const ArrayDesc& a);
// The Output a dense array gives for `spec` (channels, layout): (H, W, C) /
// (1, H, W, C), (C, H, W) / (1, C, H, W) for nchw, also (H, W) for gray;
// float32/float16/uint8/int8, writable, C-contiguous. scale/zero_point stay 1/0.
Expected<Output> OutputFromArray(const Spec& spec, const ArrayDesc& a);

// Maps between model-input coordinates and source-frame coordinates (through
// roi, crop, flip, rotation, scaling and letterbox). Continuous pixel
// coordinates: pixel i covers [i, i+1), so its centre is i + 0.5.
//   source = m * input:  sx = m[0]*x + m[1]*y + m[2];  sy = m[3]*x + m[4]*y + m[5]
struct Transform {
  double m[6] = {1, 0, 0, 0, 1, 0};
  int input_width = 0, input_height = 0;      // model input size
  int content[4] = {0, 0, 0, 0};              // x, y, w, h: the image inside the input (letterbox)
  int source_roi[4] = {0, 0, 0, 0};           // x, y, w, h in the frame actually sampled (after crop)
  void ToSource(double x, double y, double* sx, double* sy) const;
  void ToInput(double sx, double sy, double* x, double* y) const;
};

namespace internal {
struct PlanCache;
struct Pool;
}  // namespace internal

class Preprocessor {
 public:
  // Validates the spec (InputError naming the bad field).
  static Expected<std::unique_ptr<Preprocessor>> Create(const Spec& spec);
  ~Preprocessor();
  Preprocessor(const Preprocessor&) = delete;
  Preprocessor& operator=(const Preprocessor&) = delete;

  // Converts `image` into `out`. Thread-safe (plans are cached per geometry).
  Expected<Transform> Run(const Image& image, const Output& out);
  // The transform Run would return, without touching pixels.
  Expected<Transform> GetTransform(int src_width, int src_height, int out_width, int out_height);

  const Spec& spec() const { return spec_; }
  // The kernel Run would use for this spec on this machine ("avx2", "neon", "scalar").
  const char* kernel_name() const;
  // The kernel path the plan for this geometry runs: "scalar" or "<isa>/<path>"
  // with path "area", "area-uniform" (integer ratios), "windows", "packed" or
  // "packed-uniform" (AVX2 per-pixel
  // loads for 3/4-byte pixels). Fixed when the plan is built (once per geometry).
  Expected<std::string> KernelPath(int src_width, int src_height, int out_width, int out_height, ElemType type);

 private:
  explicit Preprocessor(const Spec& spec);
  Spec spec_;
  std::unique_ptr<internal::PlanCache> cache_;
  std::unique_ptr<internal::Pool> pool_;
  std::atomic<const uint8_t*> last_frame_{nullptr};  // plane 0 of the last frame Run read
};

// Best kernel ISA on this machine, honouring EDGERUN_DISABLE_SIMD ("avx2", "neon", "scalar").
const char* ActiveIsa();
bool IsaAvailable(Isa isa);

}  // namespace preprocess

// The vocabularies (option keyword as the Python API spells it: the YUV matrix
// is `color`, the output element type `dtype`, the kernel choice `isa`).
template <> const NameTable& NamesOf<preprocess::PixelFormat>();
template <> const NameTable& NamesOf<preprocess::Fit>();
template <> const NameTable& NamesOf<preprocess::Interpolation>();
template <> const NameTable& NamesOf<preprocess::Channels>();
template <> const NameTable& NamesOf<preprocess::Layout>();
template <> const NameTable& NamesOf<preprocess::ElemType>();
template <> const NameTable& NamesOf<preprocess::YuvMatrix>();
template <> const NameTable& NamesOf<preprocess::YuvRange>();
template <> const NameTable& NamesOf<preprocess::YuvSampling>();
template <> const NameTable& NamesOf<preprocess::Isa>();

}  // namespace edgerun
