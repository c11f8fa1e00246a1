// NEON preprocessing kernel (aarch64 only): the primitives of the shared driver
// (kernel_driver-inl.h) at NEON width. Reproduces preprocess_ref.cc bit for
// bit: tap bytes picked from 16-byte windows with tbl (no gathers),
// vmull_u8/vmlal_u8 with 7-bit column weights, vmull_u16/vmlal_u16 with 14-bit
// row weights, then the reference's float ops in the same order (fp-contract
// off: GCC would otherwise fuse vmulq/vaddq into fmla). A block is 8 positions:
// one 16-byte window register per quad (simd_tables.cc). NEON has no packed or
// direct paths: simd_tables.cc builds packed views for the AVX2 layout only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <arm_neon.h>

#include <cstring>

#include "preprocess/kernel_driver-inl.h"
#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {
namespace {

// The driver's primitives at NEON width (see kernel_driver-inl.h).
struct Neon {
  static constexpr int kBlock = 8, kLanes = 4;
  static constexpr int kWinPerK = 2;    // windows of quads 0, 1 per k
  static constexpr int kMaskBytes = 32; // masks for both windows
  static constexpr int kColWBytes = 16;
  static constexpr bool kPackedMode = false;
  using F = float32x4_t;
  using I16 = int16x8_t;
  using Bytes = uint8x16_t;  // a-taps (bytes 0-7), b-taps (8-15)
  using Hor = uint16x8_t;    // u16 x 8, natural order
  using ColW = uint8x16_t;   // weights of the a-taps (bytes 0-7), b-taps (8-15)
  struct RowW {
    uint16x4_t wy0, wy1;     // 16384 - wy, wy
    uint16x8_t wy0q, wy1q;
  };
  struct Win {
    uint8x16_t q0, q1;
  };
  struct TapConsts {  // YuvSampling::kRgb: FetchTapRef's 13-bit coefficients
    uint8x16_t ty;
    int16_t tcy, tcvr, tcvg, tcug, tcub;
  };
  struct Direct {};

  static F Set1(float x) { return vdupq_n_f32(x); }
  static I16 Set1I16(int16_t x) { return vdupq_n_s16(x); }
  static F Load(const float* p) { return vld1q_f32(p); }
  static F Mul(F a, F b) { return vmulq_f32(a, b); }
  static F Add(F a, F b) { return vaddq_f32(a, b); }
  static F Min(F a, F b) { return vminq_f32(a, b); }
  static F Max(F a, F b) { return vmaxq_f32(a, b); }

  static Win LoadWin(const uint8_t* row, const int32_t* w) { return Win{vld1q_u8(row + w[0]), vld1q_u8(row + w[1])}; }
  static Bytes PickTaps(const Win& w, const uint8_t* m) {
    return vorrq_u8(vqtbl1q_u8(w.q0, vld1q_u8(m)), vqtbl1q_u8(w.q1, vld1q_u8(m + 16)));
  }
  static Bytes Or(Bytes a, Bytes b) { return vorrq_u8(a, b); }
  static ColW LoadColW(const uint8_t* p) { return vld1q_u8(p); }
  static Hor MulCols(Bytes taps, ColW w) {
    return vmlal_u8(vmull_u8(vget_low_u8(taps), vget_low_u8(w)), vget_high_u8(taps), vget_high_u8(w));
  }
  static RowW RowWeights(int wy) {
    RowW r;
    r.wy0 = vdup_n_u16(static_cast<uint16_t>(kRowOne - wy));
    r.wy1 = vdup_n_u16(static_cast<uint16_t>(wy));
    r.wy0q = vcombine_u16(r.wy0, r.wy0);
    r.wy1q = vcombine_u16(r.wy1, r.wy1);
    return r;
  }
  static void StoreRows(Hor h0, Hor h1, const RowW& w, float* dst) {
    const uint32x4_t lo = vmlal_u16(vmull_u16(vget_low_u16(h0), w.wy0), vget_low_u16(h1), w.wy1);
    const uint32x4_t hi = vmlal_high_u16(vmull_high_u16(h0, w.wy0q), h1, w.wy1q);
    vst1q_f32(dst, vcvtq_f32_u32(lo));
    vst1q_f32(dst + 4, vcvtq_f32_u32(hi));
  }

