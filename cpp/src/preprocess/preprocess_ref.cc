// Scalar reference kernel: the specification of preprocessing. SIMD kernels
// must reproduce it (bit-exact sampling, same float op order). See plan.h.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // float ops one at a time, never fused
#endif

#include <cmath>
#include <cstring>

#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {

size_t ElemSize(ElemType t) {
  switch (t) {
    case ElemType::kFloat32: return 4;
    case ElemType::kFloat16: return 2;
    default: return 1;
  }
}

size_t ScratchBytes(const KPlan& p) {
  if (p.nearest) return NearestScratchBytes(p);
  // SIMD kernels: a block-sized tail buffer, three float slot rows and TileLines
  // lines of output elements (transposed outputs).
  const size_t npad = static_cast<size_t>(p.npos) + 64;
  return 256 + npad * 3 * 4 + TileLines(p) * (npad * 3 * 4 + 16) + 4096 + (p.area ? AreaScratchBytes(p) : 0) +
         HorCacheBytes(p);
}

// Colour stage + normalization of one pixel: slots (value units) -> o[c].
void NormalizePixelRef(const KPlan& p, const float* s, float* o) {
  float px[3];
  switch (p.op) {
    case ColorOp::kCopy:
      for (int c = 0; c < p.out_c; ++c) px[c] = s[p.perm[c]];
      break;
    case ColorOp::kGrayToRgb:
      for (int c = 0; c < p.out_c; ++c) px[c] = s[0];
      break;
    case ColorOp::kRgbToGray: {
      float t0 = s[0] * p.gw[0];
      float t1 = s[1] * p.gw[1];
      float t = t0 + t1;
      float t2 = s[2] * p.gw[2];
      px[0] = t + t2;
      break;
    }
    case ColorOp::kYuvToRgb: {
      const float Y = s[0], U = s[1], V = s[2];
      const float Yc = Y < p.ymin ? p.ymin : Y;
      float y = Yc * p.ky;
      float r = V * p.crv;
      r = r + p.kr;
      r = y + r;
      float g0 = U * p.cgu;
      float g1 = V * p.cgv;
      float g = g0 + g1;
      g = g + p.kg;
      g = y + g;
      float b = U * p.cbu;
      b = b + p.kb;
      b = y + b;
      float rgb[3] = {r, g, b};
      for (int k = 0; k < 3; ++k) {
        float v = rgb[k] < 0.f ? 0.f : rgb[k];  // max(x, 0)
        rgb[k] = v > p.vmax ? p.vmax : v;        // min(x, vmax)
      }
      for (int c = 0; c < p.out_c; ++c) px[c] = rgb[p.perm[c]];
      break;
    }
  }
  for (int c = 0; c < p.out_c; ++c) {
    float t = px[c] * p.A[c];
    o[c] = t + p.B[c];
  }
}

void StorePixelRef(const KPlan& p, uint8_t* out, size_t pix, const float* o) {
  const size_t plane = static_cast<size_t>(p.out_w) * p.out_h;
  for (int c = 0; c < p.out_c; ++c) {
    const size_t e = p.layout == Layout::kNHWC ? pix * p.out_c + c : c * plane + pix;
    switch (p.type) {
      case ElemType::kFloat32:
        std::memcpy(out + e * 4, &o[c], 4);
        break;
      case ElemType::kFloat16: {
        uint16_t h = FloatToHalf(o[c]);
        std::memcpy(out + e * 2, &h, 2);
        break;
      }
      case ElemType::kUInt8:
      case ElemType::kInt8: {
        float v = o[c] < p.qlo ? p.qlo : o[c];
        v = v > p.qhi ? p.qhi : v;
        int q = static_cast<int>(std::nearbyint(v)) + p.zp;  // default rounding: nearest even
        if (p.type == ElemType::kUInt8) {
          out[e] = static_cast<uint8_t>(q);
        } else {
          int8_t s = static_cast<int8_t>(q);
          std::memcpy(out + e, &s, 1);
        }
        break;
      }
    }
  }
}

static inline size_t PixelIndex(const KPlan& p, int line, int pos) {
  if (!p.transposed) return static_cast<size_t>(p.cy + line) * p.out_w + (p.cx + pos);
  return static_cast<size_t>(p.cy + pos) * p.out_w + (p.cx + line);
}

