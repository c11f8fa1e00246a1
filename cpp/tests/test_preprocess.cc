// Reference semantics of edgerun::preprocess, checked against hand-computed
// values (the scalar kernel is forced; SIMD kernels are compared with it in
// test_preprocess_simd.cc).
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "edgerun/preprocess.h"
#include "preprocess/plan.h"

using namespace edgerun::preprocess;

namespace {

Spec Ident(PixelFormat f) {  // mean 0, std 1: outputs in pixel units
  Spec s;
  s.format = f;
  for (int c = 0; c < 3; ++c) { s.mean[c] = 0.f; s.stddev[c] = 1.f; }
  s.isa = Isa::kScalar;
  return s;
}

Image Packed(const std::vector<uint8_t>& buf, PixelFormat f, int w, int h, ptrdiff_t stride = 0) {
  if (stride == 0) stride = PlaneRowBytes(f, w, 0);
  auto r = ImageFromBuffer(f, buf.data(), w, h, stride, buf.size());
  CHECK_MSG(r.ok(), "%s", r.status().message().c_str());
  return r.ok() ? r.value() : Image();
}

template <class T>
std::vector<T> RunT(const Spec& spec, const Image& img, int ow, int oh, ElemType type, float scale = 1.f, int zp = 0,
                    Transform* tr = nullptr, edgerun::Status* st = nullptr) {
  const int C = spec.channels == Channels::kGray ? 1 : 3;
  std::vector<T> out(static_cast<size_t>(ow) * oh * C, T(0));
  auto pre = Preprocessor::Create(spec);
  if (!pre.ok()) {
    if (st) *st = pre.status();
    else CHECK_MSG(false, "Create: %s", pre.status().message().c_str());
    return out;
  }
  Output o;
  o.data = out.data();
  o.type = type;
  o.width = ow;
  o.height = oh;
  o.channels = C;
  o.bytes = out.size() * sizeof(T);
  o.scale = scale;
  o.zero_point = zp;
  auto r = pre.value()->Run(img, o);
  if (st) *st = r.ok() ? edgerun::Status::Ok() : r.status();
  else CHECK_MSG(r.ok(), "Run: %s", r.status().message().c_str());
  if (tr && r.ok()) *tr = r.value();
  return out;
}

std::vector<uint8_t> Seq(size_t n, int mul = 37, int add = 11) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * mul + add) & 255);
  return v;
}

}  // namespace

TEST(identity_uint8_is_exact_copy) {
  const int w = 7, h = 5;
  auto src = Seq(w * h * 3);
  auto out = RunT<uint8_t>(Ident(PixelFormat::kRGB), Packed(src, PixelFormat::kRGB, w, h), w, h, ElemType::kUInt8);
  CHECK(out == src);
  // BGR source, RGB output: channels swap.
  auto out2 = RunT<uint8_t>(Ident(PixelFormat::kBGR), Packed(src, PixelFormat::kBGR, w, h), w, h, ElemType::kUInt8);
  bool ok = true;
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) ok &= out2[i * 3 + c] == src[i * 3 + 2 - c];
  CHECK(ok);
  // RGBA -> BGR drops alpha and reorders.
  auto src4 = Seq(w * h * 4, 13, 5);
  Spec s = Ident(PixelFormat::kRGBA);
  s.channels = Channels::kBGR;
  auto out3 = RunT<uint8_t>(s, Packed(src4, PixelFormat::kRGBA, w, h), w, h, ElemType::kUInt8);
  ok = true;
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) ok &= out3[i * 3 + c] == src4[i * 4 + 2 - c];
  CHECK(ok);
}

TEST(downscale_2x_is_box_average) {
  const int w = 4, h = 4;
  auto src = Seq(w * h * 3, 29, 3);
  auto out = RunT<float>(Ident(PixelFormat::kRGB), Packed(src, PixelFormat::kRGB, w, h), 2, 2, ElemType::kFloat32);
  bool ok = true;
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x)
      for (int c = 0; c < 3; ++c) {
        auto at = [&](int xx, int yy) { return src[(yy * w + xx) * 3 + c]; };
        const float e = (at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1)) / 4.f;
        ok &= out[(y * 2 + x) * 3 + c] == e;
      }
  CHECK(ok);
}

