// NEON preprocessing kernel (aarch64 only). Reproduces preprocess_ref.cc bit
// for bit: tap bytes picked from 16-byte windows with tbl (no gathers),
// vmull_u8/vmlal_u8 with 7-bit column weights, vmull_u16/vmlal_u16 with 14-bit
// row weights, then the reference's float ops in the same order (fp-contract
// off: GCC would otherwise fuse vmulq/vaddq into fmla).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <arm_neon.h>

#include <cstring>

#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {
namespace {

struct Consts {
  float32x4_t A[3], B[3];
  float32x4_t ymin, ky, crv, cgu, cgv, cbu, kr, kg, kb, vmax, zero;
  float32x4_t gw0, gw1, gw2;
  float32x4_t qlo, qhi;
  int16x8_t zp16;
};

void MakeConsts(const KPlan& p, Consts* k) {
  for (int c = 0; c < 3; ++c) {
    k->A[c] = vdupq_n_f32(p.A[c]);
    k->B[c] = vdupq_n_f32(p.B[c]);
  }
  k->ky = vdupq_n_f32(p.ky);
  k->ymin = vdupq_n_f32(p.ymin);
  k->crv = vdupq_n_f32(p.crv);
  k->cgu = vdupq_n_f32(p.cgu);
  k->cgv = vdupq_n_f32(p.cgv);
  k->cbu = vdupq_n_f32(p.cbu);
  k->kr = vdupq_n_f32(p.kr);
  k->kg = vdupq_n_f32(p.kg);
  k->kb = vdupq_n_f32(p.kb);
  k->vmax = vdupq_n_f32(p.vmax);
  k->zero = vdupq_n_f32(0.f);
  k->gw0 = vdupq_n_f32(p.gw[0]);
  k->gw1 = vdupq_n_f32(p.gw[1]);
  k->gw2 = vdupq_n_f32(p.gw[2]);
  k->qlo = vdupq_n_f32(p.qlo);
  k->qhi = vdupq_n_f32(p.qhi);
  k->zp16 = vdupq_n_s16(static_cast<int16_t>(p.zp));
}

// Tap bytes of one view for one 8-position block: acc[c] = a-taps (bytes 0-7), b-taps (8-15).
template <int K, int NCH>
inline void GatherRaw(const uint8_t* row, const int32_t* win, const uint8_t* mask, uint8x16_t* acc) {
  for (int k = 0; k < K; ++k) {
    const uint8x16_t q0 = vld1q_u8(row + win[k * 2]);
    const uint8x16_t q1 = vld1q_u8(row + win[k * 2 + 1]);
    for (int c = 0; c < NCH; ++c) {
      const uint8_t* m = mask + (static_cast<size_t>(k) * NCH + c) * 32;
      const uint8x16_t x = vorrq_u8(vqtbl1q_u8(q0, vld1q_u8(m)), vqtbl1q_u8(q1, vld1q_u8(m + 16)));
      acc[c] = k == 0 ? x : vorrq_u8(acc[c], x);
    }
  }
}

// Horizontal pass: h[c] = u16 x 8 (natural order).
template <int K, int NCH>
inline void Gather(const uint8_t* row, const int32_t* win, const uint8_t* mask, uint8x8_t wa, uint8x8_t wb,
                   uint16x8_t* h) {
  uint8x16_t acc[NCH];
  GatherRaw<K, NCH>(row, win, mask, acc);
  for (int c = 0; c < NCH; ++c) h[c] = vmlal_u8(vmull_u8(vget_low_u8(acc[c]), wa), vget_high_u8(acc[c]), wb);
}

void GatherRawAny(int K, int nch, const uint8_t* row, const int32_t* win, const uint8_t* mask, uint8x16_t* acc) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: GatherRaw<1, 1>(row, win, mask, acc); break;
    case 1 * 4 + 2: GatherRaw<1, 2>(row, win, mask, acc); break;
    case 2 * 4 + 1: GatherRaw<2, 1>(row, win, mask, acc); break;
    case 2 * 4 + 2: GatherRaw<2, 2>(row, win, mask, acc); break;
    case 4 * 4 + 1: GatherRaw<4, 1>(row, win, mask, acc); break;
    default: GatherRaw<4, 2>(row, win, mask, acc); break;
  }
}

