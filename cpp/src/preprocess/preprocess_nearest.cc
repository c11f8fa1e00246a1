// The nearest-neighbour byte path ("nearest-lut", see KPlan::nearest): every
// output element is a function of one source byte, so it is a table lookup
// (or, for the raw-pixel tables, the byte itself / the byte - 128), and the
// kernel writes output rows directly whatever the rotation: no sampling
// weights, no float stage, no transposing tiles.
//
// Portable C++ on purpose: the same code runs on x86_64 and aarch64 (the
// planner picks this path for both, see PlannedPath), and it is bit-exact with
// the reference by construction (BuildNearestTables fills the tables with
// NormalizePixelRef + StorePixelRef of each byte value).
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

// Output channel bytes of a 32-bit little-endian load at the pixel: byte c of
// the result is source byte kSrc[c] (identity, or 2-1-0 for red/blue swapped).
template <int PERM>
inline uint32_t Arrange(uint32_t v) {
  if (PERM == 0) return v;                     // bytes 0, 1, 2
  if (PERM == 1) return __builtin_bswap32(v) >> 8;  // bytes 2, 1, 0 (4-byte load at the pixel)
  return v * 0x010101u;                        // gray -> 3 channels (v holds one byte)
}

// One content row, NHWC 3 channels, raw bytes (xor = 0 or 0x808080), packed
// 3/4-byte source pixels. px(i) = a + idx[i]. Pixels [f0, f1) may be read with
// 4-byte loads; the others (a 3-byte pixel ending its row) with 3. run: the
// pixels are consecutive 3-byte pixels in order (x is 0).
// Prefetch of the next output row's source bytes (a cold camera frame, see
// KPlan::prefetch): `lines` cache lines from `at`, `per` of them per 4 pixels.
struct RowPrefetch {
  const uint8_t* at = nullptr;
  int lines = 0, per = 0, dir = 1;
  inline void Step() {
    for (int k = 0; k < per && lines > 0; ++k, --lines, at += dir * 64) __builtin_prefetch(at, 0, 2);
  }
};

template <int PERM>
void RowRaw3(const uint8_t* a, const ptrdiff_t* idx, int n, int f0, int f1, uint32_t x, bool run, uint8_t* o,
             RowPrefetch pf) {
  auto slow = [&](int i) {
    const uint32_t v = Arrange<PERM>(PERM == 2 ? a[idx[i]] : Load24(a + idx[i])) ^ x;
    o[i * 3] = static_cast<uint8_t>(v);
    o[i * 3 + 1] = static_cast<uint8_t>(v >> 8);
    o[i * 3 + 2] = static_cast<uint8_t>(v >> 16);
  };
  int i = 0;
  for (; i < f0; ++i) slow(i);
  // 4-byte stores overlap the next pixel, written right after; the content
  // row's last pixel is written exactly (the next bytes are not ours).
  const int fe = std::min(f1, n - 1);
  if (PERM == 0 && run) {  // a 1:1 run of 3-byte pixels (identity-size crops): one copy
    std::memcpy(o, a + idx[0], static_cast<size_t>(n) * 3);
    return;
  }
  if (PERM == 2) {
    for (; i < fe; ++i) Store32(o + i * 3, Arrange<PERM>(a[idx[i]]) ^ x);
  } else {
    for (; i + 4 <= fe; i += 4) {
      pf.Step();
      const uint32_t v0 = Load32(a + idx[i]), v1 = Load32(a + idx[i + 1]);
      const uint32_t v2 = Load32(a + idx[i + 2]), v3 = Load32(a + idx[i + 3]);
      Store32(o + i * 3, Arrange<PERM>(v0) ^ x);
      Store32(o + i * 3 + 3, Arrange<PERM>(v1) ^ x);
      Store32(o + i * 3 + 6, Arrange<PERM>(v2) ^ x);
      Store32(o + i * 3 + 9, Arrange<PERM>(v3) ^ x);
    }
    for (; i < fe; ++i) Store32(o + i * 3, Arrange<PERM>(Load32(a + idx[i])) ^ x);
  }
  for (; i < n; ++i) slow(i);
}

