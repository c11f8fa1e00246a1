// Rotated-ROI crop (see edgerun/roi_crop.h): scalar affine sampling.
#include "edgerun/roi_crop.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "edgerun/tensor.h"

namespace edgerun {
namespace preprocess {

namespace {

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Expected<Transform> RotatedRoiTransform(const RotatedRoi& r, int out_w, int out_h, int frame_w, int frame_h) {
  if (!(std::isfinite(r.cx) && std::isfinite(r.cy) && std::isfinite(r.angle)) || !(r.width > 0) ||
      !(r.height > 0) || !std::isfinite(r.width) || !std::isfinite(r.height))
    return InputError("roi: expected (cx, cy, width, height, angle) with finite values and a positive size, got (" +
                      Fmt(r.cx) + ", " + Fmt(r.cy) + ", " + Fmt(r.width) + ", " + Fmt(r.height) + ", " +
                      Fmt(r.angle) + ")");
  if (out_w <= 0 || out_h <= 0) return InputError("out: empty output");
  const double a = r.angle * M_PI / 180.0, c = std::cos(a), s = std::sin(a);
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
  auto tap = [&](int x, int y, int ch) -> float {
    if (x < 0 || y < 0 || x >= W || y >= H) return pad_src[ch];
    return base[y * stride + static_cast<ptrdiff_t>(x) * src_c + ch];
  };
  const size_t plane = static_cast<size_t>(out.width) * out.height;
  uint8_t* dst = static_cast<uint8_t*>(out.data);
  for (int v = 0; v < out.height; ++v) {
    for (int u = 0; u < out.width; ++u) {
      double sx, sy;
      t.ToSource(u + 0.5, v + 0.5, &sx, &sy);
      const double fx = sx - 0.5, fy = sy - 0.5;
      const double flx = std::floor(fx), fly = std::floor(fy);
      // Far outside: every tap is padding (also keeps the int conversion in range).
      float src[4];
      if (flx < -2 || fly < -2 || flx > W + 1 || fly > H + 1) {
        for (int ch = 0; ch < src_c; ++ch) src[ch] = pad_src[ch];
      } else {
        const int x0 = static_cast<int>(flx), y0 = static_cast<int>(fly);
        const float wx = static_cast<float>(fx - flx), wy = static_cast<float>(fy - fly);
        for (int ch = 0; ch < src_c; ++ch) {
          const float top = tap(x0, y0, ch) + (tap(x0 + 1, y0, ch) - tap(x0, y0, ch)) * wx;
          const float bot = tap(x0, y0 + 1, ch) + (tap(x0 + 1, y0 + 1, ch) - tap(x0, y0 + 1, ch)) * wx;
          src[ch] = top + (bot - top) * wy;
        }
      }
      float rgb[3] = {src[comp[0]], src[comp[1]], src[comp[2]]};
      float px[3];
      if (out_c == 1) {
        px[0] = src_c == 1 ? src[0] : 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      } else {
        for (int k = 0; k < 3; ++k) px[k] = rgb[order[k]];
      }
      const size_t pix = static_cast<size_t>(v) * out.width + u;
      for (int k = 0; k < out_c; ++k) {
        const float val = (px[k] - spec.mean[k]) / spec.stddev[k];
        const size_t e = spec.layout == Layout::kNHWC ? pix * out_c + k : k * plane + pix;
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
  }
  return t;
}

}  // namespace preprocess
}  // namespace edgerun
