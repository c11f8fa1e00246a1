// Every SIMD preprocessing kernel against the scalar reference: random
// formats / geometries / output types, odd sizes, unaligned base pointers and
// padded row strides. The integer sampling is bit-exact by design and the float
// stage uses the same IEEE ops in the same order, so outputs must be identical
// bytes; a difference is reported with its size in output LSBs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "edgerun/preprocess.h"
#include "preprocess/plan.h"

using namespace edgerun::preprocess;

namespace {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint32_t>(hi - lo + 1)); }
  template <class T, size_t N>
  T pick(const T (&a)[N]) { return a[next() % N]; }
};

Isa SimdIsa() {
  if (IsaAvailable(Isa::kAVX2)) return Isa::kAVX2;
  if (IsaAvailable(Isa::kNEON)) return Isa::kNEON;
  return Isa::kScalar;
}

struct Cfg {
  PixelFormat f = PixelFormat::kRGB;
  int sw = 16, sh = 16, ow = 8, oh = 8;
  ElemType t = ElemType::kFloat32;
  Layout layout = Layout::kNHWC;
  Channels ch = Channels::kRGB;
  int rot = 0;
  bool flip = false;
  Fit fit = Fit::kStretch;
  Interpolation interp = Interpolation::kBilinear;
  int pad = 0, misalign = 0;
  bool roi = false;
  YuvMatrix m = YuvMatrix::kBT601;
  YuvRange r = YuvRange::kLimited;
  YuvSampling ys = YuvSampling::kYuv;
  float scale = 1.f / 255;
  int zp = 0;
  float int_mean = 0.f;  // integer outputs: mean (std 1)
  int threads = 1;
  std::string str() const {
    char b[320];
    std::snprintf(b, sizeof b, "%s %dx%d->%dx%d %s %s %s rot%d flip%d %s %s pad%d mis%d roi%d %s/%s/%s q(%g,%d)",
                  Name(f), sw, sh, ow, oh, Name(t), Name(layout), Name(ch), rot, flip, Name(fit), Name(interp), pad,
                  misalign, roi, Name(m), Name(r), Name(ys), scale, zp);
    return b;
  }
};