// One content row, any channel count / layout / element size, through the
// tables: element c of pixel i = lut[c][byte (a + idx[i])[srcb[c]]].
template <int C, int ES, bool NHWC>
void RowTable(const KPlan& p, const uint8_t* a, const ptrdiff_t* idx, int n, uint8_t* o, size_t plane) {
  const uint8_t* lut[3];
  int sb[3];
  for (int c = 0; c < C; ++c) {
    lut[c] = p.nlut + static_cast<size_t>(c) * 256 * ES;
    sb[c] = p.nsrcb[c];
  }
  for (int i = 0; i < n; ++i) {
    const uint8_t* s = a + idx[i];
    for (int c = 0; c < C; ++c) {
      uint8_t* d = NHWC ? o + (static_cast<size_t>(i) * C + c) * ES : o + c * plane + static_cast<size_t>(i) * ES;
      const uint8_t* e = lut[c] + static_cast<size_t>(s[sb[c]]) * ES;
      if (ES == 4) std::memcpy(d, e, 4);
      else if (ES == 2) std::memcpy(d, e, 2);
      else *d = *e;
    }
  }
}

using RowTableFn = void (*)(const KPlan&, const uint8_t*, const ptrdiff_t*, int, uint8_t*, size_t);

RowTableFn PickTable(int C, size_t es, bool nhwc) {
  if (C == 1) return es == 4 ? RowTable<1, 4, true> : es == 2 ? RowTable<1, 2, true> : RowTable<1, 1, true>;
  if (nhwc) return es == 4 ? RowTable<3, 4, true> : es == 2 ? RowTable<3, 2, true> : RowTable<3, 1, true>;
  return es == 4 ? RowTable<3, 4, false> : es == 2 ? RowTable<3, 2, false> : RowTable<3, 1, false>;
}

}  // namespace

// Lines [r0, r1) are output content rows here (KPlan::nearest).
void KernelNearest(const KPlan& p, const Image& img, uint8_t* out, int r0, int r1, uint8_t* scratch) {
  const KView& kv = p.views[0];
  const uint8_t* base = img.data[kv.plane];
  const ptrdiff_t stride = img.stride[kv.plane];
  const int C = p.out_c;
  const size_t es = ElemSize(p.type);
  const bool nhwc = p.layout == Layout::kNHWC || C == 1;
  const size_t plane = static_cast<size_t>(p.out_w) * p.out_h * es;
  const size_t orow = static_cast<size_t>(p.out_w) * (nhwc ? C * es : es);
  // Source rows are sampling lines, source columns positions (KPlan::row_a,
  // KView::off_a); an output row walks positions, or (transposed) lines.
  const int n = p.cw;
  ptrdiff_t* idx = reinterpret_cast<ptrdiff_t*>(scratch);
  for (int i = 0; i < n; ++i)
    idx[i] = p.transposed ? static_cast<ptrdiff_t>(p.row_a[i] >> kv.yshift) * stride : kv.off_a[i];
  // 4-byte loads stay inside the row: the positions [f0, f1) of a row, or
  // whole rows (transposed) whose column allows one.
  const bool raw3 = p.nmode != 0 && C == 3 && nhwc;
  int f0 = 0, f1 = n;
  if (raw3 && !p.transposed && p.nperm != 2) {
    while (f0 < n && kv.off_a[f0] + 4 > kv.row_bytes) ++f0;
    while (f1 > f0 && kv.off_a[f1 - 1] + 4 > kv.row_bytes) --f1;
  }
  bool run = raw3 && p.nmode == 1 && kv.bpp == 3 && p.nperm == 0;
  for (int i = 1; i < n && run; ++i) run = idx[i] == idx[i - 1] + 3;
  const uint32_t x = p.nmode == 2 ? (C == 3 ? 0x80808080u : 0x80u) : 0u;
  const RowTableFn table = PickTable(C, es, nhwc);
  for (int r = r0; r < r1; ++r) {
    const uint8_t* a = p.transposed ? base + kv.off_a[r] : base + static_cast<ptrdiff_t>(p.row_a[r] >> kv.yshift) * stride;
    uint8_t* o = out + static_cast<size_t>(p.cy + r) * orow + static_cast<size_t>(p.cx) * (nhwc ? C * es : es);
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
    if (raw3) {
      int g0 = f0, g1 = f1;
      if (p.transposed && p.nperm != 2 && kv.off_a[r] + 4 > kv.row_bytes) g0 = g1 = n;
      switch (p.nperm) {
        case 0: RowRaw3<0>(a, idx, n, g0, g1, x, run, o, pf); break;
        case 1: RowRaw3<1>(a, idx, n, g0, g1, x, run, o, pf); break;
        default: RowRaw3<2>(a, idx, n, g0, g1, x, run, o, pf); break;
      }
    } else if (p.nmode != 0 && C == 1) {
      const uint8_t xb = static_cast<uint8_t>(x);
      const int sb = p.nsrcb[0];
      for (int i = 0; i < n; ++i) o[i] = a[idx[i] + sb] ^ xb;
    } else {
      table(p, a, idx, n, o, plane);
    }
  }
}

