// The SIMD preprocessing kernel, written once for every ISA.
//
// Included only by the ISA files (preprocess_avx2.cc, preprocess_neon.cc), after
// their `#pragma GCC optimize("fp-contract=off")` and with their ISA flags: each
// file defines a primitives struct P in an anonymous namespace and calls
// KernelDriver<P>. Every template here takes P as a parameter, so each
// instantiation has internal linkage: no code compiled with -mavx2 can be
// merged into another file's (ODR). Nothing here instantiates a std:: template.
//
// The driver reproduces preprocess_ref.cc bit for bit (plan.h has the spec):
//   phase 1  per view and block of P::kBlock positions: load the source-row
//            windows, pick the (a, b) tap bytes with byte shuffles, multiply by
//            the 7-bit column weights (horizontal pass, 16-bit sums), then by
//            the 14-bit row weights (vertical pass, 32-bit) -> float slot rows;
//   phase 2  slot rows -> colour -> normalize (the reference's float ops in the
//            same order, never fused) -> store, in blocks of two float vectors.
//
// What P provides (AVX2: 16 positions per block, NEON: 8):
//   widths   kBlock (positions per block = 2 float vectors of kLanes),
//            kWinPerK (window loads per block and window index k), kMaskBytes
//            (shuffle-mask bytes per k and channel), kColWBytes (column weights
//            per block); kPackedMode (see "ISA fast paths" below)
//   types    F (float vector), I16 (int16 vector), Bytes (tap bytes of a block),
//            Hor (16-bit horizontal sums of a block), Win (the windows of one k),
//            ColW (column weights of a block), RowW (row weights of a line),
//            TapConsts (YuvSampling::kRgb conversion constants)
//   floats   Set1, Set1I16, Load, Mul, Add, Min, Max
//   sampling LoadWin(row, win), PickTaps(Win, mask), Or, LoadColW, MulCols
//            (horizontal pass), RowWeights(wy), StoreRows(h0, h1, RowW, dst)
//            (vertical pass + convert + store kBlock floats)
//   kRgb     MakeTapConsts(p, &t), TapsToRgb(Y, U, V, t, rgb[3]); for area
//            (KPlan::rgb_rows) kRgbPx and YuvRowToRgb (pixels of a row -> RGB bytes)
//   output   Store<T, C, NHWC>(o, dst, plane_stride, consts): o[c][h] = channel
//            c of the block's positions h*kLanes .. h*kLanes + kLanes - 1
//   area     AreaVertical(plane, stride, rows, weights, n, lo, hi, acc) (int16
//            accumulator row), AreaHorizontal<NCH, KC>(view, acc, npos, scale,
//            slot rows) (see AreaSampleLine)
//
// ISA fast paths stay in their ISA file, behind the same structure: with
// P::kPackedMode (AVX2 only), views the tables built in packed mode are
// sampled by P::SamplePacked, and P::Direct may take whole lines of packed
// RGB-family sources to NHWC RGB/BGR outputs (P::Direct::Init / Line). Without
// kPackedMode, P::Direct is an empty struct and none of that is instantiated.
#pragma once

#include <cstring>

#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {

// Software prefetch of the next line's source rows, spread over the current
// line's blocks: a camera frame arrives cold (DMA'd, or evicted since the last
// frame), and a downscale starts two new rows per line, each read once, with
// the hardware prefetcher retraining at every row and page (cold-frame time of
// bgr 1640x1232 -> 512x512 float32 was ~2.3x its warm time). The driver lists
// the cache lines of the rows the next line reads and this one does not, in
// the order the kernel will read them; block b of the line's block loops
// prefetches the b-th share of the list (PrefetchSlice). Into L2, not L1 (which
// holds this line's rows): with L1 prefetches the cold-frame gain was lost.

// One sampler call's share of a line's prefetch list, by value (no aliasing
// with the output stores): block b prefetches lines [b * per, (b + 1) * per).
struct PrefetchSlice {
  const uint8_t* const* line = nullptr;
  int n = 0, per = 0;
  inline void At(int b) const {
    if (n <= 0) return;  // loop-invariant: the compiler unswitches the block loops on it
    int q = b * per;
    const int e = q + per < n ? q + per : n;
    for (; q < e; ++q) __builtin_prefetch(line[q], 0, 2);  // into L2: L1 holds this line's rows
  }
};