// Returns the number of mismatching output elements (and max |diff| in LSB).
int Compare(const Cfg& c, Rng& rng, double* max_lsb, bool* ran_simd, std::string* path_out = nullptr) {
  const int rowb = PlaneRowBytes(c.f, c.sw, 0);
  const ptrdiff_t stride = rowb + c.pad + ((c.f == PixelFormat::kI420 && ((rowb + c.pad) & 1)) ? 1 : 0);
  const int rows = IsYuv420(c.f) ? c.sh * 3 / 2 : c.sh;
  std::vector<uint8_t> buf(static_cast<size_t>(stride) * rows + 64);
  // Photo-like content: smooth ramps + edges + noise, so that clamping and all weight values occur.
  for (size_t i = 0; i < buf.size(); ++i) {
    const int x = static_cast<int>(i % stride), y = static_cast<int>(i / stride);
    int v = (x * 7 + y * 3) % 256;
    if ((x / 5 + y / 3) % 4 == 0) v = 255 - v;
    v += static_cast<int>(rng.next() % 41) - 20;
    buf[i] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  const uint8_t* base = buf.data() + c.misalign;
  auto img = ImageFromBuffer(c.f, base, c.sw, c.sh, stride, buf.size() - c.misalign);
  CHECK_MSG(img.ok(), "%s: %s", c.str().c_str(), img.status().message().c_str());
  if (!img.ok()) return 1;
  Spec s;
  s.format = c.f;
  s.fit = c.fit;
  s.rotate = c.rot;
  s.flip = c.flip;
  s.interpolation = c.interp;
  s.channels = c.ch;
  s.layout = c.layout;
  s.yuv_matrix = c.m;
  s.yuv_range = c.r;
  s.yuv_sampling = c.ys;
  s.mean[0] = 123.7f; s.mean[1] = 116.3f; s.mean[2] = 103.5f;
  s.stddev[0] = 58.4f; s.stddev[1] = 57.1f; s.stddev[2] = 57.4f;
  s.pad_value[0] = 114; s.pad_value[1] = 114; s.pad_value[2] = 114;
  if (c.t == ElemType::kUInt8 || c.t == ElemType::kInt8) {
    s.mean[0] = s.mean[1] = s.mean[2] = c.int_mean;
    s.stddev[0] = s.stddev[1] = s.stddev[2] = 1.f;
  }
  s.threads = c.threads;
  if (c.roi) {
    s.has_roi = true;
    s.roi.x = rng.range(0, c.sw / 3);
    s.roi.y = rng.range(0, c.sh / 3);
    s.roi.width = rng.range(1, c.sw - s.roi.x);
    s.roi.height = rng.range(1, c.sh - s.roi.y);
  }
  const int C = c.ch == Channels::kGray ? 1 : 3;
  const size_t es = edgerun::preprocess::internal::ElemSize(c.t);
  const size_t n = static_cast<size_t>(c.ow) * c.oh * C;
  std::vector<uint8_t> out[2];
  for (int k = 0; k < 2; ++k) {
    s.isa = k == 0 ? Isa::kScalar : SimdIsa();
    auto pre = Preprocessor::Create(s);
    CHECK_MSG(pre.ok(), "%s", pre.status().message().c_str());
    if (!pre.ok()) return 1;
    out[k].assign(n * es + 1, 0xA5);  // +1: canary
    Output o;
    o.data = out[k].data();
    o.type = c.t;
    o.width = c.ow;
    o.height = c.oh;
    o.channels = C;
    o.bytes = n * es;
    o.scale = c.scale;
    o.zero_point = c.zp;
    auto r = pre.value()->Run(img.value(), o);
    CHECK_MSG(r.ok(), "%s: %s", c.str().c_str(), r.status().message().c_str());
    CHECK_MSG(out[k][n * es] == 0xA5, "%s: wrote past the output", c.str().c_str());
    if (k == 1) {
      // The same frame again runs without prefetch (KPlan::prefetch): the same bytes.
      std::vector<uint8_t> again(out[k].size(), 0x5A);
      o.data = again.data();
      auto r2 = pre.value()->Run(img.value(), o);
      CHECK_MSG(r2.ok() && std::memcmp(again.data(), out[k].data(), n * es) == 0,
                "%s: a second run of the same frame differs", c.str().c_str());
      auto path = pre.value()->KernelPath(c.sw, c.sh, c.ow, c.oh, c.t);
      *ran_simd = path.ok() && path.value() != "scalar";
      if (path_out != nullptr) *path_out = path.ok() ? path.value() : "";
    }
  }
  int bad = 0;
  *max_lsb = 0;
  for (size_t i = 0; i < n; ++i) {
    double a, b, lsb = 1;
    switch (c.t) {
      case ElemType::kFloat32: {
        float fa, fb;
        std::memcpy(&fa, &out[0][i * 4], 4);
        std::memcpy(&fb, &out[1][i * 4], 4);
        a = fa; b = fb;
        lsb = 1.0 / 57.0;  // one pixel LSB after /std
        break;
      }
      case ElemType::kFloat16: {
        uint16_t ha, hb;
        std::memcpy(&ha, &out[0][i * 2], 2);
        std::memcpy(&hb, &out[1][i * 2], 2);
        a = edgerun::HalfToFloat(ha);
        b = edgerun::HalfToFloat(hb);
        lsb = 1.0 / 57.0;
        break;
      }
      case ElemType::kUInt8: a = out[0][i]; b = out[1][i]; break;
      default: a = static_cast<int8_t>(out[0][i]); b = static_cast<int8_t>(out[1][i]); break;
    }
    if (std::memcmp(&out[0][i * es], &out[1][i * es], es) != 0) {
      ++bad;
      *max_lsb = std::max(*max_lsb, std::fabs(a - b) / lsb);
    }
  }
  return bad;
}

}  // namespace

