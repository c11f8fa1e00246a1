// AVX2 preprocessing kernel (compiled with -mavx2 -mfma -mf16c; called only
// after runtime detection): the primitives of the shared driver
// (kernel_driver-inl.h) at AVX2 width, plus the AVX2-only packed paths.
// Reproduces preprocess_ref.cc: integer sampling is bit-exact (pmaddubsw with
// 7-bit column weights, pmaddwd with 14-bit row weights), float stage uses the
// same ops in the same order (no FMA).
//
// No gathers: for each quad of 4 output positions one 16-byte window of the
// source row is loaded (K windows when the taps are spread wider) and the tap
// bytes are picked with vpshufb from precomputed masks (simd_tables.cc). A
// block is 16 positions: two 128-bit windows per 256-bit register, registers A
// (quads 0, 1) and B (quads 2, 3).
//
// ODR hygiene: nothing here instantiates a std:: template or runs static
// initializers, so no AVX2 code can leak into baseline paths.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <immintrin.h>

#include <cstring>

#include "preprocess/kernel_driver-inl.h"
#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {
namespace {

// Per-block helpers (the output stores, the direct path's blocks) are forced
// inline: this unit is past g++'s --param inline-unit-growth budget, so plain
// `inline` ones became calls per block in some instantiations, depending on
// what else the unit holds (the area-rgb path tipped it: f16/uint8 outputs and
// rotated configurations ran 10-35% slower).
#define EDGERUN_INLINE inline __attribute__((always_inline))
// Hides a value's origin from clang's optimizer (no instruction emitted); see
// the uniform loop. g++ already makes the better choice there without it.
#if defined(__clang__)
#define EDGERUN_OPAQUE(x) __asm__("" : "+r"(x))
#else
#define EDGERUN_OPAQUE(x) static_cast<void>(0)
#endif

inline __m256i Load2(const uint8_t* lo, const uint8_t* hi) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo))),
                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi)), 1);
}
inline __m256i LoadMask(const uint8_t* m) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m)); }

// A dword of two int16: (lo, hi), for pmaddwd.
inline __m256i Pair(int lo, int hi) {
  return _mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(hi) << 16) | (static_cast<uint32_t>(lo) & 0xffffu)));
}

// Phase 1, per-pixel packed mode (3/4-byte pixels, 3 channels): slot rows by slot index.
inline __m256i LoadPix4(const uint8_t* row, const int32_t* w) {
  __m128i l0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + w[0]));
  l0 = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(l0), reinterpret_cast<const double*>(row + w[1])));
  __m128i l1 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + w[2]));
  l1 = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(l1), reinterpret_cast<const double*>(row + w[3])));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(l0), l1, 1);
}

EDGERUN_INLINE void PackedBlockFloats(const KView& kv, const uint8_t* ra, const uint8_t* rb, bool same, __m256i wyv, int b,
                              __m256* f) {
  const int32_t* w = kv.pwin + static_cast<size_t>(b) * 8;
  const __m256i mA = LoadMask(kv.pmask + static_cast<size_t>(b) * 64);
  const __m256i mB = LoadMask(kv.pmask + static_cast<size_t>(b) * 64 + 32);
  const __m256i wA = LoadMask(kv.pw + static_cast<size_t>(b) * 64);
  const __m256i wB = LoadMask(kv.pw + static_cast<size_t>(b) * 64 + 32);
  const __m256i hA0 = _mm256_maddubs_epi16(_mm256_shuffle_epi8(LoadPix4(ra, w), mA), wA);
  const __m256i hB0 = _mm256_maddubs_epi16(_mm256_shuffle_epi8(LoadPix4(ra, w + 4), mB), wB);
  __m256i hA1 = hA0, hB1 = hB0;
  if (!same) {
    hA1 = _mm256_maddubs_epi16(_mm256_shuffle_epi8(LoadPix4(rb, w), mA), wA);
    hB1 = _mm256_maddubs_epi16(_mm256_shuffle_epi8(LoadPix4(rb, w + 4), mB), wB);
  }
  // f[0] = [p0|p4], f[1] = [p1|p5], f[2] = [p2|p6], f[3] = [p3|p7]; lanes [c0 c1 c2 x]
  f[0] = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_unpacklo_epi16(hA0, hA1), wyv));
  f[1] = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_unpackhi_epi16(hA0, hA1), wyv));
  f[2] = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_unpacklo_epi16(hB0, hB1), wyv));
  f[3] = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_unpackhi_epi16(hB0, hB1), wyv));
}

