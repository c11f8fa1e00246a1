// Rotated-ROI crop (see edgerun/roi_crop.h). Per output row: the interior
// (every tap inside the frame) runs a bounds-free kernel (AVX2 where available,
// roi_crop_avx2.cc; else RoiInteriorPortable), the edges and Isa::kScalar the
// per-pixel reference (SampleRow); YUV 4:2:0 frames a per-tap conversion
// (SampleRowYuv). Then one pass stores the row in the output's type and layout.
#include "edgerun/roi_crop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "edgerun/cpu.h"
#include "edgerun/tensor.h"
#include "preprocess/plan.h"
#include "preprocess/roi_crop_kernels.h"

namespace edgerun {
namespace preprocess {

namespace {

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct SampleArgs {
  const uint8_t* base;
  ptrdiff_t stride;
  int w, h;
  const float* pad;     // per source channel
  double dx, dy;        // source step per output pixel along a row
  double sx0, sy0;      // tap-grid position of the row's first pixel
  const float* a;       // out = px * a + b per output channel
  const float* b;
  const int* pick;      // source channel per output channel (gray: per RGB component)
};

// floor() without a libm call (x within int range; checked by the caller's bounds).
inline int FastFloor(double x) {
  const int i = static_cast<int>(x);
  return i - (x < i);
}

// One output row: bilinear taps (half-pixel centres), colour pick / gray, normalize.
template <int SC, int OC>
void SampleRow(const SampleArgs& s, int u0, int u1, float* row) {
  for (int u = u0; u < u1; ++u) {
    const double fx = s.sx0 + s.dx * u, fy = s.sy0 + s.dy * u;
    float src[SC];
    if (fx > -3.0 && fy > -3.0 && fx < s.w + 2.0 && fy < s.h + 2.0) {
      const int x0 = FastFloor(fx), y0 = FastFloor(fy);
      const float wx = static_cast<float>(fx - x0), wy = static_cast<float>(fy - y0);
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < s.w && y0 + 1 < s.h) {
        const uint8_t* p0 = s.base + y0 * s.stride + static_cast<ptrdiff_t>(x0) * SC;
        const uint8_t* p1 = p0 + s.stride;
        for (int ch = 0; ch < SC; ++ch) {
          const float a = p0[ch], b = p0[ch + SC], c = p1[ch], d = p1[ch + SC];
          const float top = a + (b - a) * wx, bot = c + (d - c) * wx;
          src[ch] = top + (bot - top) * wy;
        }
      } else {
        auto tap = [&](int x, int y, int ch) -> float {
          if (x < 0 || y < 0 || x >= s.w || y >= s.h) return s.pad[ch];
          return s.base[y * s.stride + static_cast<ptrdiff_t>(x) * SC + ch];
        };
        for (int ch = 0; ch < SC; ++ch) {
          const float a = tap(x0, y0, ch), b = tap(x0 + 1, y0, ch), c = tap(x0, y0 + 1, ch),
                      d = tap(x0 + 1, y0 + 1, ch);
          const float top = a + (b - a) * wx, bot = c + (d - c) * wx;
          src[ch] = top + (bot - top) * wy;
        }
      }
    } else {
      for (int ch = 0; ch < SC; ++ch) src[ch] = s.pad[ch];  // far outside: padding
    }
    float* o = row + static_cast<size_t>(u) * OC;
    if (OC == 1) {
      const float g = SC == 1 ? src[0]
                              : 0.299f * src[s.pick[0]] + 0.587f * src[s.pick[1]] + 0.114f * src[s.pick[2]];
      o[0] = g * s.a[0] + s.b[0];
    } else {
      for (int k = 0; k < OC; ++k) o[k] = src[SC == 1 ? 0 : s.pick[k]] * s.a[k] + s.b[k];
    }
  }
}

bool SimdDisabledByEnv() {  // read per call, as preprocess.cc does
  const char* e = std::getenv("EDGERUN_DISABLE_SIMD");
  return e != nullptr && e[0] != '\0' && std::strcmp(e, "0") != 0;
}

// YUV 4:2:0 frames: the frame region the taps can reach is converted to uint8
// RGB first (the spec's yuv_matrix / yuv_range with the full-frame
// Preprocessor's constants; chroma of the 2x2 block, as OpenCV's cvtColor;
// rounded half to even), then sampled as an RGB frame: the crop is cvtColor ->
// warpAffine, and it runs the packed SIMD interiors.
void ConvertYuvRegion(const Spec& spec, const Image& im, int bx, int by, int bw, int bh, uint8_t* rgb, bool simd) {
  const internal::YuvCoefs yc = internal::YuvCoefficients(spec.yuv_matrix, spec.yuv_range);  // the Preprocessor's constants
  const double cy = yc.cy, crv = yc.crv, cgu = yc.cgu, cgv = yc.cgv, cbu = yc.cbu, yoff = yc.yoff;
  const float fcy = static_cast<float>(cy), fyoff = static_cast<float>(yoff), fcrv = static_cast<float>(crv),
              fcgu = static_cast<float>(cgu), fcgv = static_cast<float>(cgv), fcbu = static_cast<float>(cbu);
  const uint8_t *u_plane, *v_plane;
  int cstep;
  if (spec.format == PixelFormat::kI420) {
    u_plane = im.data[1];
    v_plane = im.data[2];
    cstep = 1;
  } else {
    u_plane = im.data[1] + (spec.format == PixelFormat::kNV21 ? 1 : 0);
    v_plane = im.data[1] + (spec.format == PixelFormat::kNV21 ? 0 : 1);
    cstep = 2;
  }
  auto to_u8 = [](float v) {  // clamp to [0, 255], round half to even (exact: |v| < 2^22)
    v = std::min(std::max(v, 0.0f), 255.0f);
    v = (v + 12582912.0f) - 12582912.0f;
    return static_cast<uint8_t>(static_cast<int>(v));
  };
  // Chroma terms per output column, recomputed when the chroma row changes
  // (every second row): the inner loop is luma + three adds, contiguous.
  std::vector<float> terms(static_cast<size_t>(bw) * 3);
  float* rv = terms.data();
  float* guv = rv + bw;
  float* bu = guv + bw;
  std::vector<float> ys(bw);
  std::vector<uint8_t> planes(static_cast<size_t>(bw) * 3);
  uint8_t* pr = planes.data();
  uint8_t* pg = pr + bw;
  uint8_t* pb = pg + bw;
  int chroma_row = -1;
  for (int r = 0; r < bh; ++r) {
    const int y = by + r;
    if ((y >> 1) != chroma_row) {
      chroma_row = y >> 1;
      const uint8_t* urow = u_plane + chroma_row * im.stride[1];
      const uint8_t* vrow = v_plane + chroma_row * im.stride[1];
      for (int c = 0; c < bw; ++c) {
        const int cx = ((bx + c) >> 1) * cstep;
        const float U = static_cast<float>(urow[cx]) - 128.0f, V = static_cast<float>(vrow[cx]) - 128.0f;
        rv[c] = fcrv * V;
        guv[c] = fcgu * U + fcgv * V;
        bu[c] = fcbu * U;
      }
    }
    const uint8_t* yrow = im.data[0] + y * im.stride[0] + bx;
#if defined(EDGERUN_ARCH_X86)
    if (simd) {
      internal::RoiYuvRowAvx2(yrow, rv, guv, bu, bw, fyoff, fcy, rgb + static_cast<size_t>(r) * bw * 3);
      continue;
    }
#endif
    // planar passes over contiguous arrays (the compiler vectorizes them), then interleave
    for (int c = 0; c < bw; ++c) ys[c] = (static_cast<float>(yrow[c]) - fyoff) * fcy;
    for (int c = 0; c < bw; ++c) pr[c] = to_u8(ys[c] + rv[c]);
    for (int c = 0; c < bw; ++c) pg[c] = to_u8(ys[c] + guv[c]);
    for (int c = 0; c < bw; ++c) pb[c] = to_u8(ys[c] + bu[c]);
    uint8_t* o = rgb + static_cast<size_t>(r) * bw * 3;
    for (int c = 0; c < bw; ++c) {
      o[3 * c] = pr[c];
      o[3 * c + 1] = pg[c];
      o[3 * c + 2] = pb[c];
    }
  }
}

// The output pixels [*u0, *u1) of a row whose taps all satisfy
// 0 <= x0, x0 + margin_x < w, 0 <= y0, y0 + 1 < h (x0, y0 = floor of the tap
// position sx0 + dx * u, sy0 + dy * u): solved per axis, then shrunk by a
// safety band (1e-3 px) checked at both ends (the positions are linear in u).
void InteriorRange(double sx0, double dx, double sy0, double dy, int width, int w, int h, int margin_x, int* u0,
                   int* u1) {
  const double eps = 1e-3;
  double lo = 0, hi = width;  // u in [lo, hi)
  auto clip = [&](double f0, double d, double fmin, double fmax) {  // fmin <= f0 + d u <= fmax
    if (std::fabs(d) < 1e-12) {
      if (!(f0 >= fmin && f0 <= fmax)) hi = lo = 0;
      return;
    }
    double a = (fmin - f0) / d, b = (fmax - f0) / d;
    if (a > b) std::swap(a, b);
    lo = std::max(lo, std::ceil(a));
    hi = std::min(hi, std::floor(b) + 1);
  };
  clip(sx0, dx, eps, w - 1 - margin_x - eps);
  clip(sy0, dy, eps, h - 2 - eps);
  if (!(hi > lo)) {
    *u0 = *u1 = 0;
    return;
  }
  int a = static_cast<int>(lo), b = static_cast<int>(hi);
  auto inside = [&](int u) {
    const double fx = sx0 + dx * u, fy = sy0 + dy * u;
    return fx >= eps && fx <= w - 1 - margin_x - eps && fy >= eps && fy <= h - 2 - eps;
  };
  while (a < b && !inside(a)) ++a;
  while (b > a && !inside(b - 1)) --b;
  *u0 = a;
  *u1 = b;
}

template <int SC, int OC>
void InteriorPortable(const internal::RoiRowArgs& s, int u0, int u1, float* row) {
  for (int u = u0; u < u1; ++u) {
    const double fx = s.sx0 + s.dx * u, fy = s.sy0 + s.dy * u;
    const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);  // fx, fy > 0: truncation is floor
    const float wx = static_cast<float>(fx - x0), wy = static_cast<float>(fy - y0);
    const uint8_t* p0 = s.base + y0 * s.stride + static_cast<ptrdiff_t>(x0) * SC;
    const uint8_t* p1 = p0 + s.stride;
    float src[3];
    const int nch = SC == 1 ? 1 : 3;
    for (int c = 0; c < nch; ++c) {
      const int ch = SC == 1 ? 0 : s.pick[c];
      const float a = p0[ch], b = p0[ch + SC], cc = p1[ch], d = p1[ch + SC];
      const float top = a + (b - a) * wx, bot = cc + (d - cc) * wx;
      src[c] = top + (bot - top) * wy;
    }
    float* o = row + static_cast<size_t>(u) * OC;
    if (OC == 1) {
      const float g = SC == 1 ? src[0] : 0.299f * src[0] + 0.587f * src[1] + 0.114f * src[2];
      o[0] = g * s.a[0] + s.b[0];
    } else {
      for (int k = 0; k < 3; ++k) o[k] = src[SC == 1 ? 0 : k] * s.a[k] + s.b[k];
    }
  }
}

// Stores n values of a row (interleaved, out_c per pixel) at output pixel pix0.
void StoreRow(const float* row, int width, int out_c, size_t pix0, size_t plane, Layout layout, const Output& out,
              uint8_t* dst, bool simd) {
  const bool nhwc = layout == Layout::kNHWC || out_c == 1;
  const size_t n = static_cast<size_t>(width) * out_c;
  if (out.type == ElemType::kFloat32 && nhwc) {
    std::memcpy(dst + pix0 * out_c * 4, row, n * 4);
    return;
  }
  const float qlo = out.type == ElemType::kInt8 ? -128.0f : 0.0f, qhi = out.type == ElemType::kInt8 ? 127.0f : 255.0f;
  const float zp = static_cast<float>(out.zero_point), scale = out.scale;
  // Converts m values, src[i * ss] -> o[i] (contiguous output: the loops vectorize).
  auto convert = [&](const float* src, size_t ss, size_t m, size_t e0) {
    switch (out.type) {
      case ElemType::kFloat32: {
        float* o = reinterpret_cast<float*>(dst) + e0;
        for (size_t i = 0; i < m; ++i) o[i] = src[i * ss];
        break;
      }
      case ElemType::kFloat16: {
        uint16_t* o = reinterpret_cast<uint16_t*>(dst) + e0;
        for (size_t i = 0; i < m; ++i) o[i] = FloatToHalf(src[i * ss]);
        break;
      }
      default: {
        uint8_t* o = dst + e0;
        for (size_t i = 0; i < m; ++i) {
          float q = src[i * ss] / scale + zp;
          q = std::min(std::max(q, qlo), qhi);
          // round half to even without libm: exact for |q| < 2^22 (q is clamped to [-128, 255])
          q = (q + 12582912.0f) - 12582912.0f;
          o[i] = static_cast<uint8_t>(static_cast<int>(q));
        }
      }
    }
  };
  if (nhwc) {
#if defined(EDGERUN_ARCH_X86)
    if (simd && (out.type == ElemType::kUInt8 || out.type == ElemType::kInt8)) {
      internal::RoiQuantizeAvx2(row, n, scale, zp, qlo, qhi, dst + pix0 * out_c);
      return;
    }
#endif
    convert(row, 1, n, pix0 * out_c);
  } else {
    for (int k = 0; k < out_c; ++k) convert(row + k, out_c, width, k * plane + pix0);
  }
}

}  // namespace