TEST(simd_available) {
  std::printf("  simd kernel under test: %s (active: %s)\n", Name(SimdIsa()), ActiveIsa());
#if defined(EDGERUN_ARCH_ARM64)
  CHECK(SimdIsa() == Isa::kNEON);
#endif
}

TEST(simd_matches_reference_on_hot_paths) {
  if (SimdIsa() == Isa::kScalar) return;
  // The benchmark shapes (scaled down a little where the reference is slow under emulation).
  Cfg cases[12];
  cases[0].f = PixelFormat::kNV12; cases[0].sw = 640; cases[0].sh = 480; cases[0].ow = 256; cases[0].oh = 256;
  cases[1].f = PixelFormat::kBGR; cases[1].sw = 640; cases[1].sh = 480; cases[1].ow = 128; cases[1].oh = 128;
  cases[2].f = PixelFormat::kBGR; cases[2].sw = 320; cases[2].sh = 180; cases[2].ow = 160; cases[2].oh = 160;
  cases[2].t = ElemType::kUInt8; cases[2].fit = Fit::kLetterbox;
  cases[3].f = PixelFormat::kNV12; cases[3].sw = 480; cases[3].sh = 270; cases[3].ow = 75; cases[3].oh = 75;
  cases[3].t = ElemType::kInt8; cases[3].rot = 90; cases[3].zp = -128;
  cases[4].f = PixelFormat::kI420; cases[4].sw = 96; cases[4].sh = 64; cases[4].ow = 224; cases[4].oh = 160;
  cases[5].f = PixelFormat::kRGB; cases[5].sw = 50; cases[5].sh = 40; cases[5].ow = 33; cases[5].oh = 17;
  cases[5].layout = Layout::kNCHW; cases[5].t = ElemType::kFloat16;
  cases[6].f = PixelFormat::kNV21; cases[6].sw = 320; cases[6].sh = 240; cases[6].ow = 128; cases[6].oh = 96;
  cases[6].t = ElemType::kUInt8; cases[6].ys = YuvSampling::kRgb; cases[6].ch = Channels::kBGR;
  // Scales so small that (px - mean) / std / scale leaves the int32 range: the clamp path.
  cases[7].f = PixelFormat::kBGR; cases[7].sw = 200; cases[7].sh = 100; cases[7].ow = 70; cases[7].oh = 30;
  cases[7].t = ElemType::kUInt8; cases[7].scale = 1e-9f;
  cases[8].f = PixelFormat::kNV12; cases[8].sw = 200; cases[8].sh = 100; cases[8].ow = 70; cases[8].oh = 30;
  cases[8].t = ElemType::kInt8; cases[8].scale = 1e-9f; cases[8].zp = -5;
  // Benchmark case 3 at full size: uint8 with mean 0, std 1, scale 1, zp 0 (the AVX2 LEAN direct path).
  cases[9].f = PixelFormat::kBGR; cases[9].sw = 1280; cases[9].sh = 720; cases[9].ow = 320; cases[9].oh = 320;
  cases[9].t = ElemType::kUInt8; cases[9].fit = Fit::kLetterbox; cases[9].scale = 1.f;
  // Area with yuv_sampling="rgb" (rows converted to RGB, then the packed area path), 4:2:0 and 4:2:2.
  cases[10].f = PixelFormat::kNV12; cases[10].sw = 640; cases[10].sh = 480; cases[10].ow = 150; cases[10].oh = 150;
  cases[10].interp = Interpolation::kArea; cases[10].ys = YuvSampling::kRgb;
  cases[11].f = PixelFormat::kUYVY; cases[11].sw = 640; cases[11].sh = 480; cases[11].ow = 200; cases[11].oh = 120;
  cases[11].interp = Interpolation::kArea; cases[11].ys = YuvSampling::kRgb; cases[11].rot = 90;
  cases[11].t = ElemType::kUInt8; cases[11].pad = 6; cases[11].misalign = 3;
  Rng rng(1);
  for (const Cfg& c : cases) {
    double mx;
    bool ran = false;
    const int bad = Compare(c, rng, &mx, &ran);
    CHECK_MSG(ran, "%s: SIMD kernel not used", c.str().c_str());
    CHECK_MSG(bad == 0, "%s: %d elements differ (max %.3g LSB)", c.str().c_str(), bad, mx);
  }
}