struct LinePrefetch {
  static constexpr int kMax = 768;  // cache lines per line (past that: the hardware's)
  const uint8_t* line[kMax];
  int n = 0, per = 0;
  // A row whose bytes [lo, hi) the next line reads, in the kernel's order.
  inline void Add(const uint8_t* row, int lo, int hi, bool desc) {
    if (hi <= lo) return;
    const uintptr_t first = reinterpret_cast<uintptr_t>(row + lo) & ~static_cast<uintptr_t>(63);
    const uintptr_t last = reinterpret_cast<uintptr_t>(row + hi - 1) & ~static_cast<uintptr_t>(63);
    const int k = static_cast<int>((last - first) / 64) + 1;
    for (int i = 0; i < k && n < kMax; ++i)
      line[n++] = reinterpret_cast<const uint8_t*>(desc ? last - static_cast<uintptr_t>(i) * 64
                                                        : first + static_cast<uintptr_t>(i) * 64);
  }
  // Spreads the list over `calls` blocks of the line.
  inline void Spread(int calls) { per = calls > 0 ? (n + calls - 1) / calls : n; }
  // The share of a sampler whose first block is the line's block `first`.
  inline PrefetchSlice Slice(int first) const {
    PrefetchSlice s;
    const int skip = first * per < n ? first * per : n;
    s.line = line + skip;
    s.n = n - skip;
    s.per = per;
    return s;
  }
};

// Plan constants as vectors.
template <class P>
struct Consts {
  using F = typename P::F;
  F A[3], B[3];
  F ymin, ky, crv, cgu, cgv, cbu, kr, kg, kb, vmax, zero;
  F gw0, gw1, gw2;
  F qlo, qhi;
  typename P::I16 zp16;
  bool qclamp;
};

template <class P>
void MakeConsts(const KPlan& p, Consts<P>* k) {
  for (int c = 0; c < 3; ++c) {
    k->A[c] = P::Set1(p.A[c]);
    k->B[c] = P::Set1(p.B[c]);
  }
  k->ky = P::Set1(p.ky);
  k->ymin = P::Set1(p.ymin);
  k->crv = P::Set1(p.crv);
  k->cgu = P::Set1(p.cgu);
  k->cgv = P::Set1(p.cgv);
  k->cbu = P::Set1(p.cbu);
  k->kr = P::Set1(p.kr);
  k->kg = P::Set1(p.kg);
  k->kb = P::Set1(p.kb);
  k->vmax = P::Set1(p.vmax);
  k->zero = P::Set1(0.f);
  k->gw0 = P::Set1(p.gw[0]);
  k->gw1 = P::Set1(p.gw[1]);
  k->gw2 = P::Set1(p.gw[2]);
  k->qlo = P::Set1(p.qlo);
  k->qhi = P::Set1(p.qhi);
  k->zp16 = P::Set1I16(static_cast<int16_t>(p.zp));
  k->qclamp = p.qclamp;
}

// ---- phase 1: sampling ----

// Tap bytes of one view for one block: acc[c] = (a, b) pairs of channel c in the
// ISA's slot order (simd_tables.cc).
template <class P, int K, int NCH>
inline void GatherRaw(const uint8_t* row, const int32_t* win, const uint8_t* mask, typename P::Bytes* acc) {
  for (int k = 0; k < K; ++k) {
    const typename P::Win w = P::LoadWin(row, win + k * P::kWinPerK);
    for (int c = 0; c < NCH; ++c) {
      const typename P::Bytes x = P::PickTaps(w, mask + (static_cast<size_t>(k) * NCH + c) * P::kMaskBytes);
      acc[c] = k == 0 ? x : P::Or(acc[c], x);
    }
  }
}

// Horizontal pass: h[c] = 16-bit sums of one block.
template <class P, int K, int NCH>
inline void Gather(const uint8_t* row, const int32_t* win, const uint8_t* mask, typename P::ColW wc,
                           typename P::Hor* h) {
  typename P::Bytes acc[NCH];
  GatherRaw<P, K, NCH>(row, win, mask, acc);
  for (int c = 0; c < NCH; ++c) h[c] = P::MulCols(acc[c], wc);
}

template <class P>
void GatherRawAny(int K, int nch, const uint8_t* row, const int32_t* win, const uint8_t* mask, typename P::Bytes* acc) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: GatherRaw<P, 1, 1>(row, win, mask, acc); break;
    case 1 * 4 + 2: GatherRaw<P, 1, 2>(row, win, mask, acc); break;
    case 2 * 4 + 1: GatherRaw<P, 2, 1>(row, win, mask, acc); break;
    case 2 * 4 + 2: GatherRaw<P, 2, 2>(row, win, mask, acc); break;
    case 4 * 4 + 1: GatherRaw<P, 4, 1>(row, win, mask, acc); break;
    default: GatherRaw<P, 4, 2>(row, win, mask, acc); break;
  }
}