namespace internal {
void RoiInteriorPortable(const RoiRowArgs& a, int u0, int u1, float* row) {
  switch (a.sc * 10 + a.oc) {
    case 11: InteriorPortable<1, 1>(a, u0, u1, row); break;
    case 13: InteriorPortable<1, 3>(a, u0, u1, row); break;
    case 31: InteriorPortable<3, 1>(a, u0, u1, row); break;
    case 33: InteriorPortable<3, 3>(a, u0, u1, row); break;
    case 41: InteriorPortable<4, 1>(a, u0, u1, row); break;
    default: InteriorPortable<4, 3>(a, u0, u1, row); break;
  }
}
}  // namespace internal

Expected<Transform> RotatedRoiTransform(const RotatedRoi& r, int out_w, int out_h, int frame_w, int frame_h) {
  if (!(std::isfinite(r.cx) && std::isfinite(r.cy) && std::isfinite(r.angle)) || !(r.width > 0) ||
      !(r.height > 0) || !std::isfinite(r.width) || !std::isfinite(r.height))
    return InputError("roi: expected (cx, cy, width, height, angle) with finite values and a positive size, got (" +
                      Fmt(r.cx) + ", " + Fmt(r.cy) + ", " + Fmt(r.width) + ", " + Fmt(r.height) + ", " +
                      Fmt(r.angle) + ")");
  if (out_w <= 0 || out_h <= 0) return InputError("out: empty output");
  const double a = r.angle * (3.14159265358979323846 / 180.0), c = std::cos(a), s = std::sin(a);
  const double kx = r.width / out_w, ky = r.height / out_h;
  Transform t;
  // source = centre + R(a) @ ((u - W/2) * kx, (v - H/2) * ky)
  t.m[0] = c * kx;
  t.m[1] = -s * ky;
  t.m[3] = s * kx;
  t.m[4] = c * ky;
  t.m[2] = r.cx - (t.m[0] * out_w / 2 + t.m[1] * out_h / 2);
  t.m[5] = r.cy - (t.m[3] * out_w / 2 + t.m[4] * out_h / 2);
  t.input_width = out_w;
  t.input_height = out_h;
  t.content[0] = t.content[1] = 0;
  t.content[2] = out_w;
  t.content[3] = out_h;
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (int k = 0; k < 4; ++k) {
    double sx, sy;
    t.ToSource((k & 1) ? out_w : 0, (k & 2) ? out_h : 0, &sx, &sy);
    x0 = std::min(x0, sx);
    y0 = std::min(y0, sy);
    x1 = std::max(x1, sx);
    y1 = std::max(y1, sy);
  }
  const int ix0 = static_cast<int>(std::max(0.0, std::floor(x0))), iy0 = static_cast<int>(std::max(0.0, std::floor(y0)));
  const int ix1 = static_cast<int>(std::min<double>(frame_w, std::ceil(x1)));
  const int iy1 = static_cast<int>(std::min<double>(frame_h, std::ceil(y1)));
  t.source_roi[0] = ix0;
  t.source_roi[1] = iy0;
  t.source_roi[2] = std::max(0, ix1 - ix0);
  t.source_roi[3] = std::max(0, iy1 - iy0);
  return t;
}