// YuvSampling::kRgb: 16 (Y, U, V) taps -> uint8 R, G, B, exactly FetchTapRef's formula.
inline uint8x8_t Cvt8(int16x8_t y, int16x8_t u, int16x8_t v, const KPlan& p, int ch) {
  uint16x4_t r[2];
  for (int q = 0; q < 2; ++q) {
    const int16x4_t y4 = q ? vget_high_s16(y) : vget_low_s16(y);
    const int16x4_t u4 = q ? vget_high_s16(u) : vget_low_s16(u);
    const int16x4_t v4 = q ? vget_high_s16(v) : vget_low_s16(v);
    int32x4_t a = vmull_n_s16(y4, static_cast<int16_t>(p.tcy));
    if (ch == 0) a = vmlal_n_s16(a, v4, static_cast<int16_t>(p.tcvr));
    if (ch == 1) a = vmlal_n_s16(vmlal_n_s16(a, v4, static_cast<int16_t>(p.tcvg)), u4, static_cast<int16_t>(p.tcug));
    if (ch == 2) a = vmlal_n_s16(a, u4, static_cast<int16_t>(p.tcub));
    r[q] = vqrshrun_n_s32(a, 13);  // (a + 4096) >> 13, saturated at 0
  }
  return vqmovn_u16(vcombine_u16(r[0], r[1]));
}
inline void TapsToRgb(uint8x16_t Y, uint8x16_t U, uint8x16_t V, const KPlan& p, uint8x16_t* rgb) {
  const uint8x16_t ys = vqsubq_u8(Y, vdupq_n_u8(static_cast<uint8_t>(p.ty)));
  const int16x8_t c128 = vdupq_n_s16(128);
  uint8x8_t out[3][2];
  for (int h = 0; h < 2; ++h) {
    const int16x8_t y = vreinterpretq_s16_u16(vmovl_u8(h ? vget_high_u8(ys) : vget_low_u8(ys)));
    const int16x8_t u = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(h ? vget_high_u8(U) : vget_low_u8(U))), c128);
    const int16x8_t v = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(h ? vget_high_u8(V) : vget_low_u8(V))), c128);
    for (int c = 0; c < 3; ++c) out[c][h] = Cvt8(y, u, v, p, c);
  }
  for (int c = 0; c < 3; ++c) rgb[c] = vcombine_u8(out[c][0], out[c][1]);
}