void SampleLinePacked(const KView& kv, const uint8_t* ra, const uint8_t* rb, __m256i wyv, const uint8_t*, int nb,
                      float* const* dst, PrefetchSlice pf) {
  const bool same = ra == rb;
  for (int b = 0; b < nb * 2; ++b) {
    pf.At(b);
    __m256 f[4];  // [p0|p4], [p1|p5], [p2|p6], [p3|p7]; lanes [c0 c1 c2 x]
    PackedBlockFloats(kv, ra, rb, same, wyv, b, f);
    const __m256 t0 = _mm256_unpacklo_ps(f[0], f[1]), t1 = _mm256_unpackhi_ps(f[0], f[1]);
    const __m256 t2 = _mm256_unpacklo_ps(f[2], f[3]), t3 = _mm256_unpackhi_ps(f[2], f[3]);
    _mm256_storeu_ps(dst[0] + b * 8, _mm256_shuffle_ps(t0, t2, 0x44));
    _mm256_storeu_ps(dst[1] + b * 8, _mm256_shuffle_ps(t0, t2, 0xEE));
    _mm256_storeu_ps(dst[2] + b * 8, _mm256_shuffle_ps(t1, t3, 0x44));
  }
}

// Packed mode straight to NHWC RGB/BGR (op kCopy, 3 channels): per-pixel
// [c0 c1 c2 x] vectors are normalized with per-lane constants and compacted to
// the output (channel order baked into the compaction), skipping the slot rows.
// Same float ops as PostLine (p*A + B per channel), so results are identical.
struct DirectConsts {
  __m256 A, B, qlo, qhi;
  __m256i zp16, pack8, perm32;
  bool qclamp;
};
// Writes 8 pixels (24 elements) at d, plus up to 4 bytes of spill after them
// unless EXACT. LEAN drops ops that are identities for this plan:
//   float outputs: the channel permutation (output order == slot order);
//   integer outputs: "+ B" (all B == 0: p*A + 0 == p*A up to the sign of zero,
//   which rounding to an integer erases), "+ zp" (zp == 0) and the clamp (!qclamp).
template <ElemType T, bool EXACT, bool LEAN>
EDGERUN_INLINE void DirectStore8(__m256* f, const DirectConsts& k, uint8_t* d) {
  constexpr bool kInt = T == ElemType::kUInt8 || T == ElemType::kInt8;
  if (kInt && LEAN) {
    for (int i = 0; i < 4; ++i) f[i] = _mm256_mul_ps(f[i], k.A);
  } else {
    for (int i = 0; i < 4; ++i) f[i] = _mm256_add_ps(_mm256_mul_ps(f[i], k.A), k.B);
  }
  if (T == ElemType::kFloat32 || T == ElemType::kFloat16) {
    // pixel order p0..p7 = f0.lo f1.lo f2.lo f3.lo f0.hi f1.hi f2.hi f3.hi; 16/8-byte stores overlap by one element
    if (!LEAN)
      for (int i = 0; i < 4; ++i) f[i] = _mm256_permutevar8x32_ps(f[i], k.perm32);
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 4; ++i) {
        const __m128 v = h ? _mm256_extractf128_ps(f[i], 1) : _mm256_castps256_ps128(f[i]);
        const int px = h * 4 + i;
        if (T == ElemType::kFloat32) {
          float* o = reinterpret_cast<float*>(d) + px * 3;
          if (EXACT && px == 7) {
            _mm_storel_pi(reinterpret_cast<__m64*>(o), v);
            _mm_store_ss(o + 2, _mm_movehl_ps(v, v));
          } else {
            _mm_storeu_ps(o, v);
          }
        } else {
          const __m128i hv = _mm_cvtps_ph(v, 0);
          if (EXACT && px == 7) {
            const uint32_t lo = static_cast<uint32_t>(_mm_cvtsi128_si32(hv));
            const uint16_t hi = static_cast<uint16_t>(_mm_extract_epi16(hv, 2));
            std::memcpy(d + px * 6, &lo, 4);
            std::memcpy(d + px * 6 + 4, &hi, 2);
          } else {
            _mm_storel_epi64(reinterpret_cast<__m128i*>(d + px * 6), hv);
          }
        }
      }
  } else {
    __m256i q[4];
    if (!LEAN && k.qclamp)
      for (int i = 0; i < 4; ++i) f[i] = _mm256_min_ps(_mm256_max_ps(f[i], k.qlo), k.qhi);
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(f[i]);
    __m256i x = _mm256_packs_epi32(q[0], q[1]);  // [p0 p1 | p4 p5]
    __m256i y = _mm256_packs_epi32(q[2], q[3]);  // [p2 p3 | p6 p7]
    if (!LEAN) {
      x = _mm256_adds_epi16(x, k.zp16);
      y = _mm256_adds_epi16(y, k.zp16);
    }
    const __m256i bytes = T == ElemType::kInt8 ? _mm256_packs_epi16(x, y) : _mm256_packus_epi16(x, y);
    const __m256i c = _mm256_shuffle_epi8(bytes, k.pack8);  // 12 bytes per lane
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm256_castsi256_si128(c));  // spill overwritten next
    const __m128i hi = _mm256_extracti128_si256(c, 1);
    if (EXACT) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(d + 12), hi);
      const uint32_t last = static_cast<uint32_t>(_mm_extract_epi32(hi, 2));
      std::memcpy(d + 20, &last, 4);
    } else {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 12), hi);
    }
  }
}