TEST(simd_matches_reference_random_configs) {
  if (SimdIsa() == Isa::kScalar) return;
  const PixelFormat fmts[] = {PixelFormat::kRGB, PixelFormat::kBGR, PixelFormat::kRGBA, PixelFormat::kBGRA,
                              PixelFormat::kGray, PixelFormat::kNV12, PixelFormat::kNV21, PixelFormat::kI420,
                              PixelFormat::kYUYV, PixelFormat::kUYVY};
  const ElemType types[] = {ElemType::kFloat32, ElemType::kFloat16, ElemType::kUInt8, ElemType::kInt8};
  const Channels chans[] = {Channels::kRGB, Channels::kBGR, Channels::kGray, Channels::kRGB};
  const Fit fits[] = {Fit::kStretch, Fit::kLetterbox, Fit::kCrop, Fit::kStretch};
  const int rots[] = {0, 90, 180, 270, 0, 0};
  Rng rng(12345);
  int total = 0, failed = 0, simd_runs = 0;
  for (int it = 0; it < 360; ++it) {
    Cfg c;
    c.f = rng.pick(fmts);
    const bool even = IsYuv420(c.f) || c.f == PixelFormat::kYUYV || c.f == PixelFormat::kUYVY;
    c.sw = rng.range(16, 90);
    c.sh = rng.range(2, 60);
    if (even) { c.sw &= ~1; c.sh = (c.sh + 1) & ~1; }
    if (c.f == PixelFormat::kI420 && c.sw < 32) c.sw = 32;  // chroma rows of 16+ bytes take the SIMD path
    // Down- and up-scaling, output sizes off the block size.
    c.ow = rng.range(1, 70);
    c.oh = rng.range(1, 50);
    if (it % 5 == 0) { c.ow = rng.range(1, 20); c.oh = rng.range(1, 8); }
    c.t = rng.pick(types);
    c.layout = rng.next() % 3 == 0 ? Layout::kNCHW : Layout::kNHWC;
    c.ch = rng.pick(chans);
    c.rot = rng.pick(rots);
    c.flip = rng.next() % 3 == 0;
    c.fit = rng.pick(fits);
    c.interp = rng.next() % 4 == 0 ? Interpolation::kNearest : Interpolation::kBilinear;
    c.pad = rng.next() % 2 ? rng.range(1, 13) : 0;
    c.misalign = rng.range(0, 7);
    c.roi = rng.next() % 4 == 0;
    c.m = rng.next() % 2 ? YuvMatrix::kBT709 : YuvMatrix::kBT601;
    c.r = rng.next() % 3 == 0 ? YuvRange::kFull : YuvRange::kLimited;
    c.ys = rng.next() % 2 ? YuvSampling::kRgb : YuvSampling::kYuv;
    if (c.t == ElemType::kInt8) { c.scale = 1.f / rng.range(1, 4); c.zp = rng.range(-128, 0); }
    if (c.t == ElemType::kUInt8) { c.scale = rng.next() % 2 ? 1.f : 0.75f; c.zp = rng.range(0, 20); }
    double mx;
    bool ran = false;
    const int bad = Compare(c, rng, &mx, &ran);
    ++total;
    simd_runs += ran;
    if (bad) {
      ++failed;
      CHECK_MSG(bad == 0, "%s: %d elements differ (max %.3g LSB)", c.str().c_str(), bad, mx);
    }
  }
  std::printf("  %d random configs, %d failed\n", total, failed);
  CHECK(simd_runs == total);
}

