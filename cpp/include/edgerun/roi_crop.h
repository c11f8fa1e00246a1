// edgerun::preprocess::CropRotatedRoi: samples a rotated rectangle of a frame
// into a model input (the second stage of a detector -> landmark cascade, as
// MediaPipe crops faces and hands), with the normalization, channel order,
// layout and output types of a preprocess::Spec.
//
// A kernel of its own (not the fused kernels of preprocess.cc): per output row,
// the interior, where all four bilinear taps lie inside the frame, runs a
// bounds-free kernel (AVX2 gathers on x86, NEON lane loads on aarch64, a
// portable one elsewhere or with EDGERUN_DISABLE_SIMD); the row's edges (taps
// outside the frame read the spec's pad_value) and Spec::isa = kScalar run the
// per-pixel reference. Packed formats (rgb, bgr, rgba, bgra, gray) and YUV 4:2:0
// (nv12, nv21, i420: the frame region the taps reach is converted to uint8 RGB
// first, with the spec's yuv_matrix / yuv_range and the chroma of each 2x2
// block, then sampled as RGB: OpenCV's cvtColor -> warpAffine), with row strides.
#pragma once

#include "edgerun/preprocess.h"
#include "edgerun/status.h"

namespace edgerun {
namespace preprocess {

// Centre and size in source pixels (continuous coordinates: pixel i covers
// [i, i+1)); angle in degrees, clockwise as seen in the image (y down): the
// rectangle's x axis points along (cos a, sin a). MediaPipe's NormalizedRect
// rotation (radians) is the same angle.
struct RotatedRoi {
  double cx = 0, cy = 0, width = 0, height = 0, angle = 0;
};

// The Transform CropRotatedRoi uses for an output of out_width x out_height
// (model input -> source; content = the whole input; source_roi = the frame
// pixels the rectangle touches, clipped to the frame).
Expected<Transform> RotatedRoiTransform(const RotatedRoi& roi, int out_width, int out_height, int frame_width,
                                        int frame_height);

// Writes the rectangle into `out`. The spec's format, mean, stddev, channels,
// layout and pad_value apply; fit, roi, rotate and flip do not (the rectangle
// replaces them); interpolation is bilinear (half-pixel centres).
Expected<Transform> CropRotatedRoi(const Spec& spec, const Image& image, const RotatedRoi& roi, const Output& out);

}  // namespace preprocess
}  // namespace edgerun