// Uniform packed mode (see plan.h): register r of an 8-block holds positions
// r and r + 4 (as PackedBlockFloats). Per lane, row a's window is loaded at the
// position's offset and row b's 8 bytes earlier, so a dword blend gives
// [row a window 8 bytes | row b window 8 bytes]; one constant shuffle puts the
// (a, b) tap pairs of slot sl for row a at word 2sl and for row b at 2sl + 1,
// so pmaddubsw gives [h0 h1] per slot and pmaddwd the sampled value.
struct UniConsts {
  __m256i mask, w;
  ptrdiff_t off[8];  // window offset of position k of a block, relative to the block's first
  ptrdiff_t step;    // bytes per block
};
// rb8: row b's block start minus 8.
EDGERUN_INLINE void UniformBlockFloats(const UniConsts& u, const uint8_t* ra, const uint8_t* rb8, __m256i wyv,
                                       __m256* f) {
  for (int r = 0; r < 4; ++r) {
    const __m256i A = Load2(ra + u.off[r], ra + u.off[r + 4]);
    const __m256i B = Load2(rb8 + u.off[r], rb8 + u.off[r + 4]);
    const __m256i x = _mm256_shuffle_epi8(_mm256_blend_epi32(A, B, 0xCC), u.mask);
    f[r] = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(x, u.w), wyv));
  }
}

// Blocks [b0, b1) of a line through the per-position tables.
template <ElemType T, bool LEAN, bool PF>
EDGERUN_INLINE void PackedBlocks(const KView& lv, const uint8_t* ra, const uint8_t* rb, bool same, __m256i wyv,
                                 const DirectConsts& lk, uint8_t* dst, int npos, uint8_t* tail, int b0, int b1,
                                 PrefetchSlice pf) {
  constexpr size_t es = T == ElemType::kFloat32 ? 4 : T == ElemType::kFloat16 ? 2 : 1;
  // Rows a and b rarely coincide in packed mode (large downscales). g++ runs the
  // loop best with the skip; clang keeps both paths' values alive across the
  // branch and runs ~9% slower (BGR 1280x720 -> 300 f32) than without it.
#if defined(__clang__)
  constexpr bool kSkipSameRow = false;
#else
  constexpr bool kSkipSameRow = true;
#endif
  for (int b = b0; b < b1; ++b) {
    if (PF) pf.At(b);
    __m256 f[4];
    PackedBlockFloats(lv, ra, rb, kSkipSameRow && same, wyv, b, f);
    uint8_t* d = dst + static_cast<size_t>(b) * 24 * es;
    const int after = npos - (b + 1) * 8;  // positions after this block
    if (after >= 2) {
      DirectStore8<T, false, LEAN>(f, lk, d);  // spills at most 4 bytes / one element into block b + 1, written next
    } else if (after >= 0) {
      DirectStore8<T, true, LEAN>(f, lk, d);  // full block, nothing of block b + 1 to overwrite
    } else {
      DirectStore8<T, true, LEAN>(f, lk, tail);
      const int valid = npos - b * 8 < 8 ? npos - b * 8 : 8;
      std::memcpy(d, tail, static_cast<size_t>(valid) * 3 * es);
    }
  }
}

template <ElemType T, bool LEAN, bool PF>
void DirectPackedLine(const KView& kv, const uint8_t* ra, const uint8_t* rb, __m256i wyv, int npos,
                      const DirectConsts& k, uint8_t* dst, uint8_t* tail, PrefetchSlice pf) {
  constexpr size_t es = T == ElemType::kFloat32 ? 4 : T == ElemType::kFloat16 ? 2 : 1;
  const bool same = ra == rb;
  const int n8 = (npos + 7) / 8;
  // Local copies: the output stores may alias anything, so fields read through
  // references would be reloaded after every block.
  KView lv;
  lv.pwin = kv.pwin;
  lv.pmask = kv.pmask;
  lv.pw = kv.pw;
  const DirectConsts lk = k;
  int b = 0;
  if (kv.ustride > 0) {
    PackedBlocks<T, LEAN, PF>(lv, ra, rb, same, wyv, lk, dst, npos, tail, b, kv.ublock0, pf);  // row-b loads before the row
    b = kv.ublock0;
    UniConsts u;
    u.mask = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kv.umask)));
    u.w = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kv.uw)));
    for (int i = 0; i < 8; ++i) u.off[i] = static_cast<ptrdiff_t>(i) * kv.ustride;
    u.step = static_cast<ptrdiff_t>(kv.ustride) * 8;
    // Row b's windows start 8 bytes early: one offset register per position serves both rows.
    const uint8_t* pa = ra + kv.ubase + b * u.step;
    const uint8_t* pb8 = rb + kv.ubase + b * u.step - 8;
    const int ub1 = kv.ublocks;
    for (; b < ub1; ++b, pa += u.step, pb8 += u.step) {
      // Opaque row pointers: clang otherwise strength-reduces the 16 window
      // addresses (pa|pb8 + off[r]) into 16 induction pointers, most of them
      // spilled to the stack (~30% slower than base + index addressing).
      EDGERUN_OPAQUE(pa);
      EDGERUN_OPAQUE(pb8);
      if (PF) pf.At(b);
      __m256 f[4];
      UniformBlockFloats(u, pa, pb8, wyv, f);
      uint8_t* d = dst + static_cast<size_t>(b) * 24 * es;
      if (npos - (b + 1) * 8 >= 2) DirectStore8<T, false, LEAN>(f, lk, d);
      else DirectStore8<T, true, LEAN>(f, lk, d);
    }
  }
  PackedBlocks<T, LEAN, PF>(lv, ra, rb, same, wyv, lk, dst, npos, tail, b, n8, pf);
}