TEST(bilinear_fixed_point_weights) {
  // 4 -> 3 columns, gray: u = (d + 0.5) * 4/3 - 0.5; weights rounded to 1/128.
  std::vector<uint8_t> src = {10, 200, 40, 255};
  Spec s = Ident(PixelFormat::kGray);
  s.channels = Channels::kGray;
  auto out = RunT<float>(s, Packed(src, PixelFormat::kGray, 4, 1), 3, 1, ElemType::kFloat32);
  bool ok = true;
  for (int d = 0; d < 3; ++d) {
    const double u = (d + 0.5) * 4.0 / 3.0 - 0.5;
    const int i0 = static_cast<int>(std::floor(u));
    const int wb = static_cast<int>(std::lround((u - i0) * 128));
    const float e = static_cast<float>((src[i0] * (128 - wb) + src[i0 + 1] * wb)) / 128.f;
    ok &= out[d] == e;
  }
  CHECK(ok);
  // 1 -> 4 upscale of one column clamps (OpenCV border replicate).
  std::vector<uint8_t> one = {77};
  auto up = RunT<float>(s, Packed(one, PixelFormat::kGray, 1, 1), 4, 3, ElemType::kFloat32);
  ok = true;
  for (float v : up) ok &= v == 77.f;
  CHECK(ok);
}

static void YuvToRgb601(double Y, double U, double V, double* rgb) {
  const double cy = 1220542.0 / 1048576, crv = 1673527.0 / 1048576, cgv = -852492.0 / 1048576,
               cgu = -409993.0 / 1048576, cbu = 2116026.0 / 1048576;
  rgb[0] = cy * (Y - 16) + crv * (V - 128);
  rgb[1] = cy * (Y - 16) + cgu * (U - 128) + cgv * (V - 128);
  rgb[2] = cy * (Y - 16) + cbu * (U - 128);
  for (int c = 0; c < 3; ++c) rgb[c] = std::min(255.0, std::max(0.0, rgb[c]));
}

TEST(nv12_matrix_and_chroma_sharing) {
  // 4x2 NV12: Y per pixel, one (U, V) per 2x2 block; output same size -> exact per-pixel conversion.
  const int w = 4, h = 2;
  std::vector<uint8_t> buf = {16, 100, 235, 60, 90, 128, 200, 30,  // Y rows
                              90, 170, 200, 40};                   // U0 V0 U1 V1
  for (PixelFormat f : {PixelFormat::kNV12, PixelFormat::kNV21}) {
    auto out = RunT<float>(Ident(f), Packed(buf, f, w, h), w, h, ElemType::kFloat32);
    bool ok = true;
    double maxerr = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int U = buf[8 + (x / 2) * 2], V = buf[8 + (x / 2) * 2 + 1];
        if (f == PixelFormat::kNV21) std::swap(U, V);
        double rgb[3];
        YuvToRgb601(buf[y * w + x], U, V, rgb);
        for (int c = 0; c < 3; ++c) maxerr = std::max(maxerr, std::fabs(out[(y * w + x) * 3 + c] - rgb[c]));
      }
    ok = maxerr < 2e-3;
    CHECK_MSG(ok, "%s max error %g", Name(f), maxerr);
  }
  // Gray output from YUV = luma as is (OpenCV COLOR_YUV2GRAY_NV12).
  Spec s = Ident(PixelFormat::kNV12);
  s.channels = Channels::kGray;
  auto g = RunT<uint8_t>(s, Packed(buf, PixelFormat::kNV12, w, h), w, h, ElemType::kUInt8);
  CHECK(std::memcmp(g.data(), buf.data(), 8) == 0);
}