// Phase 1 for YuvSampling::kRgb: all views of a line at once -> R, G, B slot rows.
template <class P>
void SampleLineRgbTaps(const KPlan& p, const uint8_t* const* ra, const uint8_t* const* rb, typename P::RowW wy,
                       const typename P::TapConsts& t, float* const* slots, PrefetchSlice pf) {
  using Bytes = typename P::Bytes;
  for (int b = 0; b < p.nblocks; ++b) {
    pf.At(b);
    const typename P::ColW wc = P::LoadColW(p.wcol + static_cast<size_t>(b) * P::kColWBytes);
    Bytes A[3], B[3];
    for (int v = 0; v < p.nviews; ++v) {
      const KView& kv = p.views[v];
      const int32_t* win = kv.win + static_cast<size_t>(b) * kv.K * P::kWinPerK;
      const uint8_t* mask = kv.mask + static_cast<size_t>(b) * kv.K * kv.nch * P::kMaskBytes;
      Bytes a[2], bb[2];
      GatherRawAny<P>(kv.K, kv.nch, ra[v], win, mask, a);
      if (ra[v] == rb[v]) {
        bb[0] = a[0];
        bb[1] = a[1];
      } else {
        GatherRawAny<P>(kv.K, kv.nch, rb[v], win, mask, bb);
      }
      for (int c = 0; c < kv.nch; ++c) {
        A[kv.slot[c]] = a[c];
        B[kv.slot[c]] = bb[c];
      }
    }
    Bytes rgbA[3], rgbB[3];
    P::TapsToRgb(A[0], A[1], A[2], t, rgbA);
    P::TapsToRgb(B[0], B[1], B[2], t, rgbB);
    for (int c = 0; c < 3; ++c) {
      const typename P::Hor h0 = P::MulCols(rgbA[c], wc), h1 = P::MulCols(rgbB[c], wc);
      P::StoreRows(h0, h1, wy, slots[c] + b * P::kBlock);
    }
  }
}

// Phase 1: one view of one line -> float slot rows (value units), whole blocks.
template <class P, int K, int NCH>
void SampleLine(const KView& kv, const uint8_t* ra, const uint8_t* rb, typename P::RowW wy, const uint8_t* wcol,
                int nb, float* const* dst, PrefetchSlice pf) {
  const bool same = ra == rb;
  const size_t mstep = static_cast<size_t>(K) * NCH * P::kMaskBytes;
  for (int b = 0; b < nb; ++b) {
    pf.At(b);
    const typename P::ColW wc = P::LoadColW(wcol + static_cast<size_t>(b) * P::kColWBytes);
    const int32_t* win = kv.win + static_cast<size_t>(b) * K * P::kWinPerK;
    const uint8_t* mask = kv.mask + b * mstep;
    typename P::Hor h0[NCH], h1[NCH];
    Gather<P, K, NCH>(ra, win, mask, wc, h0);
    if (same) {
      for (int c = 0; c < NCH; ++c) h1[c] = h0[c];
    } else {
      Gather<P, K, NCH>(rb, win, mask, wc, h1);
    }
    for (int c = 0; c < NCH; ++c) P::StoreRows(h0[c], h1[c], wy, dst[c] + b * P::kBlock);
  }
}

// Upscales along the lines (bilinear): consecutive lines share source rows,
// so each view keeps the horizontal sums (P::Hor per block and channel) of
// the last two source rows it sampled, tagged by row address (reset per call:
// a frame buffer may be reused), and a line computes only the rows it lacks.
template <class P>
struct HorCache {
  typename P::Hor* buf[2];
  const uint8_t* tag[2];
};

template <class P, int K, int NCH>
void SampleLineCached(const KView& kv, const uint8_t* ra, const uint8_t* rb, typename P::RowW wy, const uint8_t* wcol,
                      int nb, float* const* dst, HorCache<P>* hc, PrefetchSlice pf) {
  using Hor = typename P::Hor;
  const size_t mstep = static_cast<size_t>(K) * NCH * P::kMaskBytes;
  auto get = [&](const uint8_t* row, const uint8_t* keep) -> Hor* {
    for (int s = 0; s < 2; ++s)
      if (hc->tag[s] == row) return hc->buf[s];
    const int s = hc->tag[0] == keep ? 1 : 0;
    Hor* h = hc->buf[s];
    for (int b = 0; b < nb; ++b) {
      pf.At(b);
      const typename P::ColW wc = P::LoadColW(wcol + static_cast<size_t>(b) * P::kColWBytes);
      Gather<P, K, NCH>(row, kv.win + static_cast<size_t>(b) * K * P::kWinPerK, kv.mask + b * mstep, wc, h + b * NCH);
    }
    hc->tag[s] = row;
    return h;
  };
  const Hor* h0 = get(ra, rb);
  const Hor* h1 = ra == rb ? h0 : get(rb, ra);
  for (int b = 0; b < nb; ++b)
    for (int c = 0; c < NCH; ++c) P::StoreRows(h0[b * NCH + c], h1[b * NCH + c], wy, dst[c] + b * P::kBlock);
}

template <class P>
using CachedFn = void (*)(const KView&, const uint8_t*, const uint8_t*, typename P::RowW, const uint8_t*, int,
                          float* const*, HorCache<P>*, PrefetchSlice);