  static void MakeTapConsts(const KPlan& p, TapConsts* t) {
    t->ty = vdupq_n_u8(static_cast<uint8_t>(p.ty));
    t->tcy = static_cast<int16_t>(p.tcy);
    t->tcvr = static_cast<int16_t>(p.tcvr);
    t->tcvg = static_cast<int16_t>(p.tcvg);
    t->tcug = static_cast<int16_t>(p.tcug);
    t->tcub = static_cast<int16_t>(p.tcub);
  }
  // 16 (Y, U, V) taps -> uint8 R, G, B, exactly FetchTapRef's formula.
  static uint8x8_t Cvt8(int16x8_t y, int16x8_t u, int16x8_t v, const TapConsts& t, int ch) {
    uint16x4_t r[2];
    for (int q = 0; q < 2; ++q) {
      const int16x4_t y4 = q ? vget_high_s16(y) : vget_low_s16(y);
      const int16x4_t u4 = q ? vget_high_s16(u) : vget_low_s16(u);
      const int16x4_t v4 = q ? vget_high_s16(v) : vget_low_s16(v);
      int32x4_t a = vmull_n_s16(y4, t.tcy);
      if (ch == 0) a = vmlal_n_s16(a, v4, t.tcvr);
      if (ch == 1) a = vmlal_n_s16(vmlal_n_s16(a, v4, t.tcvg), u4, t.tcug);
      if (ch == 2) a = vmlal_n_s16(a, u4, t.tcub);
      r[q] = vqrshrun_n_s32(a, 13);  // (a + 4096) >> 13, saturated at 0
    }
    return vqmovn_u16(vcombine_u16(r[0], r[1]));
  }
  static void TapsToRgb(uint8x16_t Y, uint8x16_t U, uint8x16_t V, const TapConsts& t, uint8x16_t* rgb) {
    const uint8x16_t ys = vqsubq_u8(Y, t.ty);
    const int16x8_t c128 = vdupq_n_s16(128);
    uint8x8_t out[3][2];
    for (int h = 0; h < 2; ++h) {
      const int16x8_t y = vreinterpretq_s16_u16(vmovl_u8(h ? vget_high_u8(ys) : vget_low_u8(ys)));
      const int16x8_t u = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(h ? vget_high_u8(U) : vget_low_u8(U))), c128);
      const int16x8_t v = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(h ? vget_high_u8(V) : vget_low_u8(V))), c128);
      for (int c = 0; c < 3; ++c) out[c][h] = Cvt8(y, u, v, t, c);
    }
    for (int c = 0; c < 3; ++c) rgb[c] = vcombine_u8(out[c][0], out[c][1]);
  }

  // YuvSampling::kRgb rows (KPlan::rgb_rows): 16 pixels, Y at y[i * ystep],
  // chroma of pixel pair i at u[i * cstep], v[i * cstep] -> 48 bytes of RGB.
  static constexpr int kRgbPx = 16;
  static uint8x8_t Strided8(const uint8_t* p, int step) {
    if (step == 1) return vld1_u8(p);
    if (step == 2) return vld2_u8(p).val[0];
    return vld4_u8(p).val[0];
  }
  static void YuvRowToRgb(const uint8_t* y, int ystep, const uint8_t* u, const uint8_t* v, int cstep,
                          const TapConsts& t, uint8_t* dst) {
    const uint8x16_t Y = ystep == 1 ? vld1q_u8(y) : vld2q_u8(y).val[0];
    const uint8x8_t u8 = Strided8(u, cstep), v8 = Strided8(v, cstep);
    const uint8x16_t U = vcombine_u8(vzip1_u8(u8, u8), vzip2_u8(u8, u8));
    const uint8x16_t V = vcombine_u8(vzip1_u8(v8, v8), vzip2_u8(v8, v8));
    uint8x16x3_t rgb;
    TapsToRgb(Y, U, V, t, rgb.val);
    vst3q_u8(dst, rgb);
  }

  template <bool SIGNED, class K>
  static uint8x8_t Quant8(float32x4_t a, float32x4_t b, const K& k) {
    // Saturating steps give clamp(rne(x), qlo, qhi) + zp exactly (fcvtns saturates too).
    int16x8_t s = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(a)), vqmovn_s32(vcvtnq_s32_f32(b)));
    s = vqaddq_s16(s, k.zp16);
    return SIGNED ? vreinterpret_u8_s8(vqmovn_s16(s)) : vqmovun_s16(s);
  }

  // o[c][h]: channel c of positions 4h..4h+3.
  template <ElemType T, int C, bool NHWC, class K>
  static void Store(float32x4_t (*o)[2], uint8_t* dst, size_t ps, const K& k) {
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
      for (int c = 0; c < C; ++c) q[c] = Quant8<S, K>(o[c][0], o[c][1], k);
      if (NHWC && C == 3) {
        uint8x8x3_t v = {{q[0], q[1], q[2]}};
        vst3_u8(dst, v);
      } else {
        for (int c = 0; c < C; ++c) vst1_u8(dst + c * ps, q[c]);
      }
    }
  }

  // Area (see kernel_driver-inl.h, AreaSampleLine): vertical pass with
  // vmull_u8/vmlal_u8 (weights <= 127, sums <= 255 * 128 fit 16 bits), 16
  // bytes per step, the last step moved back to end at hi.
  static void AreaVertical(const uint8_t* plane, ptrdiff_t stride, const int32_t* rows, const uint8_t* w, int n,
                           int lo, int hi, int16_t* acc, PrefetchSlice pf) {
    if (hi - lo < 16) {
      for (int x = lo; x < hi; ++x) {
        int s = 0;
        for (int r = 0; r < n; ++r) s += w[r] * plane[static_cast<ptrdiff_t>(rows[r]) * stride + x];
        acc[x] = static_cast<int16_t>(s);
      }
      return;
    }
    for (int x = lo;; x += 16) {
      if (x > hi - 16) x = hi - 16;
      if (((x - lo) & 31) == 0) pf.At((x - lo) >> 5);  // the driver counts 32-byte chunks
      uint16x8_t s0 = vdupq_n_u16(0), s1 = vdupq_n_u16(0);
      for (int r = 0; r < n; ++r) {
        const uint8x16_t a = vld1q_u8(plane + static_cast<ptrdiff_t>(rows[r]) * stride + x);
        const uint8x16_t wv = vdupq_n_u8(w[r]);
        s0 = vmlal_u8(s0, vget_low_u8(a), vget_low_u8(wv));
        s1 = vmlal_high_u8(s1, a, wv);
      }
      vst1q_s16(acc + x, vreinterpretq_s16_u16(s0));
      vst1q_s16(acc + x + 8, vreinterpretq_s16_u16(s1));
      if (x == hi - 16) break;
    }
  }
  // Integer-ratio views (KView::uwidth): 4 positions from contiguous loads,
  // pairwise adds; reversed axes reverse the 4 sums.
  static int32x4_t Reverse4(int32x4_t v) {
    const int32x4_t r = vrev64q_s32(v);
    return vextq_s32(r, r, 2);
  }
  template <int NCH>
  static void AreaHorizontalUniform(const KView& kv, const int16_t* acc, int npos, float scale, float* const* dst) {
    const int W = kv.uwidth;
    const float32x4_t sc = vdupq_n_f32(scale);
    int16x8_t pat[NCH];
    for (int c = 0; c < NCH; ++c) pat[c] = vld1q_s16(kv.upat[c]);
    const int32_t w1 = kv.upat[0][0];  // W == 1: one channel, its weight at every lane
    for (int i0 = 0; i0 < npos; i0 += 4) {
      const int16_t* x = acc + kv.hbase[0] + (kv.udir > 0 ? i0 : -(i0 + 3)) * W;
      int32x4_t v[NCH];
      if (W == 1) {
        v[0] = vmulq_n_s32(vmovl_s16(vld1_s16(x)), w1);
        for (int c = 1; c < NCH; ++c) v[c] = v[0];  // (one channel when W == 1)
      } else if (W == 2) {
        const int16x8_t a = vld1q_s16(x);
        for (int c = 0; c < NCH; ++c)
          v[c] = vpaddq_s32(vmull_s16(vget_low_s16(a), vget_low_s16(pat[c])), vmull_high_s16(a, pat[c]));
      } else {
        const int16x8_t a = vld1q_s16(x), b = vld1q_s16(x + 8);
        for (int c = 0; c < NCH; ++c) {
          const int32x4_t p0 = vmull_s16(vget_low_s16(a), vget_low_s16(pat[c]));
          const int32x4_t p1 = vmull_high_s16(a, pat[c]);
          const int32x4_t p2 = vmull_s16(vget_low_s16(b), vget_low_s16(pat[c]));
          const int32x4_t p3 = vmull_high_s16(b, pat[c]);
          v[c] = vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
        }
      }
      for (int c = 0; c < NCH; ++c) {
        if (kv.udir < 0) v[c] = Reverse4(v[c]);
        vst1q_f32(dst[c] + i0, vmulq_f32(vcvtq_f32_s32(v[c]), sc));
      }
    }
  }
  // Horizontal pass: per position, vmull_s16/vmlal_high_s16 over 8-wide
  // chunks, then pairwise adds give 4 positions' sums in one register.
  // KC > 0: the chunk count as a constant (unrolled; kv.hK == KC), 0: kv.hK.
  template <int NCH, int KC>
  static void AreaHorizontal(const KView& kv, const int16_t* acc, int npos, float scale, float* const* dst) {
    const int K = KC > 0 ? KC : kv.hK;
    const float32x4_t sc = vdupq_n_f32(scale);
    const size_t wstep = static_cast<size_t>(K) * NCH * 8;
    for (int i0 = 0; i0 < npos; i0 += 4) {
      int32x4_t r[NCH][4];
      for (int q = 0; q < 4; ++q) {
        const int16_t* xp = acc + kv.hbase[i0 + q];
        const int16_t* wp = kv.hw + (i0 + q) * wstep;
        int32x4_t sum[NCH];
        for (int c = 0; c < NCH; ++c) sum[c] = vdupq_n_s32(0);
        for (int k = 0; k < K; ++k) {
          const int16x8_t x = vld1q_s16(xp + 8 * k);
          for (int c = 0; c < NCH; ++c) {
            const int16x8_t wv = vld1q_s16(wp + (k * NCH + c) * 8);
            sum[c] = vmlal_s16(sum[c], vget_low_s16(x), vget_low_s16(wv));
            sum[c] = vmlal_high_s16(sum[c], x, wv);
          }
        }
        for (int c = 0; c < NCH; ++c) r[c][q] = sum[c];
      }
      for (int c = 0; c < NCH; ++c) {
        const int32x4_t t = vpaddq_s32(vpaddq_s32(r[c][0], r[c][1]), vpaddq_s32(r[c][2], r[c][3]));
        vst1q_f32(dst[c] + i0, vmulq_f32(vcvtq_f32_s32(t), sc));
      }
    }
  }
};

}  // namespace

void KernelNeon(const KPlan& p, const Image& img, uint8_t* out, int j0, int j1, uint8_t* scratch) {
  KernelDriver<Neon>(p, img, out, j0, j1, scratch);
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