using DirectFn = void (*)(const KView&, const uint8_t*, const uint8_t*, __m256i, int, const DirectConsts&, uint8_t*,
                          uint8_t*, PrefetchSlice);

// ---- stores: o[c][h] = channel c of positions 8h..8h+7 ----
EDGERUN_INLINE void Interleave3(__m256 r, __m256 g, __m256 b, __m256* out) {
  const __m256 R = _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
  const __m256 G = _mm256_permutevar8x32_ps(g, _mm256_setr_epi32(5, 0, 3, 6, 1, 4, 7, 2));
  const __m256 B = _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));
  out[0] = _mm256_blend_ps(_mm256_blend_ps(R, G, 0x92), B, 0x24);
  out[1] = _mm256_blend_ps(_mm256_blend_ps(R, G, 0x24), B, 0x49);
  out[2] = _mm256_blend_ps(_mm256_blend_ps(R, G, 0x49), B, 0x92);
}

EDGERUN_INLINE void StoreF32(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc) {
  if (nhwc && C == 3) {
    float* d = reinterpret_cast<float*>(dst);
    for (int h = 0; h < 2; ++h) {
      __m256 v[3];
      Interleave3(o[0][h], o[1][h], o[2][h], v);
      _mm256_storeu_ps(d + h * 24, v[0]);
      _mm256_storeu_ps(d + h * 24 + 8, v[1]);
      _mm256_storeu_ps(d + h * 24 + 16, v[2]);
    }
    return;
  }
  for (int c = 0; c < C; ++c) {
    float* d = reinterpret_cast<float*>(dst + c * ps);
    _mm256_storeu_ps(d, o[c][0]);
    _mm256_storeu_ps(d + 8, o[c][1]);
  }
}

EDGERUN_INLINE void StoreF16(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc) {
  if (nhwc && C == 3) {
    __m128i* d = reinterpret_cast<__m128i*>(dst);
    for (int h = 0; h < 2; ++h) {
      __m256 v[3];
      Interleave3(o[0][h], o[1][h], o[2][h], v);
      for (int i = 0; i < 3; ++i) _mm_storeu_si128(d + h * 3 + i, _mm256_cvtps_ph(v[i], 0));
    }
    return;
  }
  for (int c = 0; c < C; ++c) {
    __m128i* d = reinterpret_cast<__m128i*>(dst + c * ps);
    _mm_storeu_si128(d, _mm256_cvtps_ph(o[c][0], 0));
    _mm_storeu_si128(d + 1, _mm256_cvtps_ph(o[c][1], 0));
  }
}

template <bool SIGNED, class K>
EDGERUN_INLINE __m128i Quant16(__m256 a, __m256 b, const K& k) {
  // clamp(rne(x), qlo, qhi) + zp == sat8(sat16(sat16(rne(x)) + zp)) whenever rne(x) fits int32
  if (k.qclamp) {
    a = _mm256_min_ps(_mm256_max_ps(a, k.qlo), k.qhi);
    b = _mm256_min_ps(_mm256_max_ps(b, k.qlo), k.qhi);
  }
  const __m256i ia = _mm256_cvtps_epi32(a), ib = _mm256_cvtps_epi32(b);
  __m256i s = _mm256_permute4x64_epi64(_mm256_packs_epi32(ia, ib), 0xD8);
  s = _mm256_adds_epi16(s, k.zp16);
  const __m128i lo = _mm256_castsi256_si128(s), hi = _mm256_extracti128_si256(s, 1);
  return SIGNED ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
}

alignas(16) const int8_t kIlv[9][16] = {
    {0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1, 5},
    {-1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1},
    {-1, -1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1},
    {-1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10, -1},
    {5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10},
    {-1, 5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1},
    {-1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1, -1},
    {-1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1},
    {10, -1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15},
};

// 16 bytes of each of three channels -> 48 bytes of 3-byte pixels at dst.
EDGERUN_INLINE void Interleave3x16(const __m128i* q, uint8_t* dst) {
  for (int i = 0; i < 3; ++i) {
    const __m128i* m = reinterpret_cast<const __m128i*>(kIlv[i * 3]);
    __m128i v = _mm_or_si128(_mm_shuffle_epi8(q[0], _mm_load_si128(m)), _mm_shuffle_epi8(q[1], _mm_load_si128(m + 1)));
    v = _mm_or_si128(v, _mm_shuffle_epi8(q[2], _mm_load_si128(m + 2)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst) + i, v);
  }
}