TEST(yuv_luma_below_16_clamps_like_opencv) {
  // Y = 0 (below limited range) behaves as Y = 16 (OpenCV: max(0, Y - 16)).
  std::vector<uint8_t> buf = {0, 0, 0, 0, 128, 200};
  for (YuvSampling ys : {YuvSampling::kYuv, YuvSampling::kRgb}) {
    Spec s = Ident(PixelFormat::kNV12);
    s.yuv_sampling = ys;
    auto out = RunT<float>(s, Packed(buf, PixelFormat::kNV12, 2, 2), 2, 2, ElemType::kFloat32);
    double rgb[3];
    YuvToRgb601(16, 128, 200, rgb);
    const double tol = ys == YuvSampling::kYuv ? 2e-3 : 0.5;  // kRgb rounds each tap to uint8
    CHECK_MSG(std::fabs(out[0] - rgb[0]) < tol && std::fabs(out[1] - rgb[1]) < tol && std::fabs(out[2] - rgb[2]) < tol,
              "%s: %g %g %g vs %g %g %g", Name(ys), out[0], out[1], out[2], rgb[0], rgb[1], rgb[2]);
  }
}

TEST(yuv_rgb_sampling_converts_each_tap) {
  // Two 2x2 blocks of saturating colours; 4 -> 2 columns averages converted pixels,
  // not converted averages.
  const int w = 4, h = 2;
  std::vector<uint8_t> buf = {81, 145, 41, 41, 81, 145, 41, 41,  // Y
                              90, 240, 240, 110};                // (U0, V0), (U1, V1)
  Spec s = Ident(PixelFormat::kNV12);
  s.yuv_sampling = YuvSampling::kRgb;
  auto out = RunT<float>(s, Packed(buf, PixelFormat::kNV12, w, h), 2, 1, ElemType::kFloat32);
  for (int px = 0; px < 2; ++px)
    for (int c = 0; c < 3; ++c) {
      double sum = 0;
      for (int k = 0; k < 2; ++k) {
        double rgb[3];
        YuvToRgb601(buf[px * 2 + k], buf[8 + px * 2], buf[9 + px * 2], rgb);
        sum += std::nearbyint(rgb[c]);
      }
      CHECK_MSG(std::fabs(out[px * 3 + c] - sum / 2) <= 1.0, "px %d c %d: %g vs %g", px, c, out[px * 3 + c], sum / 2);
    }
}

TEST(i420_yuyv_uyvy_match_nv12) {
  const int w = 6, h = 4;
  auto Y = Seq(w * h, 53, 7);
  std::vector<uint8_t> U(w / 2 * h / 2), V(w / 2 * h / 2);
  for (size_t i = 0; i < U.size(); ++i) { U[i] = static_cast<uint8_t>(60 + 17 * i); V[i] = static_cast<uint8_t>(220 - 13 * i); }
  std::vector<uint8_t> nv12(Y), i420(Y);
  for (size_t i = 0; i < U.size(); ++i) { nv12.push_back(U[i]); nv12.push_back(V[i]); }
  i420.insert(i420.end(), U.begin(), U.end());
  i420.insert(i420.end(), V.begin(), V.end());
  // 4:2:2 with each chroma row duplicated = same picture as 4:2:0.
  std::vector<uint8_t> yuyv(w * h * 2), uyvy(w * h * 2);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t c = (y / 2) * (w / 2) + x / 2;
      yuyv[(y * w + x) * 2] = Y[y * w + x];
      yuyv[(y * w + x) * 2 + 1] = (x & 1) ? V[c] : U[c];
      uyvy[(y * w + x) * 2 + 1] = Y[y * w + x];
      uyvy[(y * w + x) * 2] = (x & 1) ? V[c] : U[c];
    }
  for (int rot : {0, 90}) {
    Spec s = Ident(PixelFormat::kNV12);
    s.rotate = rot;
    auto ref = RunT<float>(s, Packed(nv12, PixelFormat::kNV12, w, h), 5, 3, ElemType::kFloat32);
    for (PixelFormat f : {PixelFormat::kI420, PixelFormat::kYUYV, PixelFormat::kUYVY}) {
      s.format = f;
      const auto& b = f == PixelFormat::kI420 ? i420 : f == PixelFormat::kYUYV ? yuyv : uyvy;
      auto out = RunT<float>(s, Packed(b, f, w, h), 5, 3, ElemType::kFloat32);
      CHECK_MSG(out == ref, "%s rotate %d differs from nv12", Name(f), rot);
    }
  }
}