Expected<Transform> CropRotatedRoi(const Spec& spec, const Image& image, const RotatedRoi& roi, const Output& out) {
  int src_c = 0;
  bool yuv = false;
  switch (spec.format) {
    case PixelFormat::kRGB:
    case PixelFormat::kBGR: src_c = 3; break;
    case PixelFormat::kRGBA:
    case PixelFormat::kBGRA: src_c = 4; break;
    case PixelFormat::kGray: src_c = 1; break;
    case PixelFormat::kNV12:
    case PixelFormat::kNV21:
    case PixelFormat::kI420: src_c = 3; yuv = true; break;
    default:
      return InputError(std::string("format: rotated ROI crops take rgb, bgr, rgba, bgra, gray, nv12, nv21 or i420 "
                                    "frames, got '") +
                        Name(spec.format) + "' (convert the frame first, e.g. with a full-frame Preprocessor)");
  }
  if (!image.data[0] || image.width <= 0 || image.height <= 0) return InputError("frame: empty frame");
  if (yuv && (!image.data[1] || (spec.format == PixelFormat::kI420 && !image.data[2])))
    return InputError(std::string("frame: a ") + Name(spec.format) + " frame without its chroma plane(s)");
  const int out_c = spec.channels == Channels::kGray ? 1 : 3;
  if (out.channels != out_c)
    return InputError("out: expected " + std::to_string(out_c) + " channel(s) for channels='" + Name(spec.channels) +
                      "', got " + std::to_string(out.channels));
  const size_t elem = out.type == ElemType::kFloat32 ? 4 : out.type == ElemType::kFloat16 ? 2 : 1;
  const size_t need = static_cast<size_t>(out.width) * out.height * out_c * elem;
  if (!out.data || out.bytes < need)
    return InputError("out: " + std::to_string(out.bytes) + " bytes, need " + std::to_string(need));
  if ((out.type == ElemType::kUInt8 || out.type == ElemType::kInt8) && !(out.scale > 0))
    return InputError("scale: expected > 0 for an integer output");
  auto tr = RotatedRoiTransform(roi, out.width, out.height, image.width, image.height);
  if (!tr.ok()) return tr.status();
  const Transform t = *tr;
  Transform ts = t;  // output -> the sampled image (the frame, or the converted YUV region)
  Image img = image;
  std::vector<uint8_t> rgb_region;
  if (yuv) {
    // every tap (floor and floor + 1 of a corner position - 0.5) lies in source_roi widened by 1
    const int bx = std::max(0, t.source_roi[0] - 1), by = std::max(0, t.source_roi[1] - 1);
    const int bx1 = std::min(image.width, t.source_roi[0] + t.source_roi[2] + 1);
    const int by1 = std::min(image.height, t.source_roi[1] + t.source_roi[3] + 1);
    const int bw = std::max(1, bx1 - bx), bh = std::max(1, by1 - by);
    if (bx1 <= bx || by1 <= by) {  // the ROI misses the frame: every tap is padding
      rgb_region.assign(3, 0);
      img.width = img.height = 0;
    } else {
      rgb_region.resize(static_cast<size_t>(bw) * bh * 3);
      bool yuv_simd = false;
#if defined(EDGERUN_ARCH_X86)
      yuv_simd = spec.isa != Isa::kScalar && !(spec.isa == Isa::kAuto && SimdDisabledByEnv()) &&
                 DetectCpu().avx2 && DetectCpu().fma;
#endif
      ConvertYuvRegion(spec, image, bx, by, bw, bh, rgb_region.data(), yuv_simd);
      img.width = bw;
      img.height = bh;
    }
    img.data[0] = rgb_region.data();
    img.stride[0] = static_cast<ptrdiff_t>(bw) * 3;
    ts.m[2] -= bx;
    ts.m[5] -= by;
  }
  // Source channel of each RGB component (r, g, b); gray sources repeat one; YUV taps are RGB.
  const bool bgr_src = spec.format == PixelFormat::kBGR || spec.format == PixelFormat::kBGRA;  // YUV: RGB region
  const int comp[3] = {src_c == 1 ? 0 : (bgr_src ? 2 : 0), src_c == 1 ? 0 : 1, src_c == 1 ? 0 : (bgr_src ? 0 : 2)};
  // Pad value per source channel (pad_value is RGB).
  float pad_src[4] = {0, 0, 0, 0};
  if (src_c == 1) {
    pad_src[0] = 0.299f * spec.pad_value[0] + 0.587f * spec.pad_value[1] + 0.114f * spec.pad_value[2];
  } else {
    for (int k = 0; k < 3; ++k) pad_src[comp[k]] = spec.pad_value[k];
    if (src_c == 4) pad_src[3] = 255.0f;
  }
  // Output channel k takes RGB component order[k].
  const int order_rgb[3] = {0, 1, 2}, order_bgr[3] = {2, 1, 0};
  const int* order = spec.channels == Channels::kBGR ? order_bgr : order_rgb;
  const uint8_t* base = img.data[0];
  const ptrdiff_t stride = img.stride[0];
  const int W = img.width, H = img.height;
  float A[3], B[3];  // out = px * A + B = (px - mean) / std
  for (int k = 0; k < out_c; ++k) {
    A[k] = 1.0f / spec.stddev[k];
    B[k] = -spec.mean[k] / spec.stddev[k];
  }
  // Source channel read for each output channel (gray output: the three RGB components).
  int pick[3];
  for (int k = 0; k < 3; ++k) pick[k] = comp[out_c == 1 ? k : order[k]];

  // Kernel: Isa::kScalar = the per-pixel reference everywhere; otherwise bounds-free
  // interiors: AVX2 / NEON where available (kAuto: unless EDGERUN_DISABLE_SIMD), else portable.
  const bool reference = spec.isa == Isa::kScalar;
  internal::RoiRowArgs ra{base, stride, src_c, out_c, 0, 0, ts.m[0], ts.m[3], A, B, pick};
  void (*simd)(const internal::RoiRowArgs&, int, int, float*) = nullptr;
  Isa simd_isa = Isa::kScalar;
#if defined(EDGERUN_ARCH_X86)
  // 32-bit gather offsets: the frame's bytes must be addressable with int32
  const bool fits = std::fabs(static_cast<double>(stride)) * (H + 1) < 2.0e9;
  if (fits && DetectCpu().avx2 && DetectCpu().fma) {
    simd = internal::RoiInteriorAvx2;
    simd_isa = Isa::kAVX2;
  }
#elif defined(EDGERUN_ARCH_ARM64)
  if (DetectCpu().neon) {
    simd = internal::RoiInteriorNeon;
    simd_isa = Isa::kNEON;
  }
#endif
  if ((spec.isa == Isa::kAVX2 || spec.isa == Isa::kNEON) && (simd == nullptr || simd_isa != spec.isa))
    return InputError(std::string("isa: '") + Name(spec.isa) + "' is not available for rotated ROI crops here");
  if (spec.isa == Isa::kAuto && SimdDisabledByEnv()) simd = nullptr;
  void (*interior)(const internal::RoiRowArgs&, int, int, float*) = simd ? simd : internal::RoiInteriorPortable;
  const int margin = internal::RoiRightMargin(src_c);

  const size_t plane = static_cast<size_t>(out.width) * out.height;
  uint8_t* dst = static_cast<uint8_t*>(out.data);
  // float32 rows in pixel-interleaved order are written in place (no row buffer, no copy)
  const bool in_place = out.type == ElemType::kFloat32 && (spec.layout == Layout::kNHWC || out_c == 1) &&
                        reinterpret_cast<uintptr_t>(dst) % alignof(float) == 0;
  std::vector<float> row_buf(in_place ? 0 : static_cast<size_t>(out.width) * out_c);
  for (int v = 0; v < out.height; ++v) {
    float* row = in_place ? reinterpret_cast<float*>(dst) + static_cast<size_t>(v) * out.width * out_c
                          : row_buf.data();
    // Source position of the pixel centre (u + 0.5, v + 0.5), minus 0.5: the tap grid.
    double sx0, sy0;
    ts.ToSource(0.5, v + 0.5, &sx0, &sy0);
    sx0 -= 0.5;
    sy0 -= 0.5;
    const SampleArgs a{base, stride, W, H, pad_src, ts.m[0], ts.m[3], sx0, sy0, A, B, pick};
    {
      int u0 = out.width, u1 = out.width;  // reference: all of the row is "edge"
      if (!reference && W > 0 && H > 0) InteriorRange(sx0, ts.m[0], sy0, ts.m[3], out.width, W, H, margin, &u0, &u1);
      if (u1 <= u0) u0 = u1 = out.width;
      auto edge = [&](int e0, int e1) {
        if (e1 <= e0) return;
        switch (src_c * 10 + out_c) {
          case 11: SampleRow<1, 1>(a, e0, e1, row); break;
          case 13: SampleRow<1, 3>(a, e0, e1, row); break;
          case 31: SampleRow<3, 1>(a, e0, e1, row); break;
          case 33: SampleRow<3, 3>(a, e0, e1, row); break;
          case 41: SampleRow<4, 1>(a, e0, e1, row); break;
          default: SampleRow<4, 3>(a, e0, e1, row); break;
        }
      };
      edge(0, u0);
      if (u1 > u0) {
        ra.sx0 = sx0;
        ra.sy0 = sy0;
        interior(ra, u0, u1, row);
      }
      edge(u1, out.width);
    }
    if (!in_place)
      StoreRow(row, out.width, out_c, static_cast<size_t>(v) * out.width, plane, spec.layout, out, dst,
               !reference && simd_isa == Isa::kAVX2 && simd != nullptr);
  }
  return t;
}

}  // namespace preprocess
}  // namespace edgerun