// Bytes p[0], p[step], ..., p[15 * step] (step 1, 2 or 4).
inline __m128i Strided16(const uint8_t* p, int step) {
  const __m128i* v = reinterpret_cast<const __m128i*>(p);
  if (step == 1) return _mm_loadu_si128(v);
  if (step == 2) {
    const __m128i m = _mm_set1_epi16(0xff);
    return _mm_packus_epi16(_mm_and_si128(_mm_loadu_si128(v), m), _mm_and_si128(_mm_loadu_si128(v + 1), m));
  }
  const __m128i m = _mm_set1_epi32(0xff);
  const __m128i lo = _mm_packus_epi32(_mm_and_si128(_mm_loadu_si128(v), m), _mm_and_si128(_mm_loadu_si128(v + 1), m));
  const __m128i hi = _mm_packus_epi32(_mm_and_si128(_mm_loadu_si128(v + 2), m), _mm_and_si128(_mm_loadu_si128(v + 3), m));
  return _mm_packus_epi16(lo, hi);
}

template <bool SIGNED, class K>
EDGERUN_INLINE void StoreQ8(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc, const K& k) {
  __m128i q[3];
  for (int c = 0; c < C; ++c) q[c] = Quant16<SIGNED, K>(o[c][0], o[c][1], k);
  if (nhwc && C == 3) {
    Interleave3x16(q, dst);
    return;
  }
  for (int c = 0; c < C; ++c) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + c * ps), q[c]);
}

template <ElemType T, class K>
EDGERUN_INLINE void StoreAny(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc, const K& k) {
  if (T == ElemType::kFloat32) StoreF32(o, dst, ps, C, nhwc);
  else if (T == ElemType::kFloat16) StoreF16(o, dst, ps, C, nhwc);
  else if (T == ElemType::kUInt8) StoreQ8<false>(o, dst, ps, C, nhwc, k);
  else StoreQ8<true>(o, dst, ps, C, nhwc, k);
}

// The driver's primitives at AVX2 width (see kernel_driver-inl.h).
struct Avx2 {
  static constexpr int kBlock = 16, kLanes = 8;
  static constexpr int kWinPerK = 4;    // windows of quads 0..3 per k
  static constexpr int kMaskBytes = 64; // masks for registers A and B
  static constexpr int kColWBytes = 32;
  static constexpr bool kPackedMode = true;
  using F = __m256;
  using I16 = __m256i;
  using Bytes = __m256i;  // u8 (a, b) pairs in slot order
  using Hor = __m256i;    // int16 x 16 in slot order [p0-3, p8-11 | p4-7, p12-15]
  using ColW = __m256i;
  using RowW = __m256i;   // int16 pairs (16384 - wy, wy)
  struct Win {
    __m256i a, b;  // quads 0, 1 | quads 2, 3
  };
  struct TapConsts {  // YuvSampling::kRgb: (y, 1) and (v, u) coefficient pairs
    __m256i ysub, c128, one16, cy, cr, cg, cb;
  };

  static F Set1(float x) { return _mm256_set1_ps(x); }
  static I16 Set1I16(int16_t x) { return _mm256_set1_epi16(x); }
  static F Load(const float* p) { return _mm256_loadu_ps(p); }
  static F Mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F Add(F a, F b) { return _mm256_add_ps(a, b); }
  static F Min(F a, F b) { return _mm256_min_ps(a, b); }
  static F Max(F a, F b) { return _mm256_max_ps(a, b); }

