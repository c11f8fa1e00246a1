// The nearest-neighbour byte path ("nearest-lut", see KPlan::nearest): when
// every sample is one source byte and the output elements are the raw pixels
// (uint8 as is, int8 = byte - 128), an output pixel is its source pixel's
// bytes, so the kernel copies them into output rows directly whatever the
// rotation: no sampling weights, no float stage, no transposing tiles.
//
// Portable C++ on purpose: the same code runs on x86_64 and aarch64 (the
// planner picks this path for both, see PlannedPath), and it is bit-exact with
// the reference by construction (BuildNearestPlan accepts a plan only when
// NormalizePixelRef + StorePixelRef of every byte value give that byte, or
// byte ^ 0x80).
#include <algorithm>
#include <cstring>

#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {

namespace {

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint32_t Load24(const uint8_t* p) { return p[0] | (p[1] << 8) | (static_cast<uint32_t>(p[2]) << 16); }
inline void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Output channel bytes of a 32-bit little-endian load at the pixel: bytes
// 0, 1, 2 as they are, or (SWAP) 2, 1, 0 for red/blue swapped.
template <bool SWAP>
inline uint32_t Arrange(uint32_t v) {
  return SWAP ? __builtin_bswap32(v) >> 8 : v;
}

// Prefetch of the next output row's source bytes (a cold camera frame, see
// KPlan::prefetch): `lines` cache lines from `at`, `per` of them per 4 pixels.
struct RowPrefetch {
  const uint8_t* at = nullptr;
  int lines = 0, per = 0, dir = 1;
  inline void Step() {
    for (int k = 0; k < per && lines > 0; ++k, --lines, at += dir * 64) __builtin_prefetch(at, 0, 2);
  }
};

// One content row of 3-byte NHWC output pixels (x: 0 or 0x80808080) from
// packed 3/4-byte source pixels, pixel i at a + idx[i]. Pixels [f0, f1) may be
// read with 4-byte loads; the others (a 3-byte pixel ending its row) with 3.
// run: the pixels are consecutive 3-byte pixels in order (x is 0, no swap).
template <bool SWAP>
void RowRaw3(const uint8_t* a, const ptrdiff_t* idx, int n, int f0, int f1, uint32_t x, bool run, uint8_t* o,
             RowPrefetch pf) {
  if (run) {  // a 1:1 run (identity-size crops): one copy
    std::memcpy(o, a + idx[0], static_cast<size_t>(n) * 3);
    return;
  }
  auto slow = [&](int i) {
    const uint32_t v = Arrange<SWAP>(Load24(a + idx[i])) ^ x;
    o[i * 3] = static_cast<uint8_t>(v);
    o[i * 3 + 1] = static_cast<uint8_t>(v >> 8);
    o[i * 3 + 2] = static_cast<uint8_t>(v >> 16);
  };
  int i = 0;
  for (; i < f0; ++i) slow(i);
  // 4-byte stores overlap the next pixel, written right after; the content
  // row's last pixel is written exactly (the next bytes are not ours).
  const int fe = std::min(f1, n - 1);
  for (; i + 4 <= fe; i += 4) {
    pf.Step();
    const uint32_t v0 = Load32(a + idx[i]), v1 = Load32(a + idx[i + 1]);
    const uint32_t v2 = Load32(a + idx[i + 2]), v3 = Load32(a + idx[i + 3]);
    Store32(o + i * 3, Arrange<SWAP>(v0) ^ x);
    Store32(o + i * 3 + 3, Arrange<SWAP>(v1) ^ x);
    Store32(o + i * 3 + 6, Arrange<SWAP>(v2) ^ x);
    Store32(o + i * 3 + 9, Arrange<SWAP>(v3) ^ x);
  }
  for (; i < fe; ++i) Store32(o + i * 3, Arrange<SWAP>(Load32(a + idx[i])) ^ x);
  for (; i < n; ++i) slow(i);
}

}  // namespace