template <class P>
CachedFn<P> PickCached(int K, int nch) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: return SampleLineCached<P, 1, 1>;
    case 1 * 4 + 2: return SampleLineCached<P, 1, 2>;
    case 1 * 4 + 3: return SampleLineCached<P, 1, 3>;
    case 2 * 4 + 1: return SampleLineCached<P, 2, 1>;
    case 2 * 4 + 2: return SampleLineCached<P, 2, 2>;
    case 2 * 4 + 3: return SampleLineCached<P, 2, 3>;
    case 4 * 4 + 1: return SampleLineCached<P, 4, 1>;
    case 4 * 4 + 2: return SampleLineCached<P, 4, 2>;
    default: return SampleLineCached<P, 4, 3>;
  }
}

template <class P>
using SampleFn = void (*)(const KView&, const uint8_t*, const uint8_t*, typename P::RowW, const uint8_t*, int,
                          float* const*, PrefetchSlice);

template <class P>
SampleFn<P> PickSample(int K, int nch) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: return SampleLine<P, 1, 1>;
    case 1 * 4 + 2: return SampleLine<P, 1, 2>;
    case 1 * 4 + 3: return SampleLine<P, 1, 3>;
    case 2 * 4 + 1: return SampleLine<P, 2, 1>;
    case 2 * 4 + 2: return SampleLine<P, 2, 2>;
    case 2 * 4 + 3: return SampleLine<P, 2, 3>;
    case 4 * 4 + 1: return SampleLine<P, 4, 1>;
    case 4 * 4 + 2: return SampleLine<P, 4, 2>;
    default: return SampleLine<P, 4, 3>;
  }
}

// ---- phase 2: colour + normalize (same op order as NormalizePixelRef) ----
// s[] are the slot vectors already arranged in output-channel order (kCopy), or
// (Y, U, V) / (R, G, B) in canonical order. For YUV -> BGR the driver swaps U/V
// and the coefficient pairs, which yields bit-identical values (a + b == b + a).
template <class P, ColorOp OP, int C>
inline void Post(const Consts<P>& k, const typename P::F* s, typename P::F* o) {
  using F = typename P::F;
  F px[3] = {s[0], s[0], s[0]};
  if (OP == ColorOp::kCopy) {
    for (int c = 0; c < C; ++c) px[c] = s[c];
  } else if (OP == ColorOp::kGrayToRgb) {
    // px already s[0]
  } else if (OP == ColorOp::kRgbToGray) {
    const F t0 = P::Mul(s[0], k.gw0);
    const F t1 = P::Mul(s[1], k.gw1);
    const F t = P::Add(t0, t1);
    const F t2 = P::Mul(s[2], k.gw2);
    px[0] = P::Add(t, t2);
  } else {
    const F y = P::Mul(P::Max(s[0], k.ymin), k.ky);
    F r = P::Mul(s[2], k.crv);
    r = P::Add(r, k.kr);
    r = P::Add(y, r);
    const F g0 = P::Mul(s[1], k.cgu);
    const F g1 = P::Mul(s[2], k.cgv);
    F g = P::Add(g0, g1);
    g = P::Add(g, k.kg);
    g = P::Add(y, g);
    F b = P::Mul(s[1], k.cbu);
    b = P::Add(b, k.kb);
    b = P::Add(y, b);
    px[0] = P::Min(P::Max(r, k.zero), k.vmax);
    px[1] = P::Min(P::Max(g, k.zero), k.vmax);
    px[2] = P::Min(P::Max(b, k.zero), k.vmax);
  }
  for (int c = 0; c < C; ++c) o[c] = P::Add(P::Mul(px[c], k.A[c]), k.B[c]);
}

// Phase 2: slot rows -> colour -> normalize -> store one line. The last partial
// block goes through `tail` (a block of output elements) and is copied out.
template <class P, ColorOp OP, ElemType T, int C, bool NHWC>
void PostLine(const Consts<P>& k, const float* const* src, int nsrc, int npos, uint8_t* dst, size_t ps,
              uint8_t* tail) {
  using F = typename P::F;
  constexpr int kB = P::kBlock, kL = P::kLanes;
  constexpr size_t es = T == ElemType::kFloat32 ? 4 : T == ElemType::kFloat16 ? 2 : 1;
  constexpr size_t blk = NHWC ? kB * C * es : kB * es;
  const int nfull = npos / kB;
  const int rest = npos - nfull * kB;
  for (int b = 0; b <= nfull; ++b) {
    if (b == nfull && rest == 0) break;
    F s[2][3];
    for (int i = 0; i < 3; ++i) {
      const float* p = src[i < nsrc ? i : 0] + b * kB;
      s[0][i] = P::Load(p);
      s[1][i] = P::Load(p + kL);
    }
    F o2[2][3];
    Post<P, OP, C>(k, s[0], o2[0]);
    Post<P, OP, C>(k, s[1], o2[1]);
    F o[3][2];
    for (int c = 0; c < C; ++c) {
      o[c][0] = o2[0][c];
      o[c][1] = o2[1][c];
    }
    uint8_t* d = dst + b * blk;
    if (b < nfull) {
      P::template Store<T, C, NHWC>(o, d, ps, k);
    } else {
      P::template Store<T, C, NHWC>(o, tail, kB * es, k);
      if (NHWC) {
        std::memcpy(d, tail, rest * C * es);
      } else {
        for (int c = 0; c < C; ++c) std::memcpy(d + c * ps, tail + c * kB * es, rest * es);
      }
    }
  }
}