  static Win LoadWin(const uint8_t* row, const int32_t* w) {
    return Win{Load2(row + w[0], row + w[1]), Load2(row + w[2], row + w[3])};
  }
  static Bytes PickTaps(const Win& w, const uint8_t* m) {
    return _mm256_or_si256(_mm256_shuffle_epi8(w.a, LoadMask(m)), _mm256_shuffle_epi8(w.b, LoadMask(m + 32)));
  }
  static Bytes Or(Bytes a, Bytes b) { return _mm256_or_si256(a, b); }
  static ColW LoadColW(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Hor MulCols(Bytes taps, ColW w) { return _mm256_maddubs_epi16(taps, w); }
  static RowW RowWeights(int wy) {
    return _mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(wy) << 16) | (kRowOne - wy)));
  }
  // The unpack of rows a and b turns the slot order into natural order.
  static void StoreRows(Hor h0, Hor h1, RowW wy, float* dst) {
    const __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(h0, h1), wy);
    const __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(h0, h1), wy);
    _mm256_storeu_ps(dst, _mm256_cvtepi32_ps(lo));
    _mm256_storeu_ps(dst + 8, _mm256_cvtepi32_ps(hi));
  }

  static void MakeTapConsts(const KPlan& p, TapConsts* t) {
    t->ysub = _mm256_set1_epi8(static_cast<char>(p.ty));
    t->c128 = _mm256_set1_epi16(128);
    t->one16 = _mm256_set1_epi16(1);
    t->cy = Pair(p.tcy, 4096);
    t->cr = Pair(p.tcvr, 0);
    t->cg = Pair(p.tcvg, p.tcug);
    t->cb = Pair(0, p.tcub);
  }
  // 32 (Y, U, V) taps -> uint8 R, G, B in the same byte positions, exactly
  // FetchTapRef's integer formula (pmaddwd on (y, 1) and (v, u) pairs).
  static void TapsToRgb(__m256i Y, __m256i U, __m256i V, const TapConsts& t, __m256i* rgb) {
    const __m256i z = _mm256_setzero_si256();
    const __m256i ys = _mm256_subs_epu8(Y, t.ysub);  // max(Y - 16, 0)
    __m256i c16[3][2];
    for (int h = 0; h < 2; ++h) {
      const __m256i y16 = h ? _mm256_unpackhi_epi8(ys, z) : _mm256_unpacklo_epi8(ys, z);
      const __m256i u16 = _mm256_sub_epi16(h ? _mm256_unpackhi_epi8(U, z) : _mm256_unpacklo_epi8(U, z), t.c128);
      const __m256i v16 = _mm256_sub_epi16(h ? _mm256_unpackhi_epi8(V, z) : _mm256_unpacklo_epi8(V, z), t.c128);
      __m256i c32[3][2];
      for (int q = 0; q < 2; ++q) {
        const __m256i yp = q ? _mm256_unpackhi_epi16(y16, t.one16) : _mm256_unpacklo_epi16(y16, t.one16);
        const __m256i vu = q ? _mm256_unpackhi_epi16(v16, u16) : _mm256_unpacklo_epi16(v16, u16);
        const __m256i ycy = _mm256_madd_epi16(yp, t.cy);
        c32[0][q] = _mm256_srai_epi32(_mm256_add_epi32(ycy, _mm256_madd_epi16(vu, t.cr)), 13);
        c32[1][q] = _mm256_srai_epi32(_mm256_add_epi32(ycy, _mm256_madd_epi16(vu, t.cg)), 13);
        c32[2][q] = _mm256_srai_epi32(_mm256_add_epi32(ycy, _mm256_madd_epi16(vu, t.cb)), 13);
      }
      for (int c = 0; c < 3; ++c) c16[c][h] = _mm256_packs_epi32(c32[c][0], c32[c][1]);
    }
    for (int c = 0; c < 3; ++c) rgb[c] = _mm256_packus_epi16(c16[c][0], c16[c][1]);
  }

  // YuvSampling::kRgb rows (KPlan::rgb_rows): 32 pixels, Y at y[i * ystep],
  // chroma of pixel pair i at u[i * cstep], v[i * cstep] -> 96 bytes of RGB.
  static constexpr int kRgbPx = 32;
  static void YuvRowToRgb(const uint8_t* y, int ystep, const uint8_t* u, const uint8_t* v, int cstep,
                          const TapConsts& t, uint8_t* dst) {
    const __m256i Y = ystep == 1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y))
                                 : _mm256_set_m128i(Strided16(y + 16 * ystep, ystep), Strided16(y, ystep));
    const __m128i u16 = Strided16(u, cstep), v16 = Strided16(v, cstep);
    const __m256i U = _mm256_set_m128i(_mm_unpackhi_epi8(u16, u16), _mm_unpacklo_epi8(u16, u16));
    const __m256i V = _mm256_set_m128i(_mm_unpackhi_epi8(v16, v16), _mm_unpacklo_epi8(v16, v16));
    __m256i rgb[3];
    TapsToRgb(Y, U, V, t, rgb);
    for (int h = 0; h < 2; ++h) {
      __m128i q[3];
      for (int c = 0; c < 3; ++c) q[c] = h ? _mm256_extracti128_si256(rgb[c], 1) : _mm256_castsi256_si128(rgb[c]);
      Interleave3x16(q, dst + 48 * h);
    }
  }

  template <ElemType T, int C, bool NHWC, class K>
  static void Store(F (*o)[2], uint8_t* dst, size_t ps, const K& k) {
    StoreAny<T>(o, dst, ps, C, NHWC, k);
  }

  // Area, vertical pass: acc[x] = sum_r w[r] * row_r[x] for x in [lo, hi).
  // Rows go in pairs through pmaddubsw ((row r, row r+1) bytes x (w_r, w_r+1)):
  // weights <= 127 summing to <= 128 keep every int16 sum exact. 32 bytes per
  // step; the last step is moved back to end at hi (it rewrites the same values).
  static void AreaVertical(const uint8_t* plane, ptrdiff_t stride, const int32_t* rows, const uint8_t* w, int n,
                           int lo, int hi, int16_t* acc, PrefetchSlice pf) {
    if (hi - lo < 32) {
      for (int x = lo; x < hi; ++x) {
        int s = 0;
        for (int r = 0; r < n; ++r) s += w[r] * plane[static_cast<ptrdiff_t>(rows[r]) * stride + x];
        acc[x] = static_cast<int16_t>(s);
      }
      return;
    }
    const __m256i z = _mm256_setzero_si256();
    for (int x = lo;; x += 32) {
      if (x > hi - 32) x = hi - 32;
      pf.At((x - lo) >> 5);
      __m256i s0 = z, s1 = z;
      int r = 0;
      for (; r + 1 < n; r += 2) {
        const __m256i a = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(plane + static_cast<ptrdiff_t>(rows[r]) * stride + x));
        const __m256i b = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(plane + static_cast<ptrdiff_t>(rows[r + 1]) * stride + x));
        const __m256i wp = _mm256_set1_epi16(static_cast<int16_t>(w[r] | (w[r + 1] << 8)));
        s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_unpacklo_epi8(a, b), wp));
        s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_unpackhi_epi8(a, b), wp));
      }
      if (r < n) {
        const __m256i a = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(plane + static_cast<ptrdiff_t>(rows[r]) * stride + x));
        const __m256i wp = _mm256_set1_epi16(static_cast<int16_t>(w[r]));
        s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_unpacklo_epi8(a, z), wp));
        s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_unpackhi_epi8(a, z), wp));
      }
      // s0 = x+0..7 | x+16..23, s1 = x+8..15 | x+24..31
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + x), _mm256_permute2x128_si256(s0, s1, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + x + 16), _mm256_permute2x128_si256(s0, s1, 0x31));
      if (x == hi - 32) break;
    }
  }
  // Area, horizontal pass: positions i and i + 4 of an 8-block share a
  // register (one per 128-bit lane); pmaddwd of 8-wide chunks, hadd to sums.
  // Integer-ratio views (KView::uwidth): 8 positions from contiguous loads;
  // reversed axes compute the block's positions in memory order and reverse.
  template <int NCH>
  static void AreaHorizontalUniform(const KView& kv, const int16_t* acc, int npos, float scale, float* const* dst) {
    const int W = kv.uwidth;
    const __m256 sc = _mm256_set1_ps(scale);
    const __m256i rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    __m256i pat[NCH];
    for (int c = 0; c < NCH; ++c) pat[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kv.upat[c]));
    const int w1 = kv.upat[0][0];  // W == 1: one channel, its weight at every lane
    for (int i0 = 0; i0 < npos; i0 += 8) {
      // Lowest unit of the block's 8 positions.
      const int16_t* x = acc + kv.hbase[0] + (kv.udir > 0 ? i0 : -(i0 + 7)) * W;
      __m256i v[NCH];
      if (W == 1) {
        v[0] = _mm256_mullo_epi32(_mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x))),
                                  _mm256_set1_epi32(w1));
        for (int c = 1; c < NCH; ++c) v[c] = v[0];  // (one channel when W == 1)
      } else if (W == 2) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
        for (int c = 0; c < NCH; ++c) v[c] = _mm256_madd_epi16(a, pat[c]);
      } else {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 16));
        for (int c = 0; c < NCH; ++c)  // [p0 p1 p4 p5 | p2 p3 p6 p7] -> natural order
          v[c] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(_mm256_madd_epi16(a, pat[c]), _mm256_madd_epi16(b, pat[c])),
                                          0xD8);
      }
      for (int c = 0; c < NCH; ++c) {
        if (kv.udir < 0) v[c] = _mm256_permutevar8x32_epi32(v[c], rev);
        _mm256_storeu_ps(dst[c] + i0, _mm256_mul_ps(_mm256_cvtepi32_ps(v[c]), sc));
      }
    }
  }
  // KC > 0: the chunk count as a constant (unrolled; kv.hK == KC), 0: kv.hK.
  template <int NCH, int KC>
  static void AreaHorizontal(const KView& kv, const int16_t* acc, int npos, float scale, float* const* dst) {
    const int K = KC > 0 ? KC : kv.hK;
    const __m256 sc = _mm256_set1_ps(scale);
    const size_t wstep = static_cast<size_t>(K) * NCH * 8;
    for (int i0 = 0; i0 < npos; i0 += 8) {
      __m256i r[NCH][4];
      for (int q = 0; q < 4; ++q) {
        const uint8_t* xa = reinterpret_cast<const uint8_t*>(acc + kv.hbase[i0 + q]);
        const uint8_t* xb = reinterpret_cast<const uint8_t*>(acc + kv.hbase[i0 + q + 4]);
        const uint8_t* wa = reinterpret_cast<const uint8_t*>(kv.hw + (i0 + q) * wstep);
        const uint8_t* wb = reinterpret_cast<const uint8_t*>(kv.hw + (i0 + q + 4) * wstep);
        __m256i sum[NCH];
        for (int c = 0; c < NCH; ++c) sum[c] = _mm256_setzero_si256();
        for (int k = 0; k < K; ++k) {
          const __m256i x = Load2(xa + 16 * k, xb + 16 * k);
          for (int c = 0; c < NCH; ++c) {
            const __m256i wv = Load2(wa + (k * NCH + c) * 16, wb + (k * NCH + c) * 16);
            sum[c] = _mm256_add_epi32(sum[c], _mm256_madd_epi16(x, wv));
          }
        }
        for (int c = 0; c < NCH; ++c) r[c][q] = sum[c];
      }
      for (int c = 0; c < NCH; ++c) {
        const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(r[c][0], r[c][1]), _mm256_hadd_epi32(r[c][2], r[c][3]));
        _mm256_storeu_ps(dst[c] + i0, _mm256_mul_ps(_mm256_cvtepi32_ps(t), sc));
      }
    }
  }

  // Packed mode (see plan.h): per-pixel tables, slot rows by slot index.
  static void SamplePacked(const KView& kv, const uint8_t* ra, const uint8_t* rb, RowW wy, const uint8_t* wcol,
                           int nb, float* const* dst, PrefetchSlice pf) {
    SampleLinePacked(kv, ra, rb, wy, wcol, nb, dst, pf);
  }
  // Packed RGB-family view -> NHWC rgb/bgr, whole lines.
  struct Direct {
    DirectFn fn = nullptr, fn_pf = nullptr;  // without / with prefetch
    DirectConsts dk;
    bool Init(const KPlan& p);
    void Line(const KView& kv, const uint8_t* ra, const uint8_t* rb, RowW wy, int npos, uint8_t* dst,
              uint8_t* tail, PrefetchSlice pf) const {
      (pf.n > 0 ? fn_pf : fn)(kv, ra, rb, wy, npos, dk, dst, tail, pf);
    }
  };
};

