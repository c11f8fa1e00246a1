// Rotated-ROI crop, interior of a row (see roi_crop_kernels.h), AVX2 + FMA:
// 8 output pixels per step; tap positions in double (4 lanes, so weights keep
// float precision at any frame size), one 32-bit gather per tap corner
// fetches every channel of a pixel, bilinear weights and normalization in float.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "preprocess/roi_crop_kernels.h"

namespace edgerun {
namespace preprocess {
namespace internal {

namespace {

// floor and fraction of 4 double positions.
inline void Split(__m256d f, __m128i* i, __m128* w) {
  const __m256d fl = _mm256_floor_pd(f);
  *i = _mm256_cvttpd_epi32(fl);
  *w = _mm256_cvtpd_ps(_mm256_sub_pd(f, fl));
}

// Tap grid of output pixels u .. u + 7: integer corners (x0, y0) and fractions (wx, wy), lane i = pixel u + i.
inline void Coords8(__m256d dx, __m256d dy, __m256d sx0, __m256d sy0, int u, __m256i* x0, __m256i* y0, __m256* wx,
                    __m256* wy) {
  const __m256d ul = _mm256_add_pd(_mm256_set1_pd(u), _mm256_setr_pd(0, 1, 2, 3));
  const __m256d uh = _mm256_add_pd(ul, _mm256_set1_pd(4));
  __m128i xl, xh, yl, yh;
  __m128 wxl, wxh, wyl, wyh;
  Split(_mm256_fmadd_pd(dx, ul, sx0), &xl, &wxl);
  Split(_mm256_fmadd_pd(dx, uh, sx0), &xh, &wxh);
  Split(_mm256_fmadd_pd(dy, ul, sy0), &yl, &wyl);
  Split(_mm256_fmadd_pd(dy, uh, sy0), &yh, &wyh);
  *x0 = _mm256_set_m128i(xh, xl);
  *y0 = _mm256_set_m128i(yh, yl);
  *wx = _mm256_set_m128(wxh, wxl);
  *wy = _mm256_set_m128(wyh, wyl);
}

// Stores 8 pixels of 3 channels (r, g, b: lane i = pixel P[i]) interleaved at o:
// each channel is permuted so that one blend pattern per output vector picks it
// (ir, ig, ib: that permutation composed with P).
inline void Store3(float* o, __m256 r, __m256 g, __m256 b, __m256i ir, __m256i ig, __m256i ib) {
  const __m256 rp = _mm256_permutevar8x32_ps(r, ir);  // pixels 0 3 6 1 4 7 2 5
  const __m256 gp = _mm256_permutevar8x32_ps(g, ig);  // 5 0 3 6 1 4 7 2
  const __m256 bp = _mm256_permutevar8x32_ps(b, ib);  // 2 5 0 3 6 1 4 7
  _mm256_storeu_ps(o, _mm256_blend_ps(_mm256_blend_ps(rp, gp, 0x92), bp, 0x24));
  _mm256_storeu_ps(o + 8, _mm256_blend_ps(_mm256_blend_ps(bp, rp, 0x92), gp, 0x24));
  _mm256_storeu_ps(o + 16, _mm256_blend_ps(_mm256_blend_ps(gp, bp, 0x92), rp, 0x24));
}

inline __m256 Byte(__m256i v, int ch) {
  return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * ch), _mm256_set1_epi32(0xff)));
}

template <int SC, int OC>
void Interior(const RoiRowArgs& a, int u0, int u1, float* row) {
  const int* base = reinterpret_cast<const int*>(a.base);
  const __m256d dx = _mm256_set1_pd(a.dx), dy = _mm256_set1_pd(a.dy);
  const __m256d sx0 = _mm256_set1_pd(a.sx0), sy0 = _mm256_set1_pd(a.sy0);
  const __m256i vstride = _mm256_set1_epi32(static_cast<int>(a.stride));
  const __m256i vsc = _mm256_set1_epi32(SC);
  __m256 A[3], B[3];
  for (int k = 0; k < OC; ++k) {
    A[k] = _mm256_set1_ps(a.a[k]);
    B[k] = _mm256_set1_ps(a.b[k]);
  }
  const __m256 g0 = _mm256_set1_ps(0.299f), g1 = _mm256_set1_ps(0.587f), g2 = _mm256_set1_ps(0.114f);
  int u = u0;
  for (; u + 8 <= u1; u += 8) {
    __m256i x0, y0;
    __m256 wx, wy;
    Coords8(dx, dy, sx0, sy0, u, &x0, &y0, &wx, &wy);
    const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(y0, vstride), _mm256_mullo_epi32(x0, vsc));
    const __m256i offd = _mm256_add_epi32(off, vstride);
    const __m256i p00 = _mm256_i32gather_epi32(base, off, 1);
    const __m256i p10 = _mm256_i32gather_epi32(base, offd, 1);
    __m256i p01, p11;
    if (SC == 1) {  // the right neighbour is byte 1 of the same word
      p01 = _mm256_srli_epi32(p00, 8);
      p11 = _mm256_srli_epi32(p10, 8);
    } else {
      p01 = _mm256_i32gather_epi32(base, _mm256_add_epi32(off, vsc), 1);
      p11 = _mm256_i32gather_epi32(base, _mm256_add_epi32(offd, vsc), 1);
    }
    __m256 src[4];
    const int nch = SC == 1 ? 1 : 3;
    for (int c = 0; c < nch; ++c) {
      const int ch = SC == 1 ? 0 : a.pick[c];
      const __m256 t00 = Byte(p00, ch), t01 = Byte(p01, ch), t10 = Byte(p10, ch), t11 = Byte(p11, ch);
      const __m256 top = _mm256_add_ps(t00, _mm256_mul_ps(_mm256_sub_ps(t01, t00), wx));
      const __m256 bot = _mm256_add_ps(t10, _mm256_mul_ps(_mm256_sub_ps(t11, t10), wx));
      src[c] = _mm256_add_ps(top, _mm256_mul_ps(_mm256_sub_ps(bot, top), wy));
    }
    if (OC == 1) {
      const __m256 g = SC == 1 ? src[0]
                               : _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(src[0], g0), _mm256_mul_ps(src[1], g1)),
                                               _mm256_mul_ps(src[2], g2));
      _mm256_storeu_ps(row + u, _mm256_add_ps(_mm256_mul_ps(g, A[0]), B[0]));
    } else {
      __m256 v[3];
      for (int k = 0; k < 3; ++k) v[k] = _mm256_add_ps(_mm256_mul_ps(src[SC == 1 ? 0 : k], A[k]), B[k]);
      Store3(row + static_cast<size_t>(u) * 3, v[0], v[1], v[2], _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5),
             _mm256_setr_epi32(5, 0, 3, 6, 1, 4, 7, 2), _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));
    }
  }
  if (u < u1) RoiInteriorPortable(a, u, u1, row);
}