// The nearest byte path (preprocess_nearest.cc): raw-pixel outputs (uint8 as
// is, int8 = px - 128) of packed RGB-family frames, every rotation, flip and
// fit, 1:1 crops (bilinear on the pixel grid), 3-byte pixels ending their rows,
// two threads. Identical bytes, and the path must be the byte path.
TEST(simd_nearest_byte_path_matches_reference) {
  if (SimdIsa() == Isa::kScalar) return;
  const PixelFormat fmts[] = {PixelFormat::kRGB, PixelFormat::kBGR, PixelFormat::kRGBA, PixelFormat::kBGRA};
  const Fit fits[] = {Fit::kStretch, Fit::kLetterbox, Fit::kCrop};
  Rng rng(777);
  int total = 0, failed = 0, byte_path = 0;
  for (int it = 0; it < 120; ++it) {
    Cfg c;
    c.f = rng.pick(fmts);
    c.sw = rng.range(1, 90);
    c.sh = rng.range(1, 60);
    c.rot = 90 * rng.range(0, 3);
    c.flip = rng.next() % 3 == 0;
    c.fit = rng.pick(fits);
    c.ch = rng.next() % 2 ? Channels::kBGR : Channels::kRGB;
    c.pad = rng.next() % 2 ? rng.range(1, 13) : 0;
    c.misalign = rng.range(0, 7);
    c.threads = rng.next() % 3 == 0 ? 2 : 1;
    c.interp = Interpolation::kNearest;
    if (it % 6 == 0) {  // 1:1: the oriented frame's own size
      c.interp = Interpolation::kBilinear;
      c.ow = c.rot % 180 ? c.sh : c.sw;
      c.oh = c.rot % 180 ? c.sw : c.sh;
    } else {
      c.ow = rng.range(1, 120);
      c.oh = rng.range(1, 90);
    }
    if (it % 4 == 1) c.roi = true;
    if (c.roi) c.fit = Fit::kStretch;
    const bool i8 = rng.next() % 2;
    c.t = i8 ? ElemType::kInt8 : ElemType::kUInt8;
    c.scale = 1.f;
    c.zp = 0;
    c.int_mean = i8 ? 128.f : 0.f;
    double mx;
    bool ran = false;
    std::string path;
    const int bad = Compare(c, rng, &mx, &ran, &path);
    ++total;
    byte_path += path.find("/nearest-lut") != std::string::npos;
    CHECK_MSG(path.find("/nearest-lut") != std::string::npos, "%s: planned %s", c.str().c_str(), path.c_str());
    if (bad) {
      ++failed;
      CHECK_MSG(bad == 0, "%s: %d elements differ (max %.3g LSB)", c.str().c_str(), bad, mx);
    }
  }
  std::printf("  %d nearest byte-path configs (%d on the byte path), %d failed\n", total, byte_path, failed);
  CHECK(byte_path == total);
}