bool Avx2::Direct::Init(const KPlan& p) {
  if (!(p.nviews == 1 && p.views[0].packed && p.op == ColorOp::kCopy && p.out_c == 3 && p.layout == Layout::kNHWC))
    return false;
  int inv[3];  // slot -> output channel
  for (int c = 0; c < 3; ++c) inv[p.perm[c]] = c;
  float A[8], B[8];
  for (int h = 0; h < 2; ++h) {
    for (int s = 0; s < 3; ++s) {
      A[h * 4 + s] = p.A[inv[s]];
      B[h * 4 + s] = p.B[inv[s]];
    }
    A[h * 4 + 3] = 0.f;
    B[h * 4 + 3] = 0.f;
  }
  dk.A = _mm256_loadu_ps(A);
  dk.B = _mm256_loadu_ps(B);
  dk.qlo = _mm256_set1_ps(p.qlo);
  dk.qhi = _mm256_set1_ps(p.qhi);
  dk.zp16 = _mm256_set1_epi16(static_cast<short>(p.zp));
  dk.qclamp = p.qclamp;
  alignas(32) int8_t m8[32];
  for (int L = 0; L < 2; ++L)
    for (int i = 0; i < 16; ++i) m8[L * 16 + i] = i < 12 ? static_cast<int8_t>((i / 3) * 4 + p.perm[i % 3]) : -1;
  dk.pack8 = _mm256_load_si256(reinterpret_cast<const __m256i*>(m8));
  dk.perm32 = _mm256_setr_epi32(p.perm[0], p.perm[1], p.perm[2], 3, 4 + p.perm[0], 4 + p.perm[1], 4 + p.perm[2], 7);
  // LEAN variants (see DirectStore8): identity permutation for float outputs;
  // B == 0, zp == 0 and no float clamp for integer outputs.
  const bool ident = p.perm[0] == 0 && p.perm[1] == 1 && p.perm[2] == 2;
  const bool int_lean = p.B[0] == 0.f && p.B[1] == 0.f && p.B[2] == 0.f && p.zp == 0 && !p.qclamp;
  switch (p.type) {
    case ElemType::kFloat32:
      fn = ident ? DirectPackedLine<ElemType::kFloat32, true, false> : DirectPackedLine<ElemType::kFloat32, false, false>;
      fn_pf = ident ? DirectPackedLine<ElemType::kFloat32, true, true> : DirectPackedLine<ElemType::kFloat32, false, true>;
      break;
    case ElemType::kFloat16:
      fn = ident ? DirectPackedLine<ElemType::kFloat16, true, false> : DirectPackedLine<ElemType::kFloat16, false, false>;
      fn_pf = ident ? DirectPackedLine<ElemType::kFloat16, true, true> : DirectPackedLine<ElemType::kFloat16, false, true>;
      break;
    case ElemType::kUInt8:
      fn = int_lean ? DirectPackedLine<ElemType::kUInt8, true, false> : DirectPackedLine<ElemType::kUInt8, false, false>;
      fn_pf = int_lean ? DirectPackedLine<ElemType::kUInt8, true, true> : DirectPackedLine<ElemType::kUInt8, false, true>;
      break;
    case ElemType::kInt8:
      fn = int_lean ? DirectPackedLine<ElemType::kInt8, true, false> : DirectPackedLine<ElemType::kInt8, false, false>;
      fn_pf = int_lean ? DirectPackedLine<ElemType::kInt8, true, true> : DirectPackedLine<ElemType::kInt8, false, true>;
      break;
  }
  return true;
}

}  // namespace

void KernelAvx2(const KPlan& p, const Image& img, uint8_t* out, int j0, int j1, uint8_t* scratch) {
  KernelDriver<Avx2>(p, img, out, j0, j1, scratch);
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
