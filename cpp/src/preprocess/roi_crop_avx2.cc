// Rotated-ROI crop, interior of a row (see roi_crop_kernels.h), AVX2 + FMA:
// 8 output pixels per step; tap positions in double (4 lanes, so weights keep
// float precision at any frame size), one 32-bit gather per tap corner
// fetches every channel of a pixel, bilinear weights and normalization in float.
#include <immintrin.h>

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

inline __m256 Byte(__m256i v, int ch) {
  return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * ch), _mm256_set1_epi32(0xff)));
}

template <int SC, int OC>
void Interior(const RoiRowArgs& a, int u0, int u1, float* row) {
  const int* base = reinterpret_cast<const int*>(a.base);
  const __m256d dx = _mm256_set1_pd(a.dx), dy = _mm256_set1_pd(a.dy);
  const __m256d sx0 = _mm256_set1_pd(a.sx0), sy0 = _mm256_set1_pd(a.sy0);
  const __m256d lane = _mm256_setr_pd(0, 1, 2, 3);
  const __m256i vstride = _mm256_set1_epi32(static_cast<int>(a.stride));
  const __m256i vsc = _mm256_set1_epi32(SC);
  __m256 A[3], B[3];
  for (int k = 0; k < OC; ++k) {
    A[k] = _mm256_set1_ps(a.a[k]);
    B[k] = _mm256_set1_ps(a.b[k]);
  }
  const __m256 g0 = _mm256_set1_ps(0.299f), g1 = _mm256_set1_ps(0.587f), g2 = _mm256_set1_ps(0.114f);
  alignas(32) float tmp[3][8];
  int u = u0;
  for (; u + 8 <= u1; u += 8) {
    const __m256d ul = _mm256_add_pd(_mm256_set1_pd(u), lane);
    const __m256d uh = _mm256_add_pd(ul, _mm256_set1_pd(4));
    __m128i xl, xh, yl, yh;
    __m128 wxl, wxh, wyl, wyh;
    Split(_mm256_fmadd_pd(dx, ul, sx0), &xl, &wxl);
    Split(_mm256_fmadd_pd(dx, uh, sx0), &xh, &wxh);
    Split(_mm256_fmadd_pd(dy, ul, sy0), &yl, &wyl);
    Split(_mm256_fmadd_pd(dy, uh, sy0), &yh, &wyh);
    const __m256i x0 = _mm256_set_m128i(xh, xl), y0 = _mm256_set_m128i(yh, yl);
    const __m256 wx = _mm256_set_m128(wxh, wxl), wy = _mm256_set_m128(wyh, wyl);
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
      for (int k = 0; k < 3; ++k)
        _mm256_store_ps(tmp[k], _mm256_add_ps(_mm256_mul_ps(src[SC == 1 ? 0 : k], A[k]), B[k]));
      float* o = row + static_cast<size_t>(u) * 3;
      for (int j = 0; j < 8; ++j) {
        o[3 * j] = tmp[0][j];
        o[3 * j + 1] = tmp[1][j];
        o[3 * j + 2] = tmp[2][j];
      }
    }
  }
  if (u < u1) RoiInteriorPortable(a, u, u1, row);
}

}  // namespace

void RoiInteriorAvx2(const RoiRowArgs& a, int u0, int u1, float* row) {
  switch (a.sc * 10 + a.oc) {
    case 11: Interior<1, 1>(a, u0, u1, row); break;
    case 13: Interior<1, 3>(a, u0, u1, row); break;
    case 31: Interior<3, 1>(a, u0, u1, row); break;
    case 33: Interior<3, 3>(a, u0, u1, row); break;
    case 41: Interior<4, 1>(a, u0, u1, row); break;
    default: Interior<4, 3>(a, u0, u1, row); break;
  }
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