TEST(rotation_and_flip_permute_pixels) {
  const int w = 3, h = 2;
  std::vector<uint8_t> src = {0, 1, 2, 3, 4, 5};  // src(x, y) = y*3 + x
  Spec s = Ident(PixelFormat::kGray);
  s.channels = Channels::kGray;
  struct Case { int rot; bool flip; };
  for (Case c : {Case{0, false}, Case{90, false}, Case{180, false}, Case{270, false}, Case{0, true}, Case{90, true},
                 Case{180, true}, Case{270, true}}) {
    s.rotate = c.rot;
    s.flip = c.flip;
    const bool tr = c.rot == 90 || c.rot == 270;
    const int ow = tr ? h : w, oh = tr ? w : h;
    auto out = RunT<uint8_t>(s, Packed(src, PixelFormat::kGray, w, h), ow, oh, ElemType::kUInt8);
    bool ok = true;
    for (int v = 0; v < oh; ++v)
      for (int u = 0; u < ow; ++u) {
        int x, y;  // oriented (u, v) -> flipped-source (x, y)
        switch (c.rot) {
          case 0: x = u; y = v; break;
          case 90: x = v; y = h - 1 - u; break;
          case 180: x = w - 1 - u; y = h - 1 - v; break;
          default: x = w - 1 - v; y = u; break;
        }
        if (c.flip) x = w - 1 - x;
        ok &= out[v * ow + u] == src[y * w + x];
      }
    CHECK_MSG(ok, "rotate %d flip %d", c.rot, c.flip);
  }
}

TEST(letterbox_crop_roi_geometry) {
  std::vector<uint8_t> src = {10, 20, 30, 40, 50, 60, 70, 80};  // 4x2 gray
  Spec s = Ident(PixelFormat::kGray);
  s.channels = Channels::kGray;
  s.fit = Fit::kLetterbox;
  s.pad_value[0] = s.pad_value[1] = s.pad_value[2] = 7;
  Transform t;
  auto out = RunT<uint8_t>(s, Packed(src, PixelFormat::kGray, 4, 2), 4, 4, ElemType::kUInt8, 1.f, 0, &t);
  std::vector<uint8_t> e = {7, 7, 7, 7, 10, 20, 30, 40, 50, 60, 70, 80, 7, 7, 7, 7};
  CHECK(out == e);
  CHECK(t.content[0] == 0 && t.content[1] == 1 && t.content[2] == 4 && t.content[3] == 2);
  double sx, sy;
  t.ToSource(4, 3, &sx, &sy);
  CHECK(sx == 4 && sy == 2);
  double x, y;
  t.ToInput(1.5, 0.5, &x, &y);
  CHECK(std::fabs(x - 1.5) < 1e-12 && std::fabs(y - 1.5) < 1e-12);

  // Crop (center, keep aspect): 4x2 -> 2x2 takes columns 1..2.
  s.fit = Fit::kCrop;
  out = RunT<uint8_t>(s, Packed(src, PixelFormat::kGray, 4, 2), 2, 2, ElemType::kUInt8, 1.f, 0, &t);
  CHECK((out == std::vector<uint8_t>{20, 30, 60, 70}));
  CHECK(t.source_roi[0] == 1 && t.source_roi[2] == 2);

  // Roi first, then the rest.
  s.fit = Fit::kStretch;
  s.has_roi = true;
  s.roi = Roi{2, 0, 2, 2};
  out = RunT<uint8_t>(s, Packed(src, PixelFormat::kGray, 4, 2), 2, 2, ElemType::kUInt8);
  CHECK((out == std::vector<uint8_t>{30, 40, 70, 80}));

  // Letterbox with rgb pad and normalization: pad (255, 0, 127.5) -> ((p - 127.5) / 127.5).
  Spec r;
  r.format = PixelFormat::kGray;
  r.fit = Fit::kLetterbox;
  r.pad_value[0] = 255; r.pad_value[1] = 0; r.pad_value[2] = 127.5f;
  r.isa = Isa::kScalar;
  auto f = RunT<float>(r, Packed(src, PixelFormat::kGray, 4, 2), 4, 4, ElemType::kFloat32);
  CHECK(f[0] == 1.f && f[1] == -1.f && f[2] == 0.f);
}