void SampleLineRgbTaps(const KPlan& p, const uint8_t* const* ra, const uint8_t* const* rb, uint16x4_t wy0,
                       uint16x4_t wy1, float* const* slots) {
  const uint16x8_t wy0q = vcombine_u16(wy0, wy0), wy1q = vcombine_u16(wy1, wy1);
  for (int b = 0; b < p.nblocks; ++b) {
    const uint8x16_t wc = vld1q_u8(p.wcol + static_cast<size_t>(b) * 16);
    uint8x16_t A[3], B[3];
    for (int v = 0; v < p.nviews; ++v) {
      const KView& kv = p.views[v];
      const int32_t* win = kv.win + static_cast<size_t>(b) * kv.K * 2;
      const uint8_t* mask = kv.mask + static_cast<size_t>(b) * kv.K * kv.nch * 32;
      uint8x16_t a[2], bb[2];
      GatherRawAny(kv.K, kv.nch, ra[v], win, mask, a);
      if (ra[v] == rb[v]) {
        bb[0] = a[0];
        bb[1] = a[1];
      } else {
        GatherRawAny(kv.K, kv.nch, rb[v], win, mask, bb);
      }
      for (int c = 0; c < kv.nch; ++c) {
        A[kv.slot[c]] = a[c];
        B[kv.slot[c]] = bb[c];
      }
    }
    uint8x16_t rgbA[3], rgbB[3];
    TapsToRgb(A[0], A[1], A[2], p, rgbA);
    TapsToRgb(B[0], B[1], B[2], p, rgbB);
    for (int c = 0; c < 3; ++c) {
      const uint16x8_t h0 = vmlal_u8(vmull_u8(vget_low_u8(rgbA[c]), vget_low_u8(wc)), vget_high_u8(rgbA[c]), vget_high_u8(wc));
      const uint16x8_t h1 = vmlal_u8(vmull_u8(vget_low_u8(rgbB[c]), vget_low_u8(wc)), vget_high_u8(rgbB[c]), vget_high_u8(wc));
      const uint32x4_t lo = vmlal_u16(vmull_u16(vget_low_u16(h0), wy0), vget_low_u16(h1), wy1);
      const uint32x4_t hi = vmlal_high_u16(vmull_high_u16(h0, wy0q), h1, wy1q);
      vst1q_f32(slots[c] + b * 8, vcvtq_f32_u32(lo));
      vst1q_f32(slots[c] + b * 8 + 4, vcvtq_f32_u32(hi));
    }
  }
}

template <int K, int NCH>
void SampleLine(const KView& kv, const uint8_t* ra, const uint8_t* rb, uint16x4_t wy0, uint16x4_t wy1,
                const uint8_t* wcol, int nb, float* const* dst) {
  const bool same = ra == rb;
  const size_t mstep = static_cast<size_t>(K) * NCH * 32;
  const uint16x8_t wy0q = vcombine_u16(wy0, wy0), wy1q = vcombine_u16(wy1, wy1);
  for (int b = 0; b < nb; ++b) {
    const uint8x16_t wc = vld1q_u8(wcol + static_cast<size_t>(b) * 16);
    const int32_t* win = kv.win + static_cast<size_t>(b) * K * 2;
    const uint8_t* mask = kv.mask + b * mstep;
    uint16x8_t h0[NCH], h1[NCH];
    Gather<K, NCH>(ra, win, mask, vget_low_u8(wc), vget_high_u8(wc), h0);
    if (same) {
      for (int c = 0; c < NCH; ++c) h1[c] = h0[c];
    } else {
      Gather<K, NCH>(rb, win, mask, vget_low_u8(wc), vget_high_u8(wc), h1);
    }
    for (int c = 0; c < NCH; ++c) {
      const uint32x4_t lo = vmlal_u16(vmull_u16(vget_low_u16(h0[c]), wy0), vget_low_u16(h1[c]), wy1);
      const uint32x4_t hi = vmlal_high_u16(vmull_high_u16(h0[c], wy0q), h1[c], wy1q);
      vst1q_f32(dst[c] + b * 8, vcvtq_f32_u32(lo));
      vst1q_f32(dst[c] + b * 8 + 4, vcvtq_f32_u32(hi));
    }
  }
}

using SampleFn = void (*)(const KView&, const uint8_t*, const uint8_t*, uint16x4_t, uint16x4_t, const uint8_t*, int,
                          float* const*);
SampleFn PickSample(int K, int nch) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: return SampleLine<1, 1>;
    case 1 * 4 + 2: return SampleLine<1, 2>;
    case 1 * 4 + 3: return SampleLine<1, 3>;
    case 2 * 4 + 1: return SampleLine<2, 1>;
    case 2 * 4 + 2: return SampleLine<2, 2>;
    case 2 * 4 + 3: return SampleLine<2, 3>;
    case 4 * 4 + 1: return SampleLine<4, 1>;
    case 4 * 4 + 2: return SampleLine<4, 2>;
    default: return SampleLine<4, 3>;
  }
}