// Area: random formats, geometries and ratios (integer, fractional, up on one
// axis, and large reductions whose row weights are rescaled: sh / oh reducing
// to more than 128). Exact integer sums: outputs must be identical bytes.
TEST(simd_area_matches_reference_random_configs) {
  if (SimdIsa() == Isa::kScalar) return;
  const PixelFormat fmts[] = {PixelFormat::kRGB, PixelFormat::kBGR, PixelFormat::kRGBA, PixelFormat::kBGRA,
                              PixelFormat::kGray, PixelFormat::kNV12, PixelFormat::kNV21, PixelFormat::kI420,
                              PixelFormat::kYUYV, PixelFormat::kUYVY};
  const ElemType types[] = {ElemType::kFloat32, ElemType::kFloat16, ElemType::kUInt8, ElemType::kInt8};
  const Channels chans[] = {Channels::kRGB, Channels::kBGR, Channels::kGray, Channels::kRGB};
  const Fit fits[] = {Fit::kStretch, Fit::kLetterbox, Fit::kCrop, Fit::kStretch};
  const int rots[] = {0, 90, 180, 270, 0, 0};
  Rng rng(777);
  int total = 0, failed = 0, simd_runs = 0, uniform = 0;
  for (int it = 0; it < 240; ++it) {
    Cfg c;
    c.interp = Interpolation::kArea;
    c.f = rng.pick(fmts);
    const bool even = IsYuv420(c.f) || c.f == PixelFormat::kYUYV || c.f == PixelFormat::kUYVY;
    c.sw = rng.range(2, 120);
    c.sh = rng.range(2, 90);
    if (it % 6 == 0) { c.sw = rng.range(200, 420); c.sh = rng.range(260, 400); }  // large reductions
    if (even) { c.sw = (c.sw + 1) & ~1; c.sh = (c.sh + 1) & ~1; }
    c.ow = rng.range(1, 60);
    c.oh = rng.range(1, 40);
    if (it % 6 == 0) { c.ow = rng.range(1, 30); c.oh = rng.range(1, 3); }
    const bool integer_ratio = it % 4 == 1;  // the uniform path: whole frames, stretch, sizes / 1..4
    if (integer_ratio) {
      c.ow = std::max(1, c.sw / rng.range(1, 4));
      c.oh = std::max(1, c.sh / rng.range(1, 4));
      if (c.sw % c.ow) c.sw = c.ow * (c.sw / c.ow);
      if (c.sh % c.oh) c.sh = c.oh * (c.sh / c.oh);
      if (even && ((c.sw | c.sh) & 1)) { c.sw = 2 * c.sw; c.sh = 2 * c.sh; c.ow *= 2; c.oh *= 2; }
    }
    c.t = rng.pick(types);
    c.layout = rng.next() % 3 == 0 ? Layout::kNCHW : Layout::kNHWC;
    c.ch = rng.pick(chans);
    c.rot = rng.pick(rots);
    c.flip = rng.next() % 3 == 0;
    c.fit = integer_ratio ? Fit::kStretch : rng.pick(fits);
    if (integer_ratio && (c.rot == 90 || c.rot == 270)) std::swap(c.ow, c.oh);
    c.pad = rng.next() % 2 ? rng.range(1, 13) : 0;
    c.misalign = rng.range(0, 7);
    c.roi = !integer_ratio && rng.next() % 4 == 0;
    c.m = rng.next() % 2 ? YuvMatrix::kBT709 : YuvMatrix::kBT601;
    c.r = rng.next() % 3 == 0 ? YuvRange::kFull : YuvRange::kLimited;
    // yuv_sampling="rgb" (rows converted to RGB, then the packed path) on a third of them.
    c.ys = rng.next() % 3 == 0 && !integer_ratio ? YuvSampling::kRgb : YuvSampling::kYuv;
    if (c.t == ElemType::kInt8) { c.scale = 1.f / rng.range(1, 4); c.zp = rng.range(-128, 0); }
    if (c.t == ElemType::kUInt8) { c.scale = rng.next() % 2 ? 1.f : 0.75f; c.zp = rng.range(0, 20); }
    double mx;
    bool ran = false;
    const int bad = Compare(c, rng, &mx, &ran);
    {
      Spec s;
      s.format = c.f;
      s.fit = c.fit;
      s.rotate = c.rot;
      s.flip = c.flip;
      s.interpolation = c.interp;
      s.channels = c.ch;
      s.yuv_sampling = c.ys;
      auto path = edgerun::preprocess::internal::PlannedPath(s, c.sw, c.sh, c.ow, c.oh, c.t,
                                                             edgerun::preprocess::internal::SimdLayout::kNeon);
      uniform += path.ok() && path.value() == "neon/area-uniform";
    }
    ++total;
    simd_runs += ran;
    CHECK_MSG(ran, "%s: SIMD area kernel not used", c.str().c_str());
    if (bad) {
      ++failed;
      CHECK_MSG(bad == 0, "%s: %d elements differ (max %.3g LSB)", c.str().c_str(), bad, mx);
    }
  }
  std::printf("  %d random area configs (%d on SIMD, %d integer ratios on the uniform path), %d failed\n", total,
              simd_runs, uniform, failed);
  CHECK(simd_runs == total);
  CHECK(uniform >= 20);
}