size_t NearestScratchBytes(const KPlan& p) { return (static_cast<size_t>(p.cw) + 8) * sizeof(ptrdiff_t) + 64; }

bool BuildNearestTables(KPlan& p, std::vector<uint8_t>* lut) {
  if (!(p.nviews == 1 && !p.rgb_taps && !p.area && (p.op == ColorOp::kCopy || p.op == ColorOp::kGrayToRgb)))
    return false;
  // Single-byte samples only: no row weight, no column pair.
  const int nl = p.transposed ? p.cw : p.ch, np = p.transposed ? p.ch : p.cw;
  if (nl != p.nlines || np != p.npos) return false;
  for (int j = 0; j < nl; ++j)
    if (p.row_w[j] != 0 || p.row_b[j] != p.row_a[j]) return false;
  for (int i = 0; i < np; ++i)
    if (p.col_xb[i] != p.col_x[i]) return false;
  const KView& kv = p.views[0];
  const int C = p.out_c;
  const size_t es = ElemSize(p.type);
  // Source byte of each output channel.
  for (int c = 0; c < C; ++c) {
    int sb = kv.ch_off[0];
    if (p.op == ColorOp::kCopy)
      for (int k = 0; k < kv.nch; ++k)
        if (kv.slot[k] == p.perm[c]) sb = kv.ch_off[k];
    p.nsrcb[c] = sb;
  }
  // Tables: byte value -> stored element, through the reference's own ops.
  lut->assign(static_cast<size_t>(C) * 256 * es, 0);
  KPlan one = p;
  one.out_w = one.out_h = 1;
  one.layout = Layout::kNHWC;
  for (int v = 0; v < 256; ++v) {
    const float s = static_cast<float>(v) * kValueScale;  // a nearest sample: v * 2^21, exact
    const float slots[3] = {s, s, s};
    float o[3];
    NormalizePixelRef(one, slots, o);
    uint8_t e[12];
    StorePixelRef(one, e, 0, o);
    for (int c = 0; c < C; ++c) std::memcpy(lut->data() + (static_cast<size_t>(c) * 256 + v) * es, e + c * es, es);
  }
  p.nlut = lut->data();
  // Raw bytes: every table the identity (uint8) or v - 128 (int8).
  p.nmode = 0;
  if (es == 1) {
    bool ident = true, flip = true;
    for (int c = 0; c < C; ++c)
      for (int v = 0; v < 256; ++v) {
        const uint8_t t = (*lut)[static_cast<size_t>(c) * 256 + v];
        ident = ident && t == v;
        flip = flip && t == (v ^ 0x80);
      }
    p.nmode = ident && p.type == ElemType::kUInt8 ? 1 : flip && p.type == ElemType::kInt8 ? 2 : 0;
  }
  // Channel order of the raw 3-channel path: 0 = source bytes 0,1,2; 1 = 2,1,0;
  // 2 = gray replicated; anything else goes through the tables.
  p.nperm = -1;
  if (C == 3) {
    if (p.op == ColorOp::kGrayToRgb && kv.bpp == 1) p.nperm = 2;
    else if (kv.bpp >= 3 && p.nsrcb[0] == 0 && p.nsrcb[1] == 1 && p.nsrcb[2] == 2) p.nperm = 0;
    else if (kv.bpp >= 3 && p.nsrcb[0] == 2 && p.nsrcb[1] == 1 && p.nsrcb[2] == 0) p.nperm = 1;
    if (p.nperm < 0) p.nmode = 0;
  }
  // Where this path is the faster one (bench/preprocess.py, same-process A/B
  // against the SIMD kernels on AVX2): raw bytes only -- through the tables or
  // to float the SIMD kernels' vector arithmetic wins (0.45-0.9x here) -- and
  // 3-channel NHWC outputs of packed RGB-family sources only (gray sources
  // replicated: 0.8x; NCHW planes through the tables: 0.4x).
  if (p.nmode == 0 || C != 3 || !(p.nperm == 0 || p.nperm == 1) || p.layout != Layout::kNHWC) return false;
  // Lines become output content rows (Run splits them among threads).
  p.nlines = p.ch;
  p.npos = p.cw;
  p.nearest = true;
  return true;
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
