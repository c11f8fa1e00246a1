// Internal: the rotated-ROI crop's row kernels (roi_crop.cc drives them).
//
// A row of the crop is split into the interior, where every bilinear tap (and
// every byte a SIMD load touches) lies inside the frame, and the edges, which
// the per-pixel reference handles (taps outside the frame read pad_value). The
// interior kernels run without bounds checks: RoiInteriorPortable everywhere,
// RoiInteriorAvx2 where the CPU has AVX2 + FMA (roi_crop_avx2.cc),
// RoiInteriorNeon on aarch64 (roi_crop_neon.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgerun {
namespace preprocess {
namespace internal {

struct RoiRowArgs {
  const uint8_t* base;  // packed frame, `sc` bytes per pixel
  ptrdiff_t stride;
  int sc, oc;           // source bytes per pixel (1, 3, 4), output channels (1, 3)
  double sx0, sy0;      // tap-grid position of output pixel u = 0 of this row
  double dx, dy;        // its step per output pixel
  const float* a;       // out = px * a + b per output channel
  const float* b;
  const int* pick;      // source channel per output channel (gray output: per RGB component)
};

// Source columns past the left tap a kernel may read, per source pixel size:
// the interior needs x0 + kRoiRightMargin[sc] < frame width.
inline int RoiRightMargin(int sc) { return sc == 1 ? 3 : sc == 3 ? 2 : 1; }

// Writes row[u * oc + k] for u in [u0, u1) (all taps of those pixels inside the
// frame with RoiRightMargin's slack).
void RoiInteriorPortable(const RoiRowArgs& a, int u0, int u1, float* row);
#if defined(EDGERUN_ARCH_X86)
void RoiInteriorAvx2(const RoiRowArgs& a, int u0, int u1, float* row);
// dst[i] = clamp(src[i] / scale + zp, qlo, qhi) rounded half to even, as bytes
// (int8: two's complement); bit-exact with the scalar store.
// One row of the YUV region conversion (roi_crop.cc ConvertYuvRegion): RGB bytes
// from luma y and the per-column chroma terms; the scalar loop's arithmetic and
// rounding (half to even after clamping to [0, 255]).
void RoiYuvRowAvx2(const uint8_t* y, const float* rv, const float* guv, const float* bu, int n, float yoff,
                   float cy, uint8_t* o);
void RoiQuantizeAvx2(const float* src, size_t n, float scale, float zp, float qlo, float qhi, uint8_t* dst);
#elif defined(EDGERUN_ARCH_ARM64)
void RoiInteriorNeon(const RoiRowArgs& a, int u0, int u1, float* row);
#endif

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
