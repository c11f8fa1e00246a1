// Rotated-ROI crop, interior of a row (see roi_crop_kernels.h), NEON: the twin
// of roi_crop_avx2.cc with 4 output pixels per step. Tap positions in double
// (2 lanes), the four corners of each pixel read as 32-bit words (NEON has no
// gather: lane loads), channels split with shifts, weights and normalization in
// float; 3-channel outputs stored with vst3q.
#include <arm_neon.h>

#include <cstring>

#include "preprocess/roi_crop_kernels.h"

namespace edgerun {
namespace preprocess {
namespace internal {

namespace {

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float32x4_t Byte(uint32x4_t v, int ch) {
  return vcvtq_f32_u32(vandq_u32(vshlq_u32(v, vdupq_n_s32(-8 * ch)), vdupq_n_u32(0xff)));
}

inline float32x4_t Lerp(float32x4_t a, float32x4_t b, float32x4_t w) {
  return vaddq_f32(a, vmulq_f32(vsubq_f32(b, a), w));
}

template <int SC, int OC>
void Interior(const RoiRowArgs& a, int u0, int u1, float* row) {
  const float64x2_t dx = vdupq_n_f64(a.dx), dy = vdupq_n_f64(a.dy);
  const float64x2_t sx0 = vdupq_n_f64(a.sx0), sy0 = vdupq_n_f64(a.sy0);
  float32x4_t A[3], B[3];
  for (int k = 0; k < OC; ++k) {
    A[k] = vdupq_n_f32(a.a[k]);
    B[k] = vdupq_n_f32(a.b[k]);
  }
  int u = u0;
  for (; u + 4 <= u1; u += 4) {
    const double ul_[2] = {static_cast<double>(u), static_cast<double>(u + 1)};
    const float64x2_t ul = vld1q_f64(ul_), uh = vaddq_f64(ul, vdupq_n_f64(2));
    const float64x2_t fxl = vfmaq_f64(sx0, dx, ul), fxh = vfmaq_f64(sx0, dx, uh);
    const float64x2_t fyl = vfmaq_f64(sy0, dy, ul), fyh = vfmaq_f64(sy0, dy, uh);
    const float64x2_t xfl = vrndmq_f64(fxl), xfh = vrndmq_f64(fxh), yfl = vrndmq_f64(fyl), yfh = vrndmq_f64(fyh);
    const float32x4_t wx = vcombine_f32(vcvt_f32_f64(vsubq_f64(fxl, xfl)), vcvt_f32_f64(vsubq_f64(fxh, xfh)));
    const float32x4_t wy = vcombine_f32(vcvt_f32_f64(vsubq_f64(fyl, yfl)), vcvt_f32_f64(vsubq_f64(fyh, yfh)));
    int64_t xi[4], yi[4];
    vst1q_s64(xi, vcvtq_s64_f64(xfl));
    vst1q_s64(xi + 2, vcvtq_s64_f64(xfh));
    vst1q_s64(yi, vcvtq_s64_f64(yfl));
    vst1q_s64(yi + 2, vcvtq_s64_f64(yfh));
    uint32_t c00[4], c01[4], c10[4], c11[4];
    for (int j = 0; j < 4; ++j) {
      const uint8_t* p0 = a.base + yi[j] * a.stride + xi[j] * SC;
      c00[j] = Load32(p0);
      c10[j] = Load32(p0 + a.stride);
      if (SC != 1) {
        c01[j] = Load32(p0 + SC);
        c11[j] = Load32(p0 + a.stride + SC);
      }
    }
    const uint32x4_t p00 = vld1q_u32(c00), p10 = vld1q_u32(c10);
    // gray sources: the right neighbour is byte 1 of the same word
    const uint32x4_t p01 = SC == 1 ? vshrq_n_u32(p00, 8) : vld1q_u32(c01);
    const uint32x4_t p11 = SC == 1 ? vshrq_n_u32(p10, 8) : vld1q_u32(c11);
    float32x4_t src[3];
    const int nch = SC == 1 ? 1 : 3;
    for (int c = 0; c < nch; ++c) {
      const int ch = SC == 1 ? 0 : a.pick[c];
      const float32x4_t top = Lerp(Byte(p00, ch), Byte(p01, ch), wx);
      const float32x4_t bot = Lerp(Byte(p10, ch), Byte(p11, ch), wx);
      src[c] = Lerp(top, bot, wy);
    }
    if (OC == 1) {
      float32x4_t g = src[0];
      if (SC != 1)
        g = vaddq_f32(vaddq_f32(vmulq_n_f32(src[0], 0.299f), vmulq_n_f32(src[1], 0.587f)),
                      vmulq_n_f32(src[2], 0.114f));
      vst1q_f32(row + u, vaddq_f32(vmulq_f32(g, A[0]), B[0]));
    } else {
      float32x4x3_t o;
      for (int k = 0; k < 3; ++k) o.val[k] = vaddq_f32(vmulq_f32(src[SC == 1 ? 0 : k], A[k]), B[k]);
      vst3q_f32(row + static_cast<size_t>(u) * 3, o);
    }
  }
  if (u < u1) RoiInteriorPortable(a, u, u1, row);
}

}  // namespace

void RoiInteriorNeon(const RoiRowArgs& a, int u0, int u1, float* row) {
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
