// edgerun change gate: a tiny luma thumbnail of a camera frame and its
// difference to a reference thumbnail, so a pipeline can skip frames whose
// scene did not change (Pipeline gate, see pipeline.h).
//
// The thumbnail is a kGrid x kGrid grid of cells over the whole frame; each
// cell holds the mean luma of up to kSamplesX evenly spaced pixels of the row
// through its middle (sampling, not every pixel: the whole thumbnail reads 16
// rows of the frame). A camera frame is cold in the cache when the gate looks
// at it (written by DMA or another thread; a skipped frame is read by nothing
// else), so what a thumbnail costs is the rows it touches (their cache lines
// and pages), while more columns within a row cost almost nothing. Measured
// in a 30 FPS loop on a 2-core x86 VM (VGA BGR frame, thread CPU above a
// thumbnail of a tiny frame): 3 rows x 8 columns per cell 27 us, 2 x 12 24 us,
// 1 x 24 12 us; warm, 4-8 us. The price: a change that crosses no sampled row
// (shorter than half a cell and off its middle) is seen only when max_skip
// forces a run. Luma: the Y plane of YUV formats, the gray plane, or for
// RGB/BGR/RGBA/BGRA round((77 R + 150 G + 29 B) / 256) of the cell's mean R, G, B.
#pragma once

#include <array>
#include <cstdint>

#include "edgerun/preprocess.h"
#include "edgerun/status.h"

namespace edgerun {

struct LumaThumbnail {
  static constexpr int kGrid = 16;     // cells per side
  static constexpr int kSamplesX = 24;  // sampled columns per cell (at most)
  static constexpr int kSamplesY = 1;   // sampled rows per cell (at most)
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