// Colour + normalize of 4 positions (same op order as NormalizePixelRef).
template <ColorOp OP, int C>
inline void Post(const Consts& k, const float32x4_t* s, float32x4_t* o) {
  float32x4_t px[3] = {s[0], s[0], s[0]};
  if (OP == ColorOp::kCopy) {
    for (int c = 0; c < C; ++c) px[c] = s[c];
  } else if (OP == ColorOp::kGrayToRgb) {
  } else if (OP == ColorOp::kRgbToGray) {
    const float32x4_t t0 = vmulq_f32(s[0], k.gw0);
    const float32x4_t t1 = vmulq_f32(s[1], k.gw1);
    const float32x4_t t = vaddq_f32(t0, t1);
    const float32x4_t t2 = vmulq_f32(s[2], k.gw2);
    px[0] = vaddq_f32(t, t2);
  } else {
    const float32x4_t y = vmulq_f32(vmaxq_f32(s[0], k.ymin), k.ky);
    float32x4_t r = vmulq_f32(s[2], k.crv);
    r = vaddq_f32(r, k.kr);
    r = vaddq_f32(y, r);
    const float32x4_t g0 = vmulq_f32(s[1], k.cgu);
    const float32x4_t g1 = vmulq_f32(s[2], k.cgv);
    float32x4_t g = vaddq_f32(g0, g1);
    g = vaddq_f32(g, k.kg);
    g = vaddq_f32(y, g);
    float32x4_t b = vmulq_f32(s[1], k.cbu);
    b = vaddq_f32(b, k.kb);
    b = vaddq_f32(y, b);
    px[0] = vminq_f32(vmaxq_f32(r, k.zero), k.vmax);
    px[1] = vminq_f32(vmaxq_f32(g, k.zero), k.vmax);
    px[2] = vminq_f32(vmaxq_f32(b, k.zero), k.vmax);
  }
  for (int c = 0; c < C; ++c) o[c] = vaddq_f32(vmulq_f32(px[c], k.A[c]), k.B[c]);
}

template <bool SIGNED>
inline uint8x8_t Quant8(float32x4_t a, float32x4_t b, const Consts& k) {
  // Saturating steps give clamp(rne(x), qlo, qhi) + zp exactly (fcvtns saturates too).
  int16x8_t s = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(a)), vqmovn_s32(vcvtnq_s32_f32(b)));
  s = vqaddq_s16(s, k.zp16);
  return SIGNED ? vreinterpret_u8_s8(vqmovn_s16(s)) : vqmovun_s16(s);
}

// o[c][h]: channel c of positions 4h..4h+3.
template <ElemType T, int C, bool NHWC>
inline void Store(float32x4_t (*o)[2], uint8_t* dst, size_t ps, const Consts& k) {
  if (T == ElemType::kFloat32) {
    float* d = reinterpret_cast<float*>(dst);
    if (NHWC && C == 3) {
      for (int h = 0; h < 2; ++h) {
        float32x4x3_t v = {{o[0][h], o[1][h], o[2][h]}};
        vst3q_f32(d + h * 12, v);
      }
    } else {
      for (int c = 0; c < C; ++c) {
        float* pc = reinterpret_cast<float*>(dst + c * ps);
        vst1q_f32(pc, o[c][0]);
        vst1q_f32(pc + 4, o[c][1]);
      }
    }
  } else if (T == ElemType::kFloat16) {
    if (NHWC && C == 3) {
      uint16_t* d = reinterpret_cast<uint16_t*>(dst);
      for (int h = 0; h < 2; ++h) {
        uint16x4x3_t v;
        v.val[0] = vreinterpret_u16_f16(vcvt_f16_f32(o[0][h]));
        v.val[1] = vreinterpret_u16_f16(vcvt_f16_f32(o[1][h]));
        v.val[2] = vreinterpret_u16_f16(vcvt_f16_f32(o[2][h]));
        vst3_u16(d + h * 12, v);
      }
    } else {
      for (int c = 0; c < C; ++c) {
        uint16_t* pc = reinterpret_cast<uint16_t*>(dst + c * ps);
        vst1_u16(pc, vreinterpret_u16_f16(vcvt_f16_f32(o[c][0])));
        vst1_u16(pc + 4, vreinterpret_u16_f16(vcvt_f16_f32(o[c][1])));
      }
    }
  } else {
    constexpr bool S = T == ElemType::kInt8;
    uint8x8_t q[3];
    for (int c = 0; c < C; ++c) q[c] = Quant8<S>(o[c][0], o[c][1], k);
    if (NHWC && C == 3) {
      uint8x8x3_t v = {{q[0], q[1], q[2]}};
      vst3_u8(dst, v);
    } else {
      for (int c = 0; c < C; ++c) vst1_u8(dst + c * ps, q[c]);
    }
  }
}