template <class P>
using PostFn = void (*)(const Consts<P>&, const float* const*, int, int, uint8_t*, size_t, uint8_t*);

template <class P, ColorOp OP, ElemType T>
PostFn<P> PickPost2(int C, bool nhwc) {
  if (C == 1) return PostLine<P, OP, T, 1, true>;  // one channel: both layouts are contiguous
  return nhwc ? PostLine<P, OP, T, 3, true> : PostLine<P, OP, T, 3, false>;
}
template <class P, ColorOp OP>
PostFn<P> PickPost1(ElemType t, int C, bool nhwc) {
  switch (t) {
    case ElemType::kFloat32: return PickPost2<P, OP, ElemType::kFloat32>(C, nhwc);
    case ElemType::kFloat16: return PickPost2<P, OP, ElemType::kFloat16>(C, nhwc);
    case ElemType::kUInt8: return PickPost2<P, OP, ElemType::kUInt8>(C, nhwc);
    default: return PickPost2<P, OP, ElemType::kInt8>(C, nhwc);
  }
}
template <class P>
PostFn<P> PickPost(ColorOp op, ElemType t, int C, bool nhwc) {
  switch (op) {
    case ColorOp::kCopy: return PickPost1<P, ColorOp::kCopy>(t, C, nhwc);
    case ColorOp::kYuvToRgb: return PickPost1<P, ColorOp::kYuvToRgb>(t, C, nhwc);
    case ColorOp::kRgbToGray: return PickPost1<P, ColorOp::kRgbToGray>(t, C, nhwc);
    default: return PickPost1<P, ColorOp::kGrayToRgb>(t, C, nhwc);
  }
}

// ---- area: separable integer sums (see KView / AreaTables in plan.h) ----
// Per view: the vertical pass sums the line's source rows, weighted, into an
// int16 accumulator row (P::AreaVertical); the horizontal pass takes, per
// position, the dot product of 8-wide int16 chunks of it with the position's
// weights (P::AreaHorizontal<NCH>), then float(v) * area_scale -> slot rows.
// Exact integer sums: bit-exact with the reference's other summation order.
// YuvSampling::kRgb (KPlan::rgb_rows): source row y, pixels [x0, x1), to
// packed uint8 RGB at dst + 3x (TapToRgbRef's formula; P::YuvRowToRgb converts
// P::kRgbPx pixels from an even x, the reference the rest).
template <class P>
void RgbRow(const KPlan& p, const Image& img, int y, int x0, int x1, const typename P::TapConsts& tc, uint8_t* dst) {
  const uint8_t* yr = img.data[p.ry_plane] + static_cast<ptrdiff_t>(y) * img.stride[p.ry_plane] + p.ry_off;
  const ptrdiff_t cy = y >> p.rc_yshift;
  const uint8_t* ur = img.data[p.ru_plane] + cy * img.stride[p.ru_plane] + p.ru_off;
  const uint8_t* vr = img.data[p.rv_plane] + cy * img.stride[p.rv_plane] + p.rv_off;
  const int width = p.views[0].row_bytes / 3;
  int x = x0 & ~1;
  // Loads of a step end before the row's last chroma pair: within the row.
  for (; x + P::kRgbPx + 2 <= width && x < x1; x += P::kRgbPx)
    P::YuvRowToRgb(yr + static_cast<ptrdiff_t>(x) * p.ry_step, p.ry_step, ur + (x >> 1) * p.rc_step,
                   vr + (x >> 1) * p.rc_step, p.rc_step, tc, dst + x * 3);
  for (; x < x1; ++x) {
    int32_t t[3] = {yr[static_cast<ptrdiff_t>(x) * p.ry_step], ur[(x >> 1) * p.rc_step], vr[(x >> 1) * p.rc_step]};
    TapToRgbRef(p, t);
    for (int c = 0; c < 3; ++c) dst[x * 3 + c] = static_cast<uint8_t>(t[c]);
  }
}