// 3- and 4-byte pixels: one 64-bit gather per pixel and source row fetches both
// horizontal taps (x0 and x0 + 1: 6 or 8 bytes), half the loads of four 32-bit
// gathers. Bytes are split into channels with pshufb; the pixels come out in
// the order 0 1 4 5 2 3 6 7 (kPerm), so the weights go in (and the results
// come out) through the same permutation, which is its own inverse.
template <int SC, int OC>
void Interior64(const RoiRowArgs& a, int u0, int u1, float* row) {
  const long long* base = reinterpret_cast<const long long*>(a.base);
  const __m256d dx = _mm256_set1_pd(a.dx), dy = _mm256_set1_pd(a.dy);
  const __m256d sx0 = _mm256_set1_pd(a.sx0), sy0 = _mm256_set1_pd(a.sy0);
  const __m256i vstride = _mm256_set1_epi32(static_cast<int>(a.stride));
  const __m256i vsc = _mm256_set1_epi32(SC);
  const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  __m256 A[3], B[3];
  for (int k = 0; k < OC; ++k) {
    A[k] = _mm256_set1_ps(a.a[k]);
    B[k] = _mm256_set1_ps(a.b[k]);
  }
  // per channel: dwords (left tap of qword 0, of qword 1, right tap of qword 0, of qword 1)
  __m256i split[3];
  for (int c = 0; c < 3; ++c) {
    const int ch = a.pick[c];
    alignas(32) int8_t m[32];
    for (int i = 0; i < 32; ++i) m[i] = -128;  // zero
    for (int l = 0; l < 2; ++l) {
      int8_t* q = m + 16 * l;
      q[0] = static_cast<int8_t>(ch);
      q[4] = static_cast<int8_t>(8 + ch);
      q[8] = static_cast<int8_t>(ch + SC);
      q[12] = static_cast<int8_t>(8 + ch + SC);
    }
    split[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(m));
  }
  const __m256 g0 = _mm256_set1_ps(0.299f), g1 = _mm256_set1_ps(0.587f), g2 = _mm256_set1_ps(0.114f);
  int u = u0;
  for (; u + 8 <= u1; u += 8) {
    __m256i x0, y0;
    __m256 wx, wy;
    Coords8(dx, dy, sx0, sy0, u, &x0, &y0, &wx, &wy);
    wx = _mm256_permutevar8x32_ps(wx, perm);
    wy = _mm256_permutevar8x32_ps(wy, perm);
    const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(y0, vstride), _mm256_mullo_epi32(x0, vsc));
    const __m256i offd = _mm256_add_epi32(off, vstride);
    const __m256i t_lo = _mm256_i32gather_epi64(base, _mm256_castsi256_si128(off), 1);
    const __m256i t_hi = _mm256_i32gather_epi64(base, _mm256_extracti128_si256(off, 1), 1);
    const __m256i b_lo = _mm256_i32gather_epi64(base, _mm256_castsi256_si128(offd), 1);
    const __m256i b_hi = _mm256_i32gather_epi64(base, _mm256_extracti128_si256(offd, 1), 1);
    __m256 src[3];
    for (int c = 0; c < 3; ++c) {
      const __m256i tl = _mm256_shuffle_epi8(t_lo, split[c]), th = _mm256_shuffle_epi8(t_hi, split[c]);
      const __m256i bl = _mm256_shuffle_epi8(b_lo, split[c]), bh = _mm256_shuffle_epi8(b_hi, split[c]);
      const __m256 t00 = _mm256_cvtepi32_ps(_mm256_unpacklo_epi64(tl, th));
      const __m256 t01 = _mm256_cvtepi32_ps(_mm256_unpackhi_epi64(tl, th));
      const __m256 t10 = _mm256_cvtepi32_ps(_mm256_unpacklo_epi64(bl, bh));
      const __m256 t11 = _mm256_cvtepi32_ps(_mm256_unpackhi_epi64(bl, bh));
      const __m256 top = _mm256_add_ps(t00, _mm256_mul_ps(_mm256_sub_ps(t01, t00), wx));
      const __m256 bot = _mm256_add_ps(t10, _mm256_mul_ps(_mm256_sub_ps(t11, t10), wx));
      src[c] = _mm256_add_ps(top, _mm256_mul_ps(_mm256_sub_ps(bot, top), wy));
    }
    if (OC == 1) {
      const __m256 g = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(src[0], g0), _mm256_mul_ps(src[1], g1)),
                                     _mm256_mul_ps(src[2], g2));
      _mm256_storeu_ps(row + u, _mm256_permutevar8x32_ps(_mm256_add_ps(_mm256_mul_ps(g, A[0]), B[0]), perm));
    } else {
      __m256 v[3];
      for (int k = 0; k < 3; ++k) v[k] = _mm256_add_ps(_mm256_mul_ps(src[k], A[k]), B[k]);
      // lanes hold pixels 0 1 4 5 2 3 6 7: the store's permutations composed with that order
      Store3(row + static_cast<size_t>(u) * 3, v[0], v[1], v[2], _mm256_setr_epi32(0, 5, 6, 1, 2, 7, 4, 3),
             _mm256_setr_epi32(3, 0, 5, 6, 1, 2, 7, 4), _mm256_setr_epi32(4, 3, 0, 5, 6, 1, 2, 7));
    }
  }
  if (u < u1) RoiInteriorPortable(a, u, u1, row);
}

}  // namespace

