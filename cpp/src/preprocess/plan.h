// Internal: the precomputed plan a preprocessing kernel executes, and the
// kernel entry points. A Plan is built once per (spec, frame geometry, output
// geometry/type/quantization) and cached by the Preprocessor.
//
// Fixed-point spec of bilinear/nearest sampling (all kernels, bit-exact):
//   horizontal (source x):  h = s[a]*wa + s[b]*wb,      wa + wb = 128   (u16, exact)
//   vertical   (source y):  v = h0*(16384-wy) + h1*wy                    (u32, exact)
//   the sampled value is v / 2^21 pixel units; float(v) is rounded to nearest.
// Column weights never hold 128: a zero weight turns the pair into (a, a) with
// weights (64, 64), so every weight fits a signed byte (pmaddubsw).
// Everything after sampling is float, one IEEE op at a time in a fixed order
// (mul then add, never fused), so SIMD and reference agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "edgerun/preprocess.h"
#include "edgerun/tensor.h"

namespace edgerun {
namespace preprocess {
namespace internal {

constexpr int kColOne = 128;               // source-x weights: 7 bits
constexpr int kRowOne = 16384;             // source-y weights: 14 bits
constexpr float kValueScale = 2097152.0f;  // sampled values are pixel * 2^21
// Area weights (see KPlan::area): exact rationals while the reduced source
// length stays within the limit, else rescaled to the quantum.
constexpr int kAreaRowLimit = 128;    // 255 * 128 fits int16; rows pair into pmaddubsw's signed bytes
constexpr int kAreaColLimit = 16383;  // 255 * 128 * 16383 < 2^31; chroma sums of two weights fit int16
constexpr int kAreaColQuant = 8192;

enum class ColorOp : int {
  kCopy = 0,   // out[c] = slot[perm[c]]      (rgb/bgr reorder, gray->gray, yuv->gray = luma)
  kYuvToRgb,   // slots (Y, U, V) -> clamp(matrix) -> out[c] = rgb[perm[c]]
  kRgbToGray,  // slots (R, G, B) -> 0.299 R + 0.587 G + 0.114 B (OpenCV's 14-bit weights)
  kGrayToRgb,  // slot 0 replicated
};

// One byte-plane view feeding 1..3 sampled slots. Plain data + raw pointers:
// ISA-specific files must not instantiate std templates (ODR: a weak symbol
// compiled with -mavx2 could be picked for baseline code).
struct KView {
  int plane = 0;
  int bpp = 1;          // bytes per sample unit along x
  int xshift = 0;       // source column -> unit column (1 for subsampled chroma)
  int yshift = 0;       // source row -> plane row
  int nch = 0;
  int ch_off[3] = {0, 0, 0};  // byte offset of each channel inside a unit
  int slot[3] = {0, 0, 0};    // sampled slot each channel feeds
  int row_bytes = 0;          // readable bytes per row
  const int32_t* off_a = nullptr;  // per position: byte offset of tap a (channel 0 excluded)
  const int32_t* off_b = nullptr;
  // SIMD window tables (see simd_tables.cc)
  int K = 0;                    // windows per quad
  const int32_t* win = nullptr; // [block][K][nquads]
  const uint8_t* mask = nullptr;// [block][K][nch][nregs][reg_bytes]
  // AVX2 per-pixel mode for 3/4-byte pixels at large downscale: one 8-byte
  // load per position, two per 128-bit lane, one shuffle per 4 positions.
  bool packed = false;
  const int32_t* pwin = nullptr;   // [8-block][8] load offsets, position order 0,1,4,5,2,3,6,7
  const uint8_t* pmask = nullptr;  // [8-block][64]
  const uint8_t* pw = nullptr;     // [8-block][64] column weights in mask order
  // AVX2 uniform packed mode (a sub-case of packed): position i's tap a is at
  // byte off_a[0] + i * ustride, tap b a constant distance after it, with the
  // same weights for every position (integer downscale factors: 1280 -> 320,
  // 640 -> 128, ...). Those 8-blocks need no per-position tables: one 16-byte
  // window per position and row, constant shuffle mask and weights.
  int ustride = 0;       // 0: not uniform
  int ublock0 = 0;       // uniform 8-blocks are [ublock0, ublocks): their windows (row b's
  int ublocks = 0;       // loaded 8 bytes early) lie inside the row
  int ubase = 0;         // window start of position 0
  uint8_t umask[16] = {};  // per 128-bit lane: slot sl's (a, b) tap bytes, row a at 4sl, row b at 4sl + 2
  uint8_t uw[16] = {};     // the column weights in mask order
  // SIMD area (see AreaTables): the taps of this view's own grid (chroma
  // weights are the sums of the luma-grid weights of the pixels sharing a
  // sample), so each plane is averaged at its own resolution.
  //   vertical: per line, rows [vstart[j], vstart[j+1]) of (plane row vrow,
  //   weight vw <= 127) -> acc[x] = sum vw * px (int16, <= 255 * one_y), for
  //   acc indices [span_lo, span_hi) (bytes of the view's row);
  //   horizontal: position i reads hK chunks of 8 int16 at acc + hbase[i] and
  //   takes the dot product with hw[((i * hK) + k) * nch + c][0..7] for channel c.
  const int32_t* vstart = nullptr;
  const int32_t* vrow = nullptr;
  const uint8_t* vw = nullptr;
  int hK = 0;
  const int32_t* hbase = nullptr;
  const int16_t* hw = nullptr;
  int span_lo = 0, span_hi = 0;
  // Integer-ratio fast path: every position takes the same number of whole
  // units (ucnt) with one weight, consecutive positions ucnt units apart
  // (udir = +1, or -1 on a reversed axis), and a position spans uwidth =
  // ucnt * bpp in {1, 2, 4} int16 of the accumulator row. Then no per-position
  // tables: position i reads acc + hbase[0] + udir * i * uwidth, and
  // upat[c][0..15] (the weight at the lanes of channel c, period uwidth) gives
  // its sums with pmaddwd / vmull_s16. 0: not uniform.
  int uwidth = 0, udir = 0;
  int16_t upat[3][16] = {};
  // Bytes [pf_lo, pf_hi) of a row the bilinear/nearest kernels read, and
  // whether positions walk it downwards (reversed axis): the software prefetch
  // of the next line's rows (kernel_driver-inl.h LinePrefetch).
  int pf_lo = 0, pf_hi = 0;
  bool pf_desc = false;
};

struct KPlan {
  // Software prefetch of the next line's rows (kernel_driver-inl.h
  // LinePrefetch). Off for a frame the previous call read (Preprocessor::Run):
  // its rows are likely cached, and prefetching cached lines only costs
  // (~0.8 ns per line here: fixed cases 20-30% slower), while a new buffer -- a
  // camera frame written by DMA -- is read 1.15-2.4x faster with it.
  bool prefetch = true;
  int out_w = 0, out_h = 0, out_c = 3;
  ElemType type = ElemType::kFloat32;
  Layout layout = Layout::kNHWC;
  bool transposed = false;  // rotate 90/270: a line is an output column
  int cx = 0, cy = 0, cw = 0, ch = 0;  // content rectangle inside the output
  int nlines = 0, npos = 0;            // lines and positions per line of the content
  // bilinear / nearest
  const int32_t* row_a = nullptr;  // per line: absolute source rows
  const int32_t* row_b = nullptr;
  const int32_t* row_w = nullptr;  // weight of row_b, 0..16384
  const uint8_t* col_wa = nullptr; // per position
  const uint8_t* col_wb = nullptr;
  const int32_t* col_x = nullptr;  // per position: absolute source columns of taps a, b
  const int32_t* col_xb = nullptr;
  // area: integer weights (AreaTaps in preprocess.cc), CSR lists of absolute
  // source indices on the luma (pixel) grid. The sampled value is
  //   v = sum_r arow_w[r] * sum_k acol_w[k] * px   (exact integer, < 2^31)
  //   slot = float(v) * area_scale                 (area_scale = 2^21 / (one_x * one_y))
  // Row weights sum to one_y <= kAreaRowLimit, column weights to one_x <=
  // kAreaColLimit, so 255 * one_y fits int16 and 255 * one_y * one_x int32:
  // any summation order gives the same v (SIMD sums rows first).
  bool area = false;
  float area_scale = 0.f;
  const int32_t* arow_start = nullptr;  // nlines + 1
  const int32_t* arow_idx = nullptr;
  const int32_t* arow_w = nullptr;
  const int32_t* acol_start = nullptr;  // npos + 1
  const int32_t* acol_idx = nullptr;
  const int32_t* acol_w = nullptr;

