// C++ tests of the change gate's luma thumbnail (edgerun/change_gate.h)
// against a direct scalar statement of its rule: every cell the rounded mean
// of its sampled pixels (luma of the mean R, G, B for RGB formats), sample
// positions the centres of equal slices of each cell. No runtime needed.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "check.h"
#include "edgerun/change_gate.h"

using namespace edgerun;
namespace pp = edgerun::preprocess;

namespace {

constexpr int G = LumaThumbnail::kGrid;

std::vector<int> Positions(int extent, int samples, int cell) {
  int lo = cell * extent / G, hi = (cell + 1) * extent / G;
  if (hi <= lo) hi = std::min(lo + 1, extent);
  const int n = std::min(samples, hi - lo);
  std::vector<int> p;
  for (int k = 0; k < n; ++k) p.push_back(std::min(extent - 1, lo + (2 * k + 1) * (hi - lo) / (2 * n)));
  return p;
}

// Reference for packed 3/4-byte RGB-order frames (r, g, b offsets) and single-channel planes.
uint8_t RefCell(const std::vector<uint8_t>& px, int w, int h, ptrdiff_t stride, int step, int r, int g, int b,
                bool rgb, int cx, int cy) {
  uint64_t sr = 0, sg = 0, sb = 0, n = 0;
  for (int y : Positions(h, LumaThumbnail::kSamplesY, cy))
    for (int x : Positions(w, LumaThumbnail::kSamplesX, cx)) {
      const uint8_t* p = px.data() + y * stride + x * step;
      sr += p[r];
      sg += p[g];
      sb += p[b];
      ++n;
    }
  if (rgb) return static_cast<uint8_t>((77 * sr + 150 * sg + 29 * sb + 128 * n) / (256 * n));
  return static_cast<uint8_t>((sg + n / 2) / n);
}

std::vector<uint8_t> Noise(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<uint8_t>(seed >> 24);
  }
  return v;
}

}  // namespace

TEST(ThumbnailMatchesScalarRule) {
  struct Case { pp::PixelFormat f; int step, r, g, b; bool rgb; };
  const Case cases[] = {{pp::PixelFormat::kRGB, 3, 0, 1, 2, true}, {pp::PixelFormat::kBGR, 3, 2, 1, 0, true},
                        {pp::PixelFormat::kRGBA, 4, 0, 1, 2, true}, {pp::PixelFormat::kBGRA, 4, 2, 1, 0, true},
                        {pp::PixelFormat::kGray, 1, 0, 0, 0, false}, {pp::PixelFormat::kYUYV, 2, 0, 0, 0, false},
                        {pp::PixelFormat::kUYVY, 2, 1, 1, 1, false}};
  const int sizes[][2] = {{640, 480}, {51, 37}, {10, 12}, {2, 3}, {1, 1}};
  for (const auto& c : cases) {
    for (const auto& wh : sizes) {
      int w = wh[0], h = wh[1];
      if (c.step == 2 && (w % 2)) continue;  // 4:2:2 needs an even width
      const ptrdiff_t stride = static_cast<ptrdiff_t>(w) * c.step + 13;  // padded rows
      auto px = Noise(static_cast<size_t>(stride * h), static_cast<uint32_t>(w * 7 + h));
      pp::Image img;
      img.width = w;
      img.height = h;
      img.data[0] = px.data();
      img.stride[0] = stride;
      LumaThumbnail t;
      CHECK(ComputeLumaThumbnail(img, c.f, &t).ok());
      bool same = true;
      for (int cy = 0; cy < G; ++cy)
        for (int cx = 0; cx < G; ++cx)
          same &= t.cells[cy * G + cx] == RefCell(px, w, h, stride, c.step, c.r, c.g, c.b, c.rgb, cx, cy);
      CHECK_MSG(same, "format %s %dx%d", pp::Name(c.f), w, h);
    }
  }
}

TEST(DifferenceAndBadInput) {
  std::vector<uint8_t> a(64 * 48, 100), b(64 * 48, 100);
  for (int y = 20; y < 30; ++y)
    for (int x = 30; x < 40; ++x) b[y * 64 + x] = 200;  // a bright square
  pp::Image ia, ib;
  ia.width = ib.width = 64;
  ia.height = ib.height = 48;
  ia.data[0] = a.data();
  ib.data[0] = b.data();
  ia.stride[0] = ib.stride[0] = 64;
  LumaThumbnail ta, tb;
  CHECK(ComputeLumaThumbnail(ia, pp::PixelFormat::kGray, &ta).ok());
  CHECK(ComputeLumaThumbnail(ib, pp::PixelFormat::kGray, &tb).ok());
  CHECK(ThumbnailDifference(ta, ta) == 0);
  CHECK(ThumbnailDifference(ta, tb) >= 50);
  LumaThumbnail tc = ta;
  tc.width = 65;  // another frame size always counts as changed
  CHECK(ThumbnailDifference(ta, tc) == 255);
  pp::Image bad = ia;
  bad.stride[0] = 10;  // shorter than a row
  CHECK(ComputeLumaThumbnail(bad, pp::PixelFormat::kGray, &ta).code() == Code::kInputError);
  bad = ia;
  bad.data[0] = nullptr;
  CHECK(ComputeLumaThumbnail(bad, pp::PixelFormat::kGray, &ta).code() == Code::kInputError);
  bad = ia;
  bad.width = 0;
  CHECK(ComputeLumaThumbnail(bad, pp::PixelFormat::kGray, &ta).code() == Code::kInputError);
}

TEST_MAIN()