TEST(transform_rotation_maps_pixel_centres) {
  std::vector<uint8_t> src(6 * 4 * 3, 0);
  Spec s = Ident(PixelFormat::kRGB);
  s.rotate = 90;
  s.has_roi = true;
  s.roi = Roi{1, 1, 4, 2};
  Transform t;
  RunT<float>(s, Packed(src, PixelFormat::kRGB, 6, 4), 4, 8, ElemType::kFloat32, 1.f, 0, &t);
  // Output (u, v) centre at scale 2 along both axes: oriented (u/2, v/2) -> source x = v/2, y = 2 - u/2, + roi.
  double sx, sy;
  t.ToSource(0.5, 0.5, &sx, &sy);
  CHECK(std::fabs(sx - (1 + 0.25)) < 1e-12 && std::fabs(sy - (1 + 2 - 0.25)) < 1e-12);
  double x, y;
  t.ToInput(sx, sy, &x, &y);
  CHECK(std::fabs(x - 0.5) < 1e-12 && std::fabs(y - 0.5) < 1e-12);
}

TEST(quantization_rounding_and_clamping) {
  std::vector<uint8_t> src = {0, 64, 128, 255, 3, 5};
  Spec s = Ident(PixelFormat::kGray);
  s.channels = Channels::kGray;
  auto q = RunT<int8_t>(s, Packed(src, PixelFormat::kGray, 6, 1), 6, 1, ElemType::kInt8, 2.f, -10);
  // q = clamp(rne(px / 2) - 10): 3/2 = 1.5 -> 2, 5/2 = 2.5 -> 2, 255/2 = 127.5 -> 128
  CHECK((q == std::vector<int8_t>{-10, 22, 54, 118, -8, -8}));
  auto c = RunT<int8_t>(s, Packed(src, PixelFormat::kGray, 6, 1), 6, 1, ElemType::kInt8, 0.5f, 0);
  CHECK(c[0] == 0 && c[1] == 127 && c[3] == 127);
  auto u = RunT<uint8_t>(s, Packed(src, PixelFormat::kGray, 6, 1), 6, 1, ElemType::kUInt8, 1.f / 255, 0);
  CHECK(u[0] == 0 && u[3] == 255 && u[1] == 255);
  // Mean/std per channel with uint8 output, zero point.
  Spec m = Ident(PixelFormat::kRGB);
  m.mean[0] = 10; m.mean[1] = 20; m.mean[2] = 30;
  m.stddev[0] = 1; m.stddev[1] = 2; m.stddev[2] = 4;
  std::vector<uint8_t> px = {50, 60, 70};
  auto v = RunT<uint8_t>(m, Packed(px, PixelFormat::kRGB, 1, 1), 1, 1, ElemType::kUInt8, 1.f, 100);
  CHECK(v[0] == 140 && v[1] == 120 && v[2] == 110);
}

TEST(float16_output_and_conversion) {
  using edgerun::FloatToHalf;
  using edgerun::HalfToFloat;
  CHECK(FloatToHalf(1.0f) == 0x3c00);
  CHECK(FloatToHalf(-2.0f) == 0xc000);
  CHECK(FloatToHalf(65504.f) == 0x7bff);
  CHECK(FloatToHalf(65520.f) == 0x7c00);
  CHECK(FloatToHalf(5.9604645e-8f) == 0x0001);
  CHECK(FloatToHalf(1.0f + 1.0f / 2048) == 0x3c00);      // tie -> even
  CHECK(FloatToHalf(1.0f + 3.0f / 2048) == 0x3c02);      // tie -> even (up)
  bool ok = true;
  for (uint32_t hbits = 0; hbits < 0x7c00; ++hbits) ok &= FloatToHalf(HalfToFloat(static_cast<uint16_t>(hbits))) == hbits;
  CHECK(ok);
  std::vector<uint8_t> src = {0, 255, 128};
  Spec s;
  s.format = PixelFormat::kGray;
  s.channels = Channels::kGray;
  s.isa = Isa::kScalar;
  auto h = RunT<uint16_t>(s, Packed(src, PixelFormat::kGray, 3, 1), 3, 1, ElemType::kFloat16);
  CHECK(HalfToFloat(h[0]) == -1.f && HalfToFloat(h[1]) == 1.f);
  CHECK(std::fabs(HalfToFloat(h[2]) - 0.5f / 127.5f) < 1e-4);
}