// rgb: YuvSampling::kRgb scratch (rows of p.views[0].row_bytes + 64 bytes, and
// rgb_rows_max row indices 0, 1, ...), else null.
template <class P>
void AreaSampleLine(const KPlan& p, const Image& img, int j, int16_t* const* acc, float* const* slots, uint8_t* rgb,
                    const int32_t* rgb_idx, const typename P::TapConsts& tc, bool last) {
  // Prefetch (LinePrefetch): the rows of line j + 1 that line j does not sum,
  // over the vertical pass's 32-byte chunks (not for rows converted to RGB).
  LinePrefetch pf;
  int first[3] = {0, 0, 0};  // each view's first 32-byte chunk in the line's count
  if (p.prefetch && !last && !p.rgb_rows) {
    int calls = 0;
    for (int v = 0; v < p.nviews; ++v) {
      const KView& kv = p.views[v];
      first[v] = calls;
      const int r0 = kv.vstart[j], r1 = kv.vstart[j + 1], r2 = kv.vstart[j + 2];
      for (int r = r1; r < r2; ++r) {
        bool have = false;
        for (int q = r0; q < r1 && !have; ++q) have = kv.vrow[q] == kv.vrow[r];
        for (int q = r1; q < r && !have; ++q) have = kv.vrow[q] == kv.vrow[r];
        if (!have)
          pf.Add(img.data[kv.plane] + static_cast<ptrdiff_t>(kv.vrow[r]) * img.stride[kv.plane], kv.span_lo,
                 kv.span_hi, false);
      }
      calls += (kv.span_hi - kv.span_lo + 31) / 32;
    }
    pf.Spread(calls);
  }
  for (int v = 0; v < p.nviews; ++v) {
    const KView& kv = p.views[v];
    const int r0 = kv.vstart[j], r1 = kv.vstart[j + 1];
    if (p.rgb_rows) {  // one view: the rows converted to RGB, then averaged as an RGB frame
      const ptrdiff_t rs = kv.row_bytes + 64;
      const int x0 = kv.span_lo / 3, x1 = (kv.span_hi + 2) / 3;
      for (int r = r0; r < r1; ++r) {
        if (r > r0 && kv.vrow[r] == kv.vrow[r - 1])  // a row split in two weights
          std::memcpy(rgb + (r - r0) * rs, rgb + (r - r0 - 1) * rs, static_cast<size_t>(rs));
        else
          RgbRow<P>(p, img, kv.vrow[r], x0, x1, tc, rgb + (r - r0) * rs);
      }
      P::AreaVertical(rgb, rs, rgb_idx, kv.vw + r0, r1 - r0, kv.span_lo, kv.span_hi, acc[v], PrefetchSlice());
    } else {
      P::AreaVertical(img.data[kv.plane], img.stride[kv.plane], kv.vrow + r0, kv.vw + r0, r1 - r0, kv.span_lo,
                      kv.span_hi, acc[v], pf.Slice(first[v]));
    }
    float* dst[3] = {slots[kv.slot[0]], slots[kv.slot[kv.nch > 1 ? 1 : 0]], slots[kv.slot[kv.nch > 2 ? 2 : 0]]};
    if (kv.uwidth > 0) {  // integer ratio: no per-position tables
      switch (kv.nch) {
        case 1: P::template AreaHorizontalUniform<1>(kv, acc[v], p.npos, p.area_scale, dst); break;
        case 2: P::template AreaHorizontalUniform<2>(kv, acc[v], p.npos, p.area_scale, dst); break;
        default: P::template AreaHorizontalUniform<3>(kv, acc[v], p.npos, p.area_scale, dst); break;
      }
      continue;
    }
    // Small chunk counts (ratios up to ~8 for 1-byte planes) unrolled.
    switch (kv.nch * 8 + (kv.hK <= 3 ? kv.hK : 0)) {
      case 1 * 8 + 1: P::template AreaHorizontal<1, 1>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 1 * 8 + 2: P::template AreaHorizontal<1, 2>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 1 * 8 + 3: P::template AreaHorizontal<1, 3>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 1 * 8 + 0: P::template AreaHorizontal<1, 0>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 2 * 8 + 1: P::template AreaHorizontal<2, 1>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 2 * 8 + 2: P::template AreaHorizontal<2, 2>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 2 * 8 + 3: P::template AreaHorizontal<2, 3>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 2 * 8 + 0: P::template AreaHorizontal<2, 0>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 3 * 8 + 1: P::template AreaHorizontal<3, 1>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 3 * 8 + 2: P::template AreaHorizontal<3, 2>(kv, acc[v], p.npos, p.area_scale, dst); break;
      case 3 * 8 + 3: P::template AreaHorizontal<3, 3>(kv, acc[v], p.npos, p.area_scale, dst); break;
      default: P::template AreaHorizontal<3, 0>(kv, acc[v], p.npos, p.area_scale, dst); break;
    }
  }
}