// The planner picks the same kernel path family for the NEON table layout as
// for AVX2 on every configuration, so that nothing planned for x86 falls back
// to scalar code on a Pi (runs on any machine: it builds plans for both
// layouts). AVX2's packed paths are refinements of "windows" (NEON has none).
// The only scalar plans: rows narrower than a 16-byte window (tiny frames), on
// both layouts alike.
TEST(planner_same_path_on_neon_and_avx2) {
  using edgerun::preprocess::internal::PlannedPath;
  using edgerun::preprocess::internal::SimdLayout;
  const PixelFormat fmts[] = {PixelFormat::kRGB, PixelFormat::kBGR, PixelFormat::kRGBA, PixelFormat::kBGRA,
                              PixelFormat::kGray, PixelFormat::kNV12, PixelFormat::kNV21, PixelFormat::kI420,
                              PixelFormat::kYUYV, PixelFormat::kUYVY};
  const int cams[][2] = {{320, 240}, {640, 480}, {800, 600}, {1280, 720}, {1640, 1232}, {1920, 1080}, {36, 20}};
  const int models[] = {96, 128, 160, 224, 256, 300, 320, 416, 640, 7};
  const Interpolation interps[] = {Interpolation::kBilinear, Interpolation::kNearest, Interpolation::kArea};
  const ElemType types[] = {ElemType::kFloat32, ElemType::kFloat16, ElemType::kUInt8, ElemType::kInt8};
  Rng rng(99);
  int n = 0, scalar = 0, rgb_area = 0;
  auto family = [](const std::string& p) {
    const size_t k = p.find('/');
    std::string f = k == std::string::npos ? p : p.substr(k + 1);
    return f.compare(0, 6, "packed") == 0 ? std::string("windows") : f;
  };
  for (int it = 0; it < 400; ++it) {
    Spec s;
    s.format = rng.pick(fmts);
    s.interpolation = rng.pick(interps);
    s.fit = static_cast<Fit>(rng.range(0, 2));
    s.rotate = 90 * rng.range(0, 3);
    s.flip = rng.next() % 4 == 0;
    s.layout = rng.next() % 4 == 0 ? Layout::kNCHW : Layout::kNHWC;
    s.channels = rng.next() % 6 == 0 ? Channels::kGray : Channels::kRGB;
    s.yuv_sampling = rng.next() % 4 == 0 ? YuvSampling::kRgb : YuvSampling::kYuv;
    const auto& cam = cams[rng.range(0, 6)];
    const int ow = models[rng.range(0, 9)], oh = rng.next() % 4 == 0 ? models[rng.range(0, 9)] : ow;
    const ElemType t = rng.pick(types);
    auto a = PlannedPath(s, cam[0], cam[1], ow, oh, t, SimdLayout::kAvx2);
    auto b = PlannedPath(s, cam[0], cam[1], ow, oh, t, SimdLayout::kNeon);
    CHECK(a.ok() && b.ok());
    if (!a.ok() || !b.ok()) continue;
    ++n;
    const bool yuv_src = s.format >= PixelFormat::kNV12;
    const bool rgb_taps_area = s.interpolation == Interpolation::kArea && s.yuv_sampling == YuvSampling::kRgb &&
                               yuv_src && s.channels != Channels::kGray;
    rgb_area += rgb_taps_area && family(a.ok() ? a.value() : "") == "area-rgb";
    const bool tiny = cam[0] < 64;  // rows (I420 chroma: W/2 bytes) narrower than 16 bytes
    const std::string what = std::string(Name(s.format)) + " " + std::to_string(cam[0]) + "x" +
                             std::to_string(cam[1]) + "->" + std::to_string(ow) + "x" + std::to_string(oh) + " " +
                             Name(s.interpolation) + " " + Name(s.yuv_sampling) + " rot" + std::to_string(s.rotate);
    CHECK_MSG(family(a.value()) == family(b.value()), "%s: avx2 plans %s, neon plans %s", what.c_str(),
              a.value().c_str(), b.value().c_str());
    if (!tiny) CHECK_MSG(a.value() != "scalar", "%s: avx2 plans %s", what.c_str(), a.value().c_str());
    scalar += a.value() == "scalar";
  }
  std::printf("  %d configurations planned alike for avx2 and neon (%d scalar on both, %d area-rgb)\n", n, scalar,
              rgb_area);
  CHECK(rgb_area >= 5);
}

TEST_MAIN()