TEST(gray_conversions) {
  std::vector<uint8_t> src = {200, 100, 50};
  Spec s = Ident(PixelFormat::kRGB);
  s.channels = Channels::kGray;
  auto g = RunT<float>(s, Packed(src, PixelFormat::kRGB, 1, 1), 1, 1, ElemType::kFloat32);
  const float e = (200 * 4899 + 100 * 9617 + 50 * 1868) / 16384.f;
  CHECK(std::fabs(g[0] - e) < 1e-3);
  Spec t = Ident(PixelFormat::kGray);
  std::vector<uint8_t> one = {42};
  auto rgb = RunT<uint8_t>(t, Packed(one, PixelFormat::kGray, 1, 1), 1, 1, ElemType::kUInt8);
  CHECK((rgb == std::vector<uint8_t>{42, 42, 42}));
}

TEST(nchw_layout) {
  const int w = 3, h = 2;
  auto src = Seq(w * h * 3);
  Spec s = Ident(PixelFormat::kRGB);
  s.layout = Layout::kNCHW;
  auto out = RunT<uint8_t>(s, Packed(src, PixelFormat::kRGB, w, h), w, h, ElemType::kUInt8);
  bool ok = true;
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) ok &= out[c * w * h + i] == src[i * 3 + c];
  CHECK(ok);
}

TEST(area_downscale_box_average) {
  const int w = 6, h = 4;
  auto src = Seq(w * h, 71, 9);
  Spec s = Ident(PixelFormat::kGray);
  s.channels = Channels::kGray;
  s.interpolation = Interpolation::kArea;
  auto out = RunT<float>(s, Packed(src, PixelFormat::kGray, w, h), 2, 2, ElemType::kFloat32);
  bool ok = true;
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) {
      int sum = 0;
      for (int yy = 0; yy < 2; ++yy)
        for (int xx = 0; xx < 3; ++xx) sum += src[(2 * y + yy) * w + 3 * x + xx];
      ok &= std::fabs(out[y * 2 + x] - sum / 6.f) < 1e-4;
    }
  CHECK(ok);
  // Fractional scale: 3 -> 2, OpenCV's area weights (2/3, 1/3) and (1/3, 2/3).
  std::vector<uint8_t> r = {30, 90, 150};
  auto o2 = RunT<float>(s, Packed(r, PixelFormat::kGray, 3, 1), 2, 1, ElemType::kFloat32);
  CHECK(std::fabs(o2[0] - 50.f) < 1e-3 && std::fabs(o2[1] - 130.f) < 1e-3);
}

TEST(nearest_uses_half_pixel_centres) {
  std::vector<uint8_t> src = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  Spec s = Ident(PixelFormat::kGray);
  s.channels = Channels::kGray;
  s.interpolation = Interpolation::kNearest;
  auto out = RunT<uint8_t>(s, Packed(src, PixelFormat::kGray, 9, 1), 3, 1, ElemType::kUInt8);
  CHECK((out == std::vector<uint8_t>{1, 4, 7}));  // floor((d + 0.5) * 3)
}