// ---- the kernel: lines [j0, j1) of the content ----
template <class P>
void KernelDriver(const KPlan& p, const Image& img, uint8_t* out, int j0, int j1, uint8_t* scratch) {
  using F = typename P::F;
  Consts<P> k;
  MakeConsts<P>(p, &k);
  const int C = p.out_c;
  const size_t es = ElemSize(p.type);
  const bool nhwc = p.layout == Layout::kNHWC || C == 1;
  const int nb = p.area ? (p.npos + P::kBlock - 1) / P::kBlock : p.nblocks;
  const size_t npad = static_cast<size_t>(nb) * P::kBlock;
  // scratch: [tail 256][slot rows 3 x npad floats][TileLines transposed lines of npad x C x es]
  uint8_t* tail = scratch;
  float* slots[3];
  for (int s = 0; s < 3; ++s) slots[s] = reinterpret_cast<float*>(scratch + 256) + s * npad;
  uint8_t* line = scratch + 256 + 3 * npad * 4;
  const size_t line_bytes = npad * C * es + 16;  // + spill room of the direct path
  int tile0 = j0;
  const int tile = TileLines(p);
  // area: one int16 accumulator row per view after the line buffers, zeroed
  // once (lanes outside a view's span only ever meet zero weights).
  int16_t* acc[3] = {nullptr, nullptr, nullptr};
  uint8_t* rgb = nullptr;
  int32_t* rgb_idx = nullptr;
  if (p.area) {
    uint8_t* a = line + static_cast<size_t>(tile) * line_bytes;
    for (int v = 0; v < p.nviews; ++v) {
      a = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(a) + 63) & ~static_cast<uintptr_t>(63));
      const size_t n =
          (static_cast<size_t>(p.views[v].row_bytes) + 8 * static_cast<size_t>(p.views[v].hK) + 64 + kAreaAccFront) * 2;
      std::memset(a, 0, n);
      acc[v] = reinterpret_cast<int16_t*>(a) + kAreaAccFront;
      a += n;
    }
    if (p.rgb_rows) {
      rgb = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(a) + 63) & ~static_cast<uintptr_t>(63));
      // (row_bytes need not be a multiple of 4: the indices start at the next 64-byte boundary;
      // ScratchBytes' 128 spare bytes cover both alignments)
      rgb_idx = reinterpret_cast<int32_t*>(
          (reinterpret_cast<uintptr_t>(rgb + static_cast<size_t>(p.rgb_rows_max) * (p.views[0].row_bytes + 64)) + 63) &
          ~static_cast<uintptr_t>(63));
      for (int r = 0; r < p.rgb_rows_max; ++r) rgb_idx[r] = r;
    }
  }
  const size_t plane_bytes = static_cast<size_t>(p.out_w) * p.out_h * es;

  // Slot rows in output-channel order for phase 2.
  const float* src[3] = {slots[0], slots[1], slots[2]};
  int nsrc = p.nslots;
  if (p.op == ColorOp::kCopy) {
    for (int c = 0; c < C; ++c) src[c] = slots[p.perm[c]];
    nsrc = C;
  } else if (p.op == ColorOp::kYuvToRgb && p.perm[0] == 2) {
    // BGR out: swap U/V and the coefficient pairs (identical values, see Post).
    src[1] = slots[2];
    src[2] = slots[1];
    const F t0 = k.crv; k.crv = k.cbu; k.cbu = t0;
    const F t1 = k.kr; k.kr = k.kb; k.kb = t1;
    const F t2 = k.cgu; k.cgu = k.cgv; k.cgv = t2;
  }
  const PostFn<P> post = PickPost<P>(p.op, p.type, C, nhwc);
  SampleFn<P> sample[3];
  CachedFn<P> cached[3] = {nullptr, nullptr, nullptr};
  float* vdst[3][3];
  // Horizontal sums kept across lines (HorCache) when most lines reuse a row
  // of the line before (upscales); otherwise the stores would only cost.
  bool hcache = false;
  if (!p.area && !p.rgb_taps) {
    int reuse = 0;
    for (int j = j0 + 1; j < j1; ++j)
      reuse += p.row_b[j] != p.row_a[j] && (p.row_a[j] == p.row_a[j - 1] || p.row_a[j] == p.row_b[j - 1]);
    hcache = 2 * reuse > j1 - j0;
  }
  HorCache<P> hcs[3];
  uint8_t* hmem = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(scratch + ScratchBytes(p) - HorCacheBytes(p)) + 63) & ~static_cast<uintptr_t>(63));
  for (int v = 0; v < p.nviews; ++v) {
    const KView& kv = p.views[v];
    if constexpr (P::kPackedMode) {
      if (kv.packed) {
        sample[v] = P::SamplePacked;
        for (int c = 0; c < 3; ++c) vdst[v][c] = slots[c];  // packed masks place slot c at c
        continue;
      }
    }
    sample[v] = PickSample<P>(kv.K, kv.nch);
    if (hcache) {
      cached[v] = PickCached<P>(kv.K, kv.nch);
      for (int s = 0; s < 2; ++s) {
        hcs[v].buf[s] = reinterpret_cast<typename P::Hor*>(hmem);
        hcs[v].tag[s] = nullptr;
        hmem += static_cast<size_t>(nb) * kv.nch * sizeof(typename P::Hor);
      }
    }
    for (int c = 0; c < kv.nch; ++c) vdst[v][c] = slots[kv.slot[c]];
  }

  typename P::TapConsts tc;
  P::MakeTapConsts(p, &tc);

  [[maybe_unused]] typename P::Direct direct;
  [[maybe_unused]] bool use_direct = false;
  if constexpr (P::kPackedMode) use_direct = direct.Init(p);

  // Blocks per line (LinePrefetch::Spread): the block loops the line runs;
  // view v's sampler starts at the line's block vfirst[v].
  int calls = 0, vfirst[3] = {0, 0, 0};
  for (int v = 0; v < p.nviews; ++v) {
    vfirst[v] = calls;
    calls += p.views[v].packed && P::kPackedMode ? 2 * nb : nb;
  }
  if (use_direct) calls = (p.npos + 7) / 8;
  else if (p.rgb_taps) calls = p.nblocks;
  if (!p.prefetch || p.area) calls = 0;
  for (int j = j0; j < j1; ++j) {
    // Line j goes to its output row, or (transposed) to line buffer j - tile0;
    // tiles are flushed in one place below.
    uint8_t* const lbuf = line + (j - tile0) * line_bytes;
    const size_t pix = static_cast<size_t>(p.cy + j) * p.out_w + p.cx;
    uint8_t* const orow = out + (nhwc ? pix * C * es : pix * es);
    bool sampled = true;  // slot rows hold the line (phase 2 to run)
    if (p.area) {
      AreaSampleLine<P>(p, img, j, acc, slots, rgb, rgb_idx, tc, j + 1 >= j1);
    } else if (j > j0 && p.row_a[j] == p.row_a[j - 1] && p.row_b[j] == p.row_b[j - 1] &&
               p.row_w[j] == p.row_w[j - 1]) {
      // The same source rows and row weight as the previous line (nearest
      // upscales: every source row feeds ~out/in lines): a copy of it. The
      // previous line buffer is the one before (at a tile start: the last, not
      // yet overwritten by this tile).
      if (!p.transposed) {
        const size_t row = static_cast<size_t>(p.out_w) * (nhwc ? C * es : es);
        for (int c = 0; c < (nhwc ? 1 : C); ++c)
          std::memcpy(orow + c * plane_bytes, orow + c * plane_bytes - row,
                      static_cast<size_t>(p.npos) * (nhwc ? C : 1) * es);
      } else {
        std::memcpy(lbuf, line + (j > tile0 ? j - tile0 - 1 : tile - 1) * line_bytes, line_bytes);
      }
      sampled = false;
    } else {
      const int ya = p.row_a[j], yb = p.row_b[j];
      const typename P::RowW wy = P::RowWeights(p.row_w[j]);
      LinePrefetch pf;
      if (calls > 0 && j + 1 < j1) {
        for (int v = 0; v < p.nviews; ++v) {
          const KView& kv = p.views[v];
          const int ca = ya >> kv.yshift, cb = yb >> kv.yshift;
          const int na = p.row_a[j + 1] >> kv.yshift, nbr = p.row_b[j + 1] >> kv.yshift;
          const uint8_t* plane = img.data[kv.plane];
          const ptrdiff_t st = img.stride[kv.plane];
          if (na != ca && na != cb) pf.Add(plane + na * st, kv.pf_lo, kv.pf_hi, kv.pf_desc);
          if (nbr != na && nbr != ca && nbr != cb) pf.Add(plane + nbr * st, kv.pf_lo, kv.pf_hi, kv.pf_desc);
        }
        pf.Spread(calls);
      }
      const uint8_t* ra[3];
      const uint8_t* rb[3];
      for (int v = 0; v < p.nviews; ++v) {
        const KView& kv = p.views[v];
        ra[v] = img.data[kv.plane] + static_cast<ptrdiff_t>(ya >> kv.yshift) * img.stride[kv.plane];
        rb[v] = img.data[kv.plane] + static_cast<ptrdiff_t>(yb >> kv.yshift) * img.stride[kv.plane];
      }
      if constexpr (P::kPackedMode) {
        if (use_direct) {
          direct.Line(p.views[0], ra[0], rb[0], wy, p.npos, p.transposed ? lbuf : out + pix * 3 * es, tail, pf.Slice(0));
          sampled = false;
        }
      }
      if (!sampled) {
      } else if (p.rgb_taps) {
        SampleLineRgbTaps<P>(p, ra, rb, wy, tc, slots, pf.Slice(0));
      } else {
        for (int v = 0; v < p.nviews; ++v) {
          const PrefetchSlice ps = pf.Slice(vfirst[v]);
          if (cached[v] != nullptr) cached[v](p.views[v], ra[v], rb[v], wy, p.wcol, nb, vdst[v], &hcs[v], ps);
          else sample[v](p.views[v], ra[v], rb[v], wy, p.wcol, nb, vdst[v], ps);
        }
      }
    }
    if (!p.transposed) {
      if (sampled) post(k, src, nsrc, p.npos, orow, plane_bytes, tail);
    } else {
      if (sampled) post(k, src, nsrc, static_cast<int>(npad), lbuf, npad * es, tail);
      if (j - tile0 + 1 == tile || j + 1 == j1) {
        FlushTile(p, line, line_bytes, npad, es, tile0, j - tile0 + 1, out);
        tile0 = j + 1;
      }
    }
  }
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