// Lines [r0, r1) are output content rows here (KPlan::nearest).
void KernelNearest(const KPlan& p, const Image& img, uint8_t* out, int r0, int r1, uint8_t* scratch) {
  const KView& kv = p.views[0];
  const uint8_t* base = img.data[kv.plane];
  const ptrdiff_t stride = img.stride[kv.plane];
  const size_t orow = static_cast<size_t>(p.out_w) * 3;
  // Source rows are sampling lines, source columns positions (KPlan::row_a,
  // KView::off_a); an output row walks positions, or (transposed) lines.
  const int n = p.cw;
  ptrdiff_t* idx = reinterpret_cast<ptrdiff_t*>(scratch);
  for (int i = 0; i < n; ++i)
    idx[i] = p.transposed ? static_cast<ptrdiff_t>(p.row_a[i] >> kv.yshift) * stride : kv.off_a[i];
  // 4-byte loads stay inside the row: the positions [f0, f1) of a row, or
  // whole rows (transposed) whose column allows one.
  int f0 = 0, f1 = n;
  if (!p.transposed) {
    while (f0 < n && kv.off_a[f0] + 4 > kv.row_bytes) ++f0;
    while (f1 > f0 && kv.off_a[f1 - 1] + 4 > kv.row_bytes) --f1;
  }
  bool run = p.nxor == 0 && !p.nswap && kv.bpp == 3;
  for (int i = 1; i < n && run; ++i) run = idx[i] == idx[i - 1] + 3;
  for (int r = r0; r < r1; ++r) {
    const uint8_t* a = p.transposed ? base + kv.off_a[r] : base + static_cast<ptrdiff_t>(p.row_a[r] >> kv.yshift) * stride;
    uint8_t* o = out + static_cast<size_t>(p.cy + r) * orow + static_cast<size_t>(p.cx) * 3;
    RowPrefetch pf;
    if (p.prefetch && !p.transposed && r + 1 < r1 && p.row_a[r + 1] != p.row_a[r] && kv.pf_hi > kv.pf_lo) {
      const uint8_t* next = base + static_cast<ptrdiff_t>(p.row_a[r + 1] >> kv.yshift) * stride;
      const uintptr_t lo = reinterpret_cast<uintptr_t>(next + kv.pf_lo) & ~static_cast<uintptr_t>(63);
      const uintptr_t hi = reinterpret_cast<uintptr_t>(next + kv.pf_hi - 1) & ~static_cast<uintptr_t>(63);
      pf.lines = static_cast<int>((hi - lo) / 64) + 1;
      pf.dir = kv.pf_desc ? -1 : 1;
      pf.at = reinterpret_cast<const uint8_t*>(kv.pf_desc ? hi : lo);
      const int steps = n / 4 > 0 ? n / 4 : 1;
      pf.per = (pf.lines + steps - 1) / steps;
    }
    int g0 = f0, g1 = f1;
    if (p.transposed && kv.off_a[r] + 4 > kv.row_bytes) g0 = g1 = n;
    if (p.nswap) RowRaw3<true>(a, idx, n, g0, g1, p.nxor, false, o, pf);
    else RowRaw3<false>(a, idx, n, g0, g1, p.nxor, run, o, pf);
  }
}

size_t NearestScratchBytes(const KPlan& p) { return (static_cast<size_t>(p.cw) + 8) * sizeof(ptrdiff_t) + 64; }

bool BuildNearestPlan(KPlan& p) {
  // Where this path is the faster one (bench/preprocess.py, same-process A/B
  // against the SIMD kernels on AVX2): raw-pixel uint8/int8 outputs, 3-channel
  // NHWC, of packed RGB-family sources. Other tables through a scalar lookup,
  // float outputs (the SIMD float stage wins: 0.45-0.9x here), gray sources
  // replicated (0.8x) and NCHW planes (0.4x) stay on the SIMD paths.
  if (!(p.nviews == 1 && !p.rgb_taps && !p.area && p.op == ColorOp::kCopy && p.out_c == 3 &&
        p.layout == Layout::kNHWC && (p.type == ElemType::kUInt8 || p.type == ElemType::kInt8)))
    return false;
  const KView& kv = p.views[0];
  if (kv.bpp < 3) return false;
  // Single-byte samples only: no row weight, no column pair.
  const int nl = p.transposed ? p.cw : p.ch, np = p.transposed ? p.ch : p.cw;
  if (nl != p.nlines || np != p.npos) return false;
  for (int j = 0; j < nl; ++j)
    if (p.row_w[j] != 0 || p.row_b[j] != p.row_a[j]) return false;
  for (int i = 0; i < np; ++i)
    if (p.col_xb[i] != p.col_x[i]) return false;
  // Source byte of each output channel: 0, 1, 2 or (swapped) 2, 1, 0.
  int sb[3] = {-1, -1, -1};
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < kv.nch; ++k)
      if (kv.slot[k] == p.perm[c]) sb[c] = kv.ch_off[k];
  const bool swap = sb[0] == 2 && sb[1] == 1 && sb[2] == 0;
  if (!swap && !(sb[0] == 0 && sb[1] == 1 && sb[2] == 2)) return false;
  // Raw pixels: the reference's own normalize + store of every byte value v
  // (a nearest sample is v * 2^21, exact) gives v (uint8) or v ^ 0x80 (int8).
  const uint8_t flip = p.type == ElemType::kInt8 ? 0x80 : 0;
  KPlan one = p;
  one.out_w = one.out_h = 1;
  one.layout = Layout::kNHWC;
  for (int v = 0; v < 256; ++v) {
    const float s = static_cast<float>(v) * kValueScale;
    const float slots[3] = {s, s, s};
    float o[3];
    NormalizePixelRef(one, slots, o);
    uint8_t e[3];
    StorePixelRef(one, e, 0, o);
    for (int c = 0; c < 3; ++c)
      if (e[c] != (v ^ flip)) return false;
  }
  p.nxor = flip ? 0x80808080u : 0u;
  p.nswap = swap;
  // Lines become output content rows (Run splits them among threads).
  p.nlines = p.ch;
  p.npos = p.cw;
  p.nearest = true;
  return true;
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