template <ColorOp OP, ElemType T, int C, bool NHWC>
void PostLine(const Consts& k, const float* const* src, int nsrc, int npos, uint8_t* dst, size_t ps, uint8_t* tail) {
  constexpr size_t es = T == ElemType::kFloat32 ? 4 : T == ElemType::kFloat16 ? 2 : 1;
  constexpr size_t blk = NHWC ? 8 * C * es : 8 * es;
  const int nfull = npos / 8;
  const int rest = npos - nfull * 8;
  for (int b = 0; b <= nfull; ++b) {
    if (b == nfull && rest == 0) break;
    float32x4_t s[2][3];
    for (int i = 0; i < 3; ++i) {
      const float* p = src[i < nsrc ? i : 0] + b * 8;
      s[0][i] = vld1q_f32(p);
      s[1][i] = vld1q_f32(p + 4);
    }
    float32x4_t o2[2][3];
    Post<OP, C>(k, s[0], o2[0]);
    Post<OP, C>(k, s[1], o2[1]);
    float32x4_t o[3][2];
    for (int c = 0; c < C; ++c) {
      o[c][0] = o2[0][c];
      o[c][1] = o2[1][c];
    }
    uint8_t* d = dst + b * blk;
    if (b < nfull) {
      Store<T, C, NHWC>(o, d, ps, k);
    } else {
      Store<T, C, NHWC>(o, tail, 8 * es, k);
      if (NHWC) {
        std::memcpy(d, tail, rest * C * es);
      } else {
        for (int c = 0; c < C; ++c) std::memcpy(d + c * ps, tail + c * 8 * es, rest * es);
      }
    }
  }
}

using PostFn = void (*)(const Consts&, const float* const*, int, int, uint8_t*, size_t, uint8_t*);

template <ColorOp OP, ElemType T>
PostFn PickPost2(int C, bool nhwc) {
  if (C == 1) return PostLine<OP, T, 1, true>;
  return nhwc ? PostLine<OP, T, 3, true> : PostLine<OP, T, 3, false>;
}
template <ColorOp OP>
PostFn PickPost1(ElemType t, int C, bool nhwc) {
  switch (t) {
    case ElemType::kFloat32: return PickPost2<OP, ElemType::kFloat32>(C, nhwc);
    case ElemType::kFloat16: return PickPost2<OP, ElemType::kFloat16>(C, nhwc);
    case ElemType::kUInt8: return PickPost2<OP, ElemType::kUInt8>(C, nhwc);
    default: return PickPost2<OP, ElemType::kInt8>(C, nhwc);
  }
}
PostFn PickPost(ColorOp op, ElemType t, int C, bool nhwc) {
  switch (op) {
    case ColorOp::kCopy: return PickPost1<ColorOp::kCopy>(t, C, nhwc);
    case ColorOp::kYuvToRgb: return PickPost1<ColorOp::kYuvToRgb>(t, C, nhwc);
    case ColorOp::kRgbToGray: return PickPost1<ColorOp::kRgbToGray>(t, C, nhwc);
    default: return PickPost1<ColorOp::kGrayToRgb>(t, C, nhwc);
  }
}

}  // namespace