TEST(strided_frames_and_buffers) {
  // NV12 with padded rows == the same frame without padding.
  const int w = 6, h = 4, stride = 9;
  std::vector<uint8_t> tight(w * h * 3 / 2), padded(stride * h * 3 / 2, 0xEE);
  for (size_t i = 0; i < tight.size(); ++i) tight[i] = static_cast<uint8_t>(i * 19 + 3);
  for (int r = 0; r < h * 3 / 2; ++r) std::memcpy(&padded[r * stride], &tight[r * w], w);
  auto a = RunT<float>(Ident(PixelFormat::kNV12), Packed(tight, PixelFormat::kNV12, w, h), 5, 3, ElemType::kFloat32);
  auto b = RunT<float>(Ident(PixelFormat::kNV12), Packed(padded, PixelFormat::kNV12, w, h, stride), 5, 3,
                       ElemType::kFloat32);
  CHECK(a == b);
  // A buffer one byte short is refused.
  auto img = ImageFromBuffer(PixelFormat::kNV12, padded.data(), w, h, stride, (h * 3 / 2 - 1) * stride + w - 1);
  CHECK(!img.ok() && img.status().code() == edgerun::Code::kInputError);
  // I420 chroma stride is half the luma stride.
  std::vector<uint8_t> i420(8 * 4 * 3 / 2);
  auto im = ImageFromBuffer(PixelFormat::kI420, i420.data(), 6, 4, 8, i420.size());
  CHECK(im.ok() && im.value().stride[1] == 4 && im.value().data[2] == i420.data() + 32 + 8);
}

TEST(threads_give_identical_results) {
  const int w = 203, h = 151;
  auto src = Seq(w * h * 3, 97, 1);
  Spec s;
  s.format = PixelFormat::kBGR;
  s.isa = Isa::kAuto;
  auto a = RunT<float>(s, Packed(src, PixelFormat::kBGR, w, h), 97, 61, ElemType::kFloat32);
  s.threads = 3;
  auto b = RunT<float>(s, Packed(src, PixelFormat::kBGR, w, h), 97, 61, ElemType::kFloat32);
  CHECK(a == b);
  // Rotated outputs are written in tiles of lines; tiles must not cross thread ranges.
  for (Layout l : {Layout::kNHWC, Layout::kNCHW}) {
    Spec r;
    r.format = PixelFormat::kBGR;
    r.rotate = 90;
    r.layout = l;
    r.fit = Fit::kLetterbox;
    auto c = RunT<uint8_t>(r, Packed(src, PixelFormat::kBGR, w, h), 101, 83, ElemType::kUInt8, 0.01f);
    r.threads = 3;
    auto d = RunT<uint8_t>(r, Packed(src, PixelFormat::kBGR, w, h), 101, 83, ElemType::kUInt8, 0.01f);
    r.threads = 1;
    r.isa = Isa::kScalar;
    auto e = RunT<uint8_t>(r, Packed(src, PixelFormat::kBGR, w, h), 101, 83, ElemType::kUInt8, 0.01f);
    CHECK(c == d && c == e);
  }
  // Area: every thread keeps its own accumulator rows; rotated and not.
  for (int rot : {0, 270}) {
    Spec r;
    r.format = PixelFormat::kBGR;
    r.interpolation = Interpolation::kArea;
    r.rotate = rot;
    auto c = RunT<float>(r, Packed(src, PixelFormat::kBGR, w, h), 67, 41, ElemType::kFloat32);
    r.threads = 3;
    auto d = RunT<float>(r, Packed(src, PixelFormat::kBGR, w, h), 67, 41, ElemType::kFloat32);
    r.threads = 1;
    r.isa = Isa::kScalar;
    auto e = RunT<float>(r, Packed(src, PixelFormat::kBGR, w, h), 67, 41, ElemType::kFloat32);
    CHECK(c == d && c == e);
  }
}