void FetchTapRef(const KPlan& p, const Image& img, int x, int y, int32_t* s) {
  for (int v = 0; v < p.nviews; ++v) {
    const KView& kv = p.views[v];
    const uint8_t* px = img.data[kv.plane] + static_cast<ptrdiff_t>(y >> kv.yshift) * img.stride[kv.plane] +
                        static_cast<ptrdiff_t>(x >> kv.xshift) * kv.bpp;
    for (int c = 0; c < kv.nch; ++c) s[kv.slot[c]] = px[kv.ch_off[c]];
  }
  if (p.rgb_taps) TapToRgbRef(p, s);
}

void TapToRgbRef(const KPlan& p, int32_t* s) {
  int yy = s[0] - p.ty;
  yy = yy < 0 ? 0 : yy;
  const int u = s[1] - 128, v = s[2] - 128;
  const int ycy = yy * p.tcy + 4096;
  int rgb[3] = {(ycy + v * p.tcvr) >> 13, (ycy + (v * p.tcvg + u * p.tcug)) >> 13, (ycy + u * p.tcub) >> 13};
  for (int c = 0; c < 3; ++c) s[c] = rgb[c] < 0 ? 0 : rgb[c] > 255 ? 255 : rgb[c];
}

void KernelRef(const KPlan& p, const Image& img, uint8_t* out, int line_begin, int line_end,
               uint8_t* /*scratch*/) {
  float slots[3] = {0, 0, 0};
  float o[3];
  int32_t t00[3] = {0, 0, 0}, t01[3] = {0, 0, 0}, t10[3] = {0, 0, 0}, t11[3] = {0, 0, 0};
  for (int j = line_begin; j < line_end; ++j) {
    if (!p.area) {
      const int ra = p.row_a[j], rb = p.row_b[j];
      const uint32_t wy = static_cast<uint32_t>(p.row_w[j]);
      for (int i = 0; i < p.npos; ++i) {
        const uint32_t wa = p.col_wa[i], wb = p.col_wb[i];
        const int xa = p.col_x[i], xb = p.col_xb[i];
        FetchTapRef(p, img, xa, ra, t00);
        FetchTapRef(p, img, xb, ra, t01);
        FetchTapRef(p, img, xa, rb, t10);
        FetchTapRef(p, img, xb, rb, t11);
        for (int k = 0; k < p.nslots; ++k) {
          const uint32_t h0 = static_cast<uint32_t>(t00[k]) * wa + static_cast<uint32_t>(t01[k]) * wb;
          const uint32_t h1 = static_cast<uint32_t>(t10[k]) * wa + static_cast<uint32_t>(t11[k]) * wb;
          const uint32_t val = h0 * (kRowOne - wy) + h1 * wy;
          slots[k] = static_cast<float>(val);
        }
        NormalizePixelRef(p, slots, o);
        StorePixelRef(p, out, PixelIndex(p, j, i), o);
      }
    } else {
      const int r0 = p.arow_start[j], r1 = p.arow_start[j + 1];
      for (int i = 0; i < p.npos; ++i) {
        const int c0 = p.acol_start[i], c1 = p.acol_start[i + 1];
        uint32_t acc[3] = {0, 0, 0};
        for (int r = r0; r < r1; ++r) {
          uint32_t h[3] = {0, 0, 0};
          for (int k = c0; k < c1; ++k) {
            FetchTapRef(p, img, p.acol_idx[k], p.arow_idx[r], t00);
            for (int c = 0; c < p.nslots; ++c) h[c] += static_cast<uint32_t>(t00[c]) * static_cast<uint32_t>(p.acol_w[k]);
          }
          for (int c = 0; c < p.nslots; ++c) acc[c] += h[c] * static_cast<uint32_t>(p.arow_w[r]);
        }
        for (int c = 0; c < p.nslots; ++c) slots[c] = static_cast<float>(acc[c]) * p.area_scale;
        NormalizePixelRef(p, slots, o);
        StorePixelRef(p, out, PixelIndex(p, j, i), o);
      }
    }
  }
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