void RoiInteriorAvx2(const RoiRowArgs& a, int u0, int u1, float* row) {
  switch (a.sc * 10 + a.oc) {
    case 11: Interior<1, 1>(a, u0, u1, row); break;
    case 13: Interior<1, 3>(a, u0, u1, row); break;
    case 31: Interior64<3, 1>(a, u0, u1, row); break;
    case 33: Interior64<3, 3>(a, u0, u1, row); break;
    case 41: Interior64<4, 1>(a, u0, u1, row); break;
    default: Interior64<4, 3>(a, u0, u1, row); break;
  }
}

void RoiYuvRowAvx2(const uint8_t* y, const float* rv, const float* guv, const float* bu, int n, float yoff,
                   float cy, uint8_t* o) {
  const __m256 vo = _mm256_set1_ps(yoff), vc = _mm256_set1_ps(cy);
  const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
  // bytes r0..r7 g0..g7 (rg) and b0..b7 (b) -> r0 g0 b0 r1 ... (24 bytes)
  const __m128i s0 = _mm_setr_epi8(0, 8, -1, 1, 9, -1, 2, 10, -1, 3, 11, -1, 4, 12, -1, 5);
  const __m128i t0 = _mm_setr_epi8(-1, -1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1);
  const __m128i s1 = _mm_setr_epi8(13, -1, 6, 14, -1, 7, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i t1 = _mm_setr_epi8(-1, 5, -1, -1, 6, -1, -1, 7, -1, -1, -1, -1, -1, -1, -1, -1);
  int c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m256 Y = _mm256_mul_ps(
        _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(y + c)))),
                      vo),
        vc);
    auto q = [&](const float* t) {  // clamp, round half to even (MXCSR default), int32
      const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(Y, _mm256_loadu_ps(t + c)), lo), hi);
      return _mm256_cvtps_epi32(v);
    };
    const __m256i r = q(rv), g = q(guv), b = q(bu);
    // int32 x 8 -> bytes: pack to int16 (lanes interleave: fix with permute), then to uint8
    const __m256i rg16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r, g), 0xD8);  // r0..7 g0..7 (int16)
    const __m256i bb16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(b, b), 0xD8);
    const __m128i rg = _mm_packus_epi16(_mm256_castsi256_si128(rg16), _mm256_extracti128_si256(rg16, 1));
    const __m128i bb = _mm_packus_epi16(_mm256_castsi256_si128(bb16), _mm256_castsi256_si128(bb16));
    const __m128i out0 = _mm_or_si128(_mm_shuffle_epi8(rg, s0), _mm_shuffle_epi8(bb, t0));
    const __m128i out1 = _mm_or_si128(_mm_shuffle_epi8(rg, s1), _mm_shuffle_epi8(bb, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 3 * c), out0);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o + 3 * c + 16), out1);
  }
  for (; c < n; ++c) {
    const float Yf = (static_cast<float>(y[c]) - yoff) * cy;
    const float t[3] = {Yf + rv[c], Yf + guv[c], Yf + bu[c]};
    for (int k = 0; k < 3; ++k) {
      const float v = std::min(std::max(t[k], 0.0f), 255.0f);
      o[3 * c + k] = static_cast<uint8_t>(static_cast<int>(std::nearbyint(v)));
    }
  }
}

