// Rotated-ROI crop (see edgerun/roi_crop.h): scalar affine sampling.
#include "edgerun/roi_crop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "edgerun/tensor.h"

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
void SampleRow(const SampleArgs& s, int width, float* row) {
  for (int u = 0; u < width; ++u) {
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

}  // namespace

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
  switch (spec.format) {
    case PixelFormat::kRGB:
    case PixelFormat::kBGR: src_c = 3; break;
    case PixelFormat::kRGBA:
    case PixelFormat::kBGRA: src_c = 4; break;
    case PixelFormat::kGray: src_c = 1; break;
    default:
      return InputError(std::string("format: rotated ROI crops take rgb, bgr, rgba, bgra or gray frames, got '") +
                        Name(spec.format) + "' (convert the frame first, e.g. with a full-frame Preprocessor)");
  }
  if (!image.data[0] || image.width <= 0 || image.height <= 0) return InputError("frame: empty frame");
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
  // Source channel of each RGB component (r, g, b); gray sources repeat one.
  const bool bgr_src = spec.format == PixelFormat::kBGR || spec.format == PixelFormat::kBGRA;
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
  const float qlo = out.type == ElemType::kInt8 ? -128.0f : 0.0f, qhi = out.type == ElemType::kInt8 ? 127.0f : 255.0f;
  const uint8_t* base = image.data[0];
  const ptrdiff_t stride = image.stride[0];
  const int W = image.width, H = image.height;
  float A[3], B[3];  // out = px * A + B = (px - mean) / std
  for (int k = 0; k < out_c; ++k) {
    A[k] = 1.0f / spec.stddev[k];
    B[k] = -spec.mean[k] / spec.stddev[k];
  }
  // Source channel read for each output channel (gray output: the three RGB components).
  int pick[3];
  for (int k = 0; k < 3; ++k) pick[k] = comp[out_c == 1 ? k : order[k]];
  const size_t plane = static_cast<size_t>(out.width) * out.height;
  uint8_t* dst = static_cast<uint8_t*>(out.data);
  std::vector<float> row(static_cast<size_t>(out.width) * out_c);
  for (int v = 0; v < out.height; ++v) {
    // Source position of the pixel centre (u + 0.5, v + 0.5), minus 0.5: the tap grid.
    double sx0, sy0;
    t.ToSource(0.5, v + 0.5, &sx0, &sy0);
    sx0 -= 0.5;
    sy0 -= 0.5;
    const SampleArgs a{base, stride, W, H, pad_src, t.m[0], t.m[3], sx0, sy0, A, B, pick};
    switch (src_c * 10 + out_c) {
      case 11: SampleRow<1, 1>(a, out.width, row.data()); break;
      case 13: SampleRow<1, 3>(a, out.width, row.data()); break;
      case 31: SampleRow<3, 1>(a, out.width, row.data()); break;
      case 33: SampleRow<3, 3>(a, out.width, row.data()); break;
      case 41: SampleRow<4, 1>(a, out.width, row.data()); break;
      default: SampleRow<4, 3>(a, out.width, row.data()); break;
    }
    // Store the row in the output's type and layout.
    const size_t pix0 = static_cast<size_t>(v) * out.width;
    const size_t n = row.size();
    if (out.type == ElemType::kFloat32 && (spec.layout == Layout::kNHWC || out_c == 1)) {
      std::memcpy(dst + pix0 * out_c * 4, row.data(), n * 4);
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t pix = pix0 + i / out_c, k = i % out_c;
      const size_t e = spec.layout == Layout::kNHWC ? pix * out_c + k : k * plane + pix;
      const float val = row[i];
      switch (out.type) {
        case ElemType::kFloat32: std::memcpy(dst + e * 4, &val, 4); break;
        case ElemType::kFloat16: {
          const uint16_t h = FloatToHalf(val);
          std::memcpy(dst + e * 2, &h, 2);
          break;
        }
        default: {
          float q = val / out.scale + static_cast<float>(out.zero_point);
          q = std::min(std::max(q, qlo), qhi);
          const int qi = static_cast<int>(std::nearbyint(q));
          if (out.type == ElemType::kUInt8) {
            dst[e] = static_cast<uint8_t>(qi);
          } else {
            const int8_t s8 = static_cast<int8_t>(qi);
            std::memcpy(dst + e, &s8, 1);
          }
        }
      }
    }
  }
  return t;
}

}  // namespace preprocess
}  // namespace edgerun