void KernelNeon(const KPlan& p, const Image& img, uint8_t* out, int j0, int j1, uint8_t* scratch) {
  Consts k;
  MakeConsts(p, &k);
  const int C = p.out_c;
  const size_t es = ElemSize(p.type);
  const bool nhwc = p.layout == Layout::kNHWC || C == 1;
  const int nb = p.nblocks;
  const size_t npad = static_cast<size_t>(nb) * 8;
  uint8_t* tail = scratch;
  float* slots[3];
  for (int s = 0; s < 3; ++s) slots[s] = reinterpret_cast<float*>(scratch + 256) + s * npad;
  uint8_t* line = scratch + 256 + 3 * npad * 4;  // kTile transposed lines
  const size_t line_bytes = npad * C * es + 16;
  int tile0 = j0;
  const size_t plane_bytes = static_cast<size_t>(p.out_w) * p.out_h * es;

  const float* src[3] = {slots[0], slots[1], slots[2]};
  int nsrc = p.nslots;
  if (p.op == ColorOp::kCopy) {
    for (int c = 0; c < C; ++c) src[c] = slots[p.perm[c]];
    nsrc = C;
  } else if (p.op == ColorOp::kYuvToRgb && p.perm[0] == 2) {
    // BGR out: swap U/V and the coefficient pairs (bit-identical values).
    src[1] = slots[2];
    src[2] = slots[1];
    float32x4_t t = k.crv; k.crv = k.cbu; k.cbu = t;
    t = k.kr; k.kr = k.kb; k.kb = t;
    t = k.cgu; k.cgu = k.cgv; k.cgv = t;
  }
  const PostFn post = PickPost(p.op, p.type, C, nhwc);
  SampleFn sample[3];
  float* vdst[3][3];
  for (int v = 0; v < p.nviews; ++v) {
    const KView& kv = p.views[v];
    sample[v] = PickSample(kv.K, kv.nch);
    for (int c = 0; c < kv.nch; ++c) vdst[v][c] = slots[kv.slot[c]];
  }

  for (int j = j0; j < j1; ++j) {
    const int ya = p.row_a[j], yb = p.row_b[j], wy = p.row_w[j];
    const uint16x4_t wy0 = vdup_n_u16(static_cast<uint16_t>(kRowOne - wy));
    const uint16x4_t wy1 = vdup_n_u16(static_cast<uint16_t>(wy));
    const uint8_t* ra[3];
    const uint8_t* rb[3];
    for (int v = 0; v < p.nviews; ++v) {
      const KView& kv = p.views[v];
      ra[v] = img.data[kv.plane] + static_cast<ptrdiff_t>(ya >> kv.yshift) * img.stride[kv.plane];
      rb[v] = img.data[kv.plane] + static_cast<ptrdiff_t>(yb >> kv.yshift) * img.stride[kv.plane];
    }
    if (p.rgb_taps) {
      SampleLineRgbTaps(p, ra, rb, wy0, wy1, slots);
    } else {
      for (int v = 0; v < p.nviews; ++v) sample[v](p.views[v], ra[v], rb[v], wy0, wy1, p.wcol, nb, vdst[v]);
    }
    if (!p.transposed) {
      const size_t pix = static_cast<size_t>(p.cy + j) * p.out_w + p.cx;
      post(k, src, nsrc, p.npos, out + (nhwc ? pix * C * es : pix * es), plane_bytes, tail);
    } else {
      post(k, src, nsrc, static_cast<int>(npad), line + (j - tile0) * line_bytes, npad * es, tail);
      if (j - tile0 + 1 == kTile || j + 1 == j1) {
        FlushTile(p, line, line_bytes, npad, es, tile0, j - tile0 + 1, out);
        tile0 = j + 1;
      }
    }
  }
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