void RoiQuantizeAvx2(const float* src, size_t n, float scale, float zp, float qlo, float qhi, uint8_t* dst) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zp);
  const __m256 lo = _mm256_set1_ps(qlo), hi = _mm256_set1_ps(qhi);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 q0 = _mm256_add_ps(_mm256_div_ps(_mm256_loadu_ps(src + i), vs), vz);
    __m256 q1 = _mm256_add_ps(_mm256_div_ps(_mm256_loadu_ps(src + i + 8), vs), vz);
    q0 = _mm256_min_ps(_mm256_max_ps(q0, lo), hi);
    q1 = _mm256_min_ps(_mm256_max_ps(q1, lo), hi);
    const __m256i i0 = _mm256_cvtps_epi32(q0), i1 = _mm256_cvtps_epi32(q1);  // nearest even (MXCSR default)
    // int32 -> int16 -> low bytes: values are in [-128, 255], so take the low byte of each
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), 0xD8);
    const __m256i b = _mm256_and_si256(w, _mm256_set1_epi16(0xff));
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), bytes);
  }
  for (; i < n; ++i) {
    float q = src[i] / scale + zp;
    q = std::min(std::max(q, qlo), qhi);
    dst[i] = static_cast<uint8_t>(static_cast<int>(std::nearbyint(q)));
  }
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