  int nviews = 0;
  KView views[3];
  int nslots = 0;
  ColorOp op = ColorOp::kCopy;
  int perm[3] = {0, 1, 2};
  // YUV -> RGB in value units (pixel * 2^21):
  //   y = max(Y, ymin)*ky;  R = y + (V*crv + kr);  G = y + ((U*cgu + V*cgv) + kg);  B = y + (U*cbu + kb)
  //   then clamp to [0, vmax]. ymin = 16 (limited range: OpenCV's max(0, Y - 16)) or 0.
  float ymin = 0, ky = 0, crv = 0, cgu = 0, cgv = 0, cbu = 0, kr = 0, kg = 0, kb = 0, vmax = 0;
  float gw[3] = {0, 0, 0};  // gray = (R*gw0 + G*gw1) + B*gw2
  // YuvSampling::kRgb: every tap (Y, U, V) becomes uint8 RGB before interpolation
  // (slots then hold R, G, B and op is kCopy), 13-bit integer coefficients:
  //   y = max(Y - ty, 0); u = U - 128; v = V - 128
  //   R = clamp((y*tcy + 4096 + v*tcvr) >> 13), G = ... + v*tcvg + u*tcug, B = ... + u*tcub
  bool rgb_taps = false;
  int ty = 0, tcy = 0, tcvr = 0, tcug = 0, tcvg = 0, tcub = 0;
  // normalize: o = p*A + B (float outputs); integer outputs: q = rne(clamp(p*A + B, qlo, qhi)) + zp
  float A[3] = {1, 1, 1}, B[3] = {0, 0, 0};
  float qlo = 0, qhi = 0;
  int zp = 0;
  // SIMD may skip the float clamp (saturating packs give the same result) unless
  // p*A + B can leave the int32 range (absurdly small scales): then qclamp.
  bool qclamp = false;
  // SIMD column weights: [block][reg_total_bytes]
  int nblocks = 0;
  const uint8_t* wcol = nullptr;
  // SIMD area with rgb_taps (BuildAreaTables): each source row a line needs is
  // first converted to packed uint8 RGB (the taps' formula, so the integer sums
  // equal the reference's), then averaged by the one packed RGB view that
  // replaces the YUV views. The YUV bytes of source pixel (x, y):
  //   Y = plane ry_plane, row y, byte x * ry_step + ry_off
  //   U/V = plane ru_plane/rv_plane, row y >> rc_yshift, byte (x >> 1) * rc_step + ru_off/rv_off
  // rgb_rows_max: the most source rows of one line (scratch rows).
  bool rgb_rows = false;
  int ry_plane = 0, ry_step = 1, ry_off = 0, ru_plane = 0, rv_plane = 0, rc_step = 1, ru_off = 0, rv_off = 0,
      rc_yshift = 0, rgb_rows_max = 0;
  // Nearest byte path (KernelNearest, BuildNearestPlan): plans whose samples
  // are single source bytes (no row weight, no column pair: nearest, or a 1:1
  // bilinear grid) of packed RGB-family frames, to 3-channel NHWC uint8/int8
  // raw pixels: an output pixel is its source pixel's bytes, ^ nxor (0, or
  // 0x80808080 for int8 = byte - 128), red/blue swapped when nswap. Lines are
  // output content rows (nlines = ch, npos = cw) whatever the rotation.
  bool nearest = false;
  uint32_t nxor = 0;
  bool nswap = false;
};

// Processes lines [line_begin, line_end) of the content. `out` is the output
// tensor base; `scratch` holds at least ScratchBytes(plan) bytes, 64-aligned.
using KernelFn = void (*)(const KPlan& p, const Image& img, uint8_t* out, int line_begin,
                          int line_end, uint8_t* scratch);

size_t ElemSize(ElemType t);
size_t ScratchBytes(const KPlan& p);
// The end of ScratchBytes(p) holds the SIMD kernels' horizontal-sum cache of
// upscales (kernel_driver-inl.h HorCache): two rows of int16 sums per view and
// channel, whole 32-byte blocks, 64-aligned.
inline size_t HorCacheBytes(const KPlan& p) {
  return (static_cast<size_t>(p.npos) + 64) * 3 * 3 * 2 * 2 + 128;
}

// Transposed outputs (rotate 90/270): SIMD kernels compute up to TileLines(p)
// lines (output columns) into line buffers, then write them row by row as runs
// of that many pixels. A run covers at least ~192 bytes (whole cache lines):
// with runs of 8 float32 RGB pixels (96 bytes), output cache lines were written
// partially by two tiles; bgr 1640x1232 -> 512x512 float32 rot270 took 2.8x the
// time of rot0, ~2x with these runs (the rest is the transposing copy itself).
constexpr int kTileMin = 8, kTileMax = 64;
static inline int TileLines(const KPlan& p) {
  const size_t es = p.type == ElemType::kFloat32 ? 4 : p.type == ElemType::kFloat16 ? 2 : 1;
  const size_t px = p.layout == Layout::kNHWC || p.out_c == 1 ? p.out_c * es : es;  // bytes per run pixel
  int t = kTileMin;
  while (t < kTileMax && static_cast<size_t>(t) * px < 192) t *= 2;
  return t;
}

// Writes lines [j0, j0 + n) held in `tile` (line g at tile + g * line_bytes;
// NHWC: pixels of C*es bytes; NCHW: C planes of npad elements) into the output.
// static: every ISA file gets its own copy (no shared inline symbol).
// Pixels of 3, 6 and 12 bytes move as 4, 8 and 16 bytes (one load + one store):
// the extra bytes read lie in the line's spill room, the extra bytes written are
// the next pixel's of the same run, written right after; the run's last pixel
// is copied exactly (the next pixel of the output row belongs to another tile).
// 1, 2 and 4-byte elements (NCHW planes, one-channel outputs) move as square
// blocks of 16 bytes per row (16x16, 8x8, 4x4 elements), transposed in
// registers with generic vector shuffles (SSE2 / NEON from either compiler):
// log2(B) rounds of interleaving row k with row k + B/2 transpose a block.
typedef uint8_t FlushV8 __attribute__((vector_size(16)));
typedef uint16_t FlushV16 __attribute__((vector_size(16)));
typedef uint32_t FlushV32 __attribute__((vector_size(16)));
static inline void FlushInterleave(FlushV8 a, FlushV8 b, FlushV8* lo, FlushV8* hi) {
  *lo = __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  *hi = __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}
static inline void FlushInterleave(FlushV16 a, FlushV16 b, FlushV16* lo, FlushV16* hi) {
  *lo = __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
  *hi = __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
}
static inline void FlushInterleave(FlushV32 a, FlushV32 b, FlushV32* lo, FlushV32* hi) {
  *lo = __builtin_shufflevector(a, b, 0, 4, 1, 5);
  *hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
}
template <class V, int B>
static inline void FlushBlocks(const uint8_t* tile, size_t line_bytes, size_t src_off, int npos, int n, uint8_t* o,
                               size_t row, int* done_pos, int* done_lines) {
  constexpr int kPx = 16 / B;
  const int np = npos / B * B, nl = n / B * B;
  for (int i = 0; i < np; i += B)
    for (int g = 0; g < nl; g += B) {
      V r[B];
      for (int k = 0; k < B; ++k) std::memcpy(&r[k], tile + src_off + (g + k) * line_bytes + i * kPx, 16);
      for (int round = 1; round < B; round *= 2) {
        V t[B];
        for (int k = 0; k < B / 2; ++k) FlushInterleave(r[k], r[k + B / 2], &t[2 * k], &t[2 * k + 1]);
        for (int k = 0; k < B; ++k) r[k] = t[k];
      }
      for (int k = 0; k < B; ++k) std::memcpy(o + (i + k) * row + g * kPx, &r[k], 16);
    }
  *done_pos = np;
  *done_lines = nl;
}

template <size_t PX>
static inline void FlushRuns(const uint8_t* tile, size_t line_bytes, size_t src_off, size_t src_step, int npos,
                             int n, uint8_t* o, size_t row) {
  constexpr size_t kWide = PX == 3 ? 4 : PX == 6 ? 8 : PX == 12 ? 16 : PX;
  if (PX == 1 || PX == 2 || PX == 4) {  // src_step == PX: elements of a line are contiguous
    int dp = 0, dl = 0;
    if (PX == 1) FlushBlocks<FlushV8, 16>(tile, line_bytes, src_off, npos, n, o, row, &dp, &dl);
    if (PX == 2) FlushBlocks<FlushV16, 8>(tile, line_bytes, src_off, npos, n, o, row, &dp, &dl);
    if (PX == 4) FlushBlocks<FlushV32, 4>(tile, line_bytes, src_off, npos, n, o, row, &dp, &dl);
    // The lines past the last whole block for the blocked positions; then the rest.
    for (int i = 0; i < dp; ++i)
      for (int g = dl; g < n; ++g) std::memcpy(o + i * row + g * PX, tile + src_off + i * src_step + g * line_bytes, PX);
    o += static_cast<size_t>(dp) * row;
    tile += static_cast<size_t>(dp) * src_step;
    npos -= dp;
  }
  for (int i = 0; i < npos; ++i, o += row) {
    const uint8_t* s = tile + src_off + i * src_step;
    int g = 0;
    // Constant sizes: inlined. Unrolled by four: a loop of one load and one
    // store ran at 1 or 2 cycles per pixel depending on where it was placed
    // and how the enclosing function's registers were allocated.
    for (; g + 4 < n; g += 4) {
      std::memcpy(o + g * PX, s + g * line_bytes, kWide);
      std::memcpy(o + (g + 1) * PX, s + (g + 1) * line_bytes, kWide);
      std::memcpy(o + (g + 2) * PX, s + (g + 2) * line_bytes, kWide);
      std::memcpy(o + (g + 3) * PX, s + (g + 3) * line_bytes, kWide);
    }
    for (; g + 1 < n; ++g) std::memcpy(o + g * PX, s + g * line_bytes, kWide);
    std::memcpy(o + g * PX, s + g * line_bytes, PX);
  }
}
static inline void FlushTile(const KPlan& p, const uint8_t* tile, size_t line_bytes, size_t npad, size_t es, int j0,
                             int n, uint8_t* out) {
  const int C = p.out_c;
  const size_t col = static_cast<size_t>(p.cx + j0);
  const bool nhwc = p.layout == Layout::kNHWC || C == 1;
  const size_t px = nhwc ? C * es : es;  // bytes per copied element
  const size_t row = static_cast<size_t>(p.out_w) * (nhwc ? C * es : es);
  const size_t plane = static_cast<size_t>(p.out_w) * p.out_h * es;
  for (int c = 0; c < (nhwc ? 1 : C); ++c) {
    uint8_t* o = out + c * plane + static_cast<size_t>(p.cy) * row + col * px;
    const size_t off = nhwc ? 0 : c * npad * es;
    switch (px) {
      case 1: FlushRuns<1>(tile, line_bytes, off, 1, p.npos, n, o, row); break;
      case 2: FlushRuns<2>(tile, line_bytes, off, 2, p.npos, n, o, row); break;
      case 3: FlushRuns<3>(tile, line_bytes, off, 3, p.npos, n, o, row); break;
      case 4: FlushRuns<4>(tile, line_bytes, off, 4, p.npos, n, o, row); break;
      case 6: FlushRuns<6>(tile, line_bytes, off, 6, p.npos, n, o, row); break;
      default: FlushRuns<12>(tile, line_bytes, off, 12, p.npos, n, o, row); break;
    }
  }
}

// YUV -> RGB coefficients of a matrix and range (R = cy*(Y - yoff) + crv*(V - 128),
// G = ... + cgu*(U - 128) + cgv*(V - 128), B = ... + cbu*(U - 128)): the Preprocessor's
// and the ROI crop's (roi_crop.cc) colour conversions share them.
struct YuvCoefs {
  double cy = 0, crv = 0, cgu = 0, cgv = 0, cbu = 0, yoff = 0;
};
YuvCoefs YuvCoefficients(YuvMatrix matrix, YuvRange range);

// Kernels.
void KernelNearest(const KPlan& p, const Image& img, uint8_t* out, int line_begin, int line_end, uint8_t* scratch);
// Turns a plan into a nearest byte-path plan (see KPlan::nearest) when it
// qualifies; false (p unusable then) when it does not.
bool BuildNearestPlan(KPlan& p);
size_t NearestScratchBytes(const KPlan& p);
void KernelRef(const KPlan& p, const Image& img, uint8_t* out, int line_begin, int line_end,
               uint8_t* scratch);
#if defined(EDGERUN_ARCH_X86)
void KernelAvx2(const KPlan& p, const Image& img, uint8_t* out, int line_begin, int line_end,
                uint8_t* scratch);
#endif
#if defined(EDGERUN_ARCH_ARM64)
void KernelNeon(const KPlan& p, const Image& img, uint8_t* out, int line_begin, int line_end,
                uint8_t* scratch);
#endif

// Scalar helpers shared by the reference and the SIMD tails (preprocess_ref.cc);
// half conversion: FloatToHalf / HalfToFloat of edgerun/tensor.h.
// Writes one pixel (out channels, already normalized floats) at element index
// `elem` (NHWC) / plane offset (NCHW) -- used for padding and the reference.
void StorePixelRef(const KPlan& p, uint8_t* out, size_t pixel_index, const float* o);
void NormalizePixelRef(const KPlan& p, const float* slots, float* o);
// The byte values of all slots at absolute source pixel (x, y), RGB-converted
// when p.rgb_taps.
void FetchTapRef(const KPlan& p, const Image& img, int x, int y, int32_t* s);
// s[0..2] = (Y, U, V) bytes -> (R, G, B) bytes in place, the rgb_taps formula.
void TapToRgbRef(const KPlan& p, int32_t* s);

// SIMD table layouts.
enum class SimdLayout : int { kAvx2 = 0, kNeon };
struct SimdTables {
  SimdLayout layout = SimdLayout::kAvx2;
  int block_px = 0, nquads = 0, nregs = 0, reg_bytes = 0;
  int nblocks = 0;
  std::vector<int32_t> win[3];
  std::vector<uint8_t> mask[3];
  std::vector<uint8_t> wcol;
  int K[3] = {0, 0, 0};
  std::vector<int32_t> pwin[3];
  std::vector<uint8_t> pmask[3], pw[3];
};
// Builds window/mask/weight tables for the views of `p` (which must have
// off_a/off_b/col_wa/col_wb set). Returns false when a view cannot be served
// by 16-byte windows (row shorter than 16 bytes): use the reference then.
bool BuildSimdTables(KPlan& p, SimdLayout layout, SimdTables* t);

// SIMD area tables (the KView area fields point into them), the same for every
// ISA: chunks of 8 int16 are one 128-bit register on both AVX2 and NEON.
// Positions are padded to a multiple of 8 (hbase 0, zero weights).
struct AreaTables {
  std::vector<int32_t> vstart[3], vrow[3];
  std::vector<uint8_t> vw[3];
  std::vector<int32_t> hbase[3];
  std::vector<int16_t> hw[3];
};
// Fills the area fields of p's views (YuvSampling::kRgb: replaces the YUV views
// by one packed RGB view over converted rows, see KPlan::rgb_rows). Returns
// false when the SIMD kernels cannot serve the plan (weight tables past 32 MB,
// converted rows of one line past 64 MB).
bool BuildAreaTables(KPlan& p, AreaTables* t);
// Bytes of SIMD area scratch: one int16 accumulator row per view, with
// kAreaAccFront int16 of zeros before it (reversed uniform blocks read there).
constexpr int kAreaAccFront = 64;
size_t AreaScratchBytes(const KPlan& p);

// Kernel configurations (XNNPACK's config style): one per kernel ISA, filled
// once per process from the CPU features. A plan takes its kernel from here
// when it is built (with the SIMD tables of the config's layout), and every
// frame run with that plan calls the same pointer: no per-frame or per-row
// dispatch.
struct KernelConfig {
  Isa isa = Isa::kScalar;
  KernelFn fn = nullptr;
  bool simd = false;                     // needs SIMD tables (BuildSimdTables) in `layout`
  SimdLayout layout = SimdLayout::kAvx2;
};
// The kernel path (Preprocessor::KernelPath) a plan for this geometry would
// take with the SIMD tables of `layout`, whether or not this machine runs that
// ISA: the planner's decision, comparable across ISAs (planner tests).
Expected<std::string> PlannedPath(const Spec& s, int src_w, int src_h, int out_w, int out_h, ElemType type,
                                  SimdLayout layout);

// The configuration of `isa` (kAuto: the best one on this machine), or null
// when its kernels are not available here. Ignores EDGERUN_DISABLE_SIMD.
const KernelConfig* GetKernelConfig(Isa isa);

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
