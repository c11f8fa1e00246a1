// Rotated-ROI crops (edgerun/roi_crop.h): the fast row interiors (AVX2 on x86,
// NEON on aarch64 -- cpp/tests/aarch64/run.sh runs this under qemu -- and the
// portable kernel with EDGERUN_DISABLE_SIMD=1) against the per-pixel reference
// (Isa::kScalar), and both against a double-precision bilinear written here.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "edgerun/cpu.h"
#include "edgerun/preprocess.h"
#include "edgerun/roi_crop.h"

namespace pp = edgerun::preprocess;

namespace {

struct Frame {
  int w, h, c;
  ptrdiff_t stride;
  std::vector<uint8_t> bytes;
  pp::Image image() const {
    pp::Image im;
    im.width = w;
    im.height = h;
    im.data[0] = bytes.data();
    im.stride[0] = stride;
    return im;
  }
  // channel ch of pixel (x, y), or pad outside
  double at(int x, int y, int ch, double pad) const {
    if (x < 0 || y < 0 || x >= w || y >= h) return pad;
    return bytes[static_cast<size_t>(y) * stride + static_cast<size_t>(x) * c + ch];
  }
};

Frame RandomFrame(std::mt19937& rng, int w, int h, int c, int extra) {
  Frame f{w, h, c, static_cast<ptrdiff_t>(w) * c + extra, {}};
  // exactly the bytes the frame describes (no slack after the last pixel): a kernel
  // reading past the frame shows up under ASan
  f.bytes.resize(static_cast<size_t>(h - 1) * f.stride + static_cast<size_t>(w) * c);
  for (auto& b : f.bytes) b = static_cast<uint8_t>(rng() & 0xff);
  return f;
}

// The crop of channel `ch` at output pixel (u, v), double precision, pixel units.
double RefTap(const Frame& f, const pp::Transform& t, int u, int v, int ch, double pad) {
  double sx, sy;
  t.ToSource(u + 0.5, v + 0.5, &sx, &sy);
  sx -= 0.5;
  sy -= 0.5;
  const double x0 = std::floor(sx), y0 = std::floor(sy), wx = sx - x0, wy = sy - y0;
  const int xi = static_cast<int>(x0), yi = static_cast<int>(y0);
  const double a = f.at(xi, yi, ch, pad), b = f.at(xi + 1, yi, ch, pad), c = f.at(xi, yi + 1, ch, pad),
               d = f.at(xi + 1, yi + 1, ch, pad);
  return (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy;
}

std::vector<float> Crop(const pp::Spec& s, const Frame& f, const pp::RotatedRoi& r, int ow, int oh, int oc,
                        pp::Transform* t = nullptr) {
  std::vector<float> out(static_cast<size_t>(ow) * oh * oc, -1.0f);
  pp::Output o;
  o.data = out.data();
  o.type = pp::ElemType::kFloat32;
  o.width = ow;
  o.height = oh;
  o.channels = oc;
  o.bytes = out.size() * 4;
  auto res = pp::CropRotatedRoi(s, f.image(), r, o);
  CHECK(res.ok());
  if (t && res.ok()) *t = *res;
  return out;
}

}  // namespace

TEST(roi_crop_fast_paths_match_reference_and_double_bilinear) {
  std::mt19937 rng(1234);
  const pp::PixelFormat fmts[] = {pp::PixelFormat::kRGB, pp::PixelFormat::kBGRA, pp::PixelFormat::kGray};
  const int chans[] = {3, 4, 1};
  int rois = 0;
  double worst_ref = 0, worst_fast = 0;
  for (int fi = 0; fi < 3; ++fi) {
    for (int gray_out = 0; gray_out < 2; ++gray_out) {
      for (int it = 0; it < 25; ++it) {
        const int w = 8 + static_cast<int>(rng() % 90), h = 8 + static_cast<int>(rng() % 70);
        const Frame f = RandomFrame(rng, w, h, chans[fi], static_cast<int>(rng() % 7));
        std::uniform_real_distribution<double> U(0, 1);
        const pp::RotatedRoi r{U(rng) * w * 1.4 - 0.2 * w, U(rng) * h * 1.4 - 0.2 * h, 0.5 + U(rng) * w * 1.2,
                               0.5 + U(rng) * h * 1.2, U(rng) * 720 - 360};
        const int ow = 1 + static_cast<int>(rng() % 60), oh = 1 + static_cast<int>(rng() % 60);
        const int oc = gray_out ? 1 : 3;
        pp::Spec s;
        s.format = fmts[fi];
        s.channels = gray_out ? pp::Channels::kGray : pp::Channels::kRGB;
        for (int k = 0; k < 3; ++k) {
          s.mean[k] = 0;
          s.stddev[k] = 1;
          s.pad_value[k] = 11.0f * (k + 1);
        }
        pp::Transform t;
        const std::vector<float> fast = Crop(s, f, r, ow, oh, oc, &t);
        setenv("EDGERUN_DISABLE_SIMD", "1", 1);
        const std::vector<float> portable = Crop(s, f, r, ow, oh, oc);
        unsetenv("EDGERUN_DISABLE_SIMD");
        s.isa = pp::Isa::kScalar;
        const std::vector<float> ref = Crop(s, f, r, ow, oh, oc);
        // pad per source channel: RGB pad_value mapped (BGRA: B = pad[2]; alpha 255; gray: luma)
        double pad[4];
        if (chans[fi] == 1) {
          pad[0] = 0.299f * s.pad_value[0] + 0.587f * s.pad_value[1] + 0.114f * s.pad_value[2];
        } else if (fi == 1) {
          pad[0] = s.pad_value[2]; pad[1] = s.pad_value[1]; pad[2] = s.pad_value[0]; pad[3] = 255;
        } else {
          pad[0] = s.pad_value[0]; pad[1] = s.pad_value[1]; pad[2] = s.pad_value[2];
        }
        const int rgb_ch[3] = {fi == 1 ? 2 : 0, 1, fi == 1 ? 0 : 2};
        for (int v = 0; v < oh; ++v) {
          for (int u = 0; u < ow; ++u) {
            double want[3];
            for (int k = 0; k < 3; ++k) {
              const int ch = chans[fi] == 1 ? 0 : rgb_ch[k];
              want[k] = RefTap(f, t, u, v, ch, pad[ch]);
            }
            for (int k = 0; k < oc; ++k) {
              const double wv = oc == 1 ? (chans[fi] == 1 ? want[0] : 0.299 * want[0] + 0.587 * want[1] +
                                                                          0.114 * want[2])
                                        : want[k];
              const size_t i = (static_cast<size_t>(v) * ow + u) * oc + k;
              worst_ref = std::max(worst_ref, std::fabs(ref[i] - wv));
              worst_fast = std::max(worst_fast, static_cast<double>(std::fabs(fast[i] - ref[i])));
              worst_fast = std::max(worst_fast, static_cast<double>(std::fabs(portable[i] - ref[i])));
            }
          }
        }
        ++rois;
      }
    }
  }
  std::printf("  %d crops: reference vs double bilinear %.2e, fast/portable vs reference %.2e (pixel units)\n", rois,
              worst_ref, worst_fast);
  CHECK(worst_ref < 2e-3);   // float weights and arithmetic on 0..255 values
  CHECK(worst_fast < 1e-3);  // the same taps and weights; mul/add vs fma rounding
}

TEST(roi_crop_forced_isa) {
  std::mt19937 rng(5);
  const Frame f = RandomFrame(rng, 32, 24, 3, 0);
  pp::Spec s;
#if defined(EDGERUN_ARCH_X86)
  s.isa = pp::Isa::kNEON;
#else
  s.isa = pp::Isa::kAVX2;
#endif
  std::vector<float> out(16 * 16 * 3);
  pp::Output o;
  o.data = out.data();
  o.width = o.height = 16;
  o.bytes = out.size() * 4;
  auto r = pp::CropRotatedRoi(s, f.image(), pp::RotatedRoi{16, 12, 10, 10, 30}, o);
  CHECK(!r.ok());
}

TEST_MAIN()
