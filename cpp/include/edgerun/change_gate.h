// edgerun change gate: a tiny luma thumbnail of a camera frame and its
// difference to a reference thumbnail, so a pipeline can skip frames whose
// scene did not change (Pipeline gate, see pipeline.h).
//
// The thumbnail is a kGrid x kGrid grid of cells over the whole frame; each
// cell holds the mean luma of up to kSamplesX x kSamplesY evenly spaced pixels
// of its area (sampling, not every pixel: the whole thumbnail reads 32 rows of
// the frame). A camera frame is cold in the cache when the gate looks at it
// (written by DMA or another thread, and a skipped frame is read by nothing
// else), so the cost is the rows' cache lines: a sampled row costs all the
// cache lines it spans, columns within it nearly nothing. Hence few rows and
// many columns (2 x 12: 4-8 us for a warm VGA BGR frame, 15-30 us cold, on a
// 2-core x86; 3 x 8 cost a third more cold). Luma: the Y plane of YUV
// formats, the gray plane, or for RGB/BGR/RGBA/BGRA
// round((77 R + 150 G + 29 B) / 256) of the cell's mean R, G, B.
#pragma once

#include <array>
#include <cstdint>

#include "edgerun/preprocess.h"
#include "edgerun/status.h"

namespace edgerun {

struct LumaThumbnail {
  static constexpr int kGrid = 16;     // cells per side
  static constexpr int kSamplesX = 12;  // sampled columns per cell (at most)
  static constexpr int kSamplesY = 2;   // sampled rows per cell (at most)
  std::array<uint8_t, kGrid * kGrid> cells{};
  // The frame it was taken from: a frame of another size or format always counts as changed.
  int width = 0, height = 0;
  preprocess::PixelFormat format = preprocess::PixelFormat::kRGB;
};

// Computes the thumbnail of `image` (in `format`, as the Preprocessor reads it).
// InputError for an empty image, missing planes or strides shorter than a row.
Status ComputeLumaThumbnail(const preprocess::Image& image, preprocess::PixelFormat format, LumaThumbnail* out);

// The largest absolute difference between corresponding cells (0..255), or
// 255 when the two were taken from frames of different size or format.
int ThumbnailDifference(const LumaThumbnail& a, const LumaThumbnail& b);

}  // namespace edgerun