TEST(errors_name_what_was_expected) {
  using edgerun::Code;
  Spec s;
  s.rotate = 45;
  auto p = Preprocessor::Create(s);
  CHECK(!p.ok() && p.status().code() == Code::kInputError && p.status().message().find("rotate") != std::string::npos);
  s = Spec();
  s.stddev[1] = 0;
  CHECK(!Preprocessor::Create(s).ok());
  s = Spec();
  s.pad_value[0] = 300;
  CHECK(!Preprocessor::Create(s).ok());

  std::vector<uint8_t> src(8 * 6 * 3, 1);
  edgerun::Status st;
  Spec r;
  r.has_roi = true;
  r.roi = Roi{4, 0, 5, 2};  // x + w > 8
  RunT<float>(r, Packed(src, PixelFormat::kRGB, 8, 6), 4, 4, ElemType::kFloat32, 1.f, 0, nullptr, &st);
  CHECK(st.code() == Code::kInputError && st.message().find("roi") != std::string::npos);
  // Wrong channel count / too small output.
  auto pre = Preprocessor::Create(Spec()).value().release();
  std::unique_ptr<Preprocessor> holder(pre);
  std::vector<float> out(4 * 4 * 3);
  Output o;
  o.data = out.data(); o.width = 4; o.height = 4; o.channels = 1; o.bytes = out.size() * 4;
  auto res = pre->Run(Packed(src, PixelFormat::kRGB, 8, 6), o);
  CHECK(!res.ok() && res.status().message().find("channel") != std::string::npos);
  o.channels = 3;
  o.bytes = 10;
  res = pre->Run(Packed(src, PixelFormat::kRGB, 8, 6), o);
  CHECK(!res.ok() && res.status().message().find("bytes") != std::string::npos);
  o.bytes = out.size() * 4;
  o.type = ElemType::kInt8;
  o.scale = 0;
  res = pre->Run(Packed(src, PixelFormat::kRGB, 8, 6), o);
  CHECK(!res.ok() && res.status().message().find("scale") != std::string::npos);
  // Odd NV12 frame.
  auto im = ImageFromBuffer(PixelFormat::kNV12, src.data(), 5, 4, 5, src.size());
  CHECK(!im.ok() && im.status().message().find("even") != std::string::npos);
  CHECK(!ParsePixelFormat("nv16").ok());
  CHECK(ParsePixelFormat("NV12").ok() && ParsePixelFormat("NV12").value() == PixelFormat::kNV12);
}

// Options are spelled by one name table each; arrays are interpreted by the core
// (the bindings only describe numpy's fields).
TEST(option_names_and_array_interpretation) {
  CHECK(std::string(Name(Fit::kLetterbox)) == "letterbox");
  auto bad = ParseFit("zoom");
  CHECK(!bad.ok() && bad.status().message() == "fit: expected one of 'stretch', 'letterbox' or 'crop'; got 'zoom'");
  Spec s;
  s.format = static_cast<PixelFormat>(42);
  auto p = Preprocessor::Create(s);
  CHECK(!p.ok() && p.status().message().find("format: expected one of 'rgb'") == 0);
  s = Spec();
  s.threads = 0;
  p = Preprocessor::Create(s);
  CHECK(!p.ok() && p.status().message() == "threads: expected 1..64, got 0");

  std::vector<uint8_t> px(6 * 4 * 3);
  ArrayDesc a;
  a.data = px.data();
  a.kind = 'u';
  a.itemsize = 1;
  a.ndim = 3;
  const int64_t shape[3] = {6, 4, 3}, strides[3] = {12, 3, 1};
  for (int i = 0; i < 3; ++i) { a.shape[i] = shape[i]; a.strides[i] = strides[i]; }
  a.nbytes = px.size();
  auto img = FrameFromArray(PixelFormat::kBGR, a);
  CHECK(img.ok() && img->width == 4 && img->height == 6 && img->stride[0] == 12);
  auto nv = FrameFromArray(PixelFormat::kNV12, a);
  CHECK(!nv.ok() && nv.status().message() == "frame: format 'nv12' expects a uint8 array of shape (H*3/2, W), got (6, 4, 3)");
  a.kind = 'f';
  a.itemsize = 4;
  CHECK(!FrameFromArray(PixelFormat::kBGR, a).ok());
  auto out = OutputFromArray(Spec(), a);  // float32 (6, 4, 3): H=6, W=4
  CHECK(out.ok() && out->width == 4 && out->height == 6 && out->type == ElemType::kFloat32);
  a.writable = false;
  CHECK(!OutputFromArray(Spec(), a).ok());
  a.writable = true;
  a.kind = 'f';
  a.itemsize = 8;
  auto f64 = OutputFromArray(Spec(), a);
  CHECK(!f64.ok() && f64.status().message() == "out: expected a float32, float16, uint8 or int8 array, got float64");
}

TEST_MAIN()
