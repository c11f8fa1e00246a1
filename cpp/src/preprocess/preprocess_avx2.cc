// AVX2 preprocessing kernel (compiled with -mavx2 -mfma -mf16c; called only
// after runtime detection). Reproduces preprocess_ref.cc: integer sampling is
// bit-exact (pmaddubsw with 7-bit column weights, pmaddwd with 14-bit row
// weights), float stage uses the same ops in the same order (no FMA).
//
// No gathers: for each quad of 4 output positions one 16-byte window of the
// source row is loaded (K windows when the taps are spread wider) and the tap
// bytes are picked with vpshufb from precomputed masks (simd_tables.cc).
//
// ODR hygiene: nothing here instantiates a std:: template or runs static
// initializers, so no AVX2 code can leak into baseline paths.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <immintrin.h>

#include <cstring>

#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {
namespace {

#define EDGERUN_INLINE inline __attribute__((always_inline))

struct Consts {
  __m256 A[3], B[3];
  __m256 ymin, ky, crv, cgu, cgv, cbu, kr, kg, kb, vmax, zero;
  __m256 gw0, gw1, gw2;
  __m256 qlo, qhi;
  __m256i zp16;
  bool qclamp;
};

inline void MakeConsts(const KPlan& p, Consts* k) {
  for (int c = 0; c < 3; ++c) {
    k->A[c] = _mm256_set1_ps(p.A[c]);
    k->B[c] = _mm256_set1_ps(p.B[c]);
  }
  k->ky = _mm256_set1_ps(p.ky);
  k->ymin = _mm256_set1_ps(p.ymin);
  k->crv = _mm256_set1_ps(p.crv);
  k->cgu = _mm256_set1_ps(p.cgu);
  k->cgv = _mm256_set1_ps(p.cgv);
  k->cbu = _mm256_set1_ps(p.cbu);
  k->kr = _mm256_set1_ps(p.kr);
  k->kg = _mm256_set1_ps(p.kg);
  k->kb = _mm256_set1_ps(p.kb);
  k->vmax = _mm256_set1_ps(p.vmax);
  k->zero = _mm256_setzero_ps();
  k->gw0 = _mm256_set1_ps(p.gw[0]);
  k->gw1 = _mm256_set1_ps(p.gw[1]);
  k->gw2 = _mm256_set1_ps(p.gw[2]);
  k->qlo = _mm256_set1_ps(p.qlo);
  k->qhi = _mm256_set1_ps(p.qhi);
  k->zp16 = _mm256_set1_epi16(static_cast<short>(p.zp));
  k->qclamp = p.qclamp;
}

inline __m256i Load2(const uint8_t* lo, const uint8_t* hi) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo))),
                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi)), 1);
}
inline __m256i LoadMask(const uint8_t* m) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m)); }

// Tap bytes of one view for one 16-position block: acc[c] = u8 (a, b) pairs in slot order.
template <int K, int NCH>
inline void GatherRaw(const uint8_t* row, const int32_t* win, const uint8_t* mask, __m256i* acc) {
  for (int k = 0; k < K; ++k) {
    const int32_t* w = win + k * 4;
    const __m256i A = Load2(row + w[0], row + w[1]);
    const __m256i B = Load2(row + w[2], row + w[3]);
    for (int c = 0; c < NCH; ++c) {
      const uint8_t* m = mask + (static_cast<size_t>(k) * NCH + c) * 64;
      const __m256i x = _mm256_or_si256(_mm256_shuffle_epi8(A, LoadMask(m)), _mm256_shuffle_epi8(B, LoadMask(m + 32)));
      acc[c] = k == 0 ? x : _mm256_or_si256(acc[c], x);
    }
  }
}

// Horizontal pass: h[c] = int16 x 16 (slot order).
template <int K, int NCH>
inline void Gather(const uint8_t* row, const int32_t* win, const uint8_t* mask, __m256i wcol, __m256i* h) {
  __m256i acc[NCH];
  GatherRaw<K, NCH>(row, win, mask, acc);
  for (int c = 0; c < NCH; ++c) h[c] = _mm256_maddubs_epi16(acc[c], wcol);
}

void GatherRawAny(int K, int nch, const uint8_t* row, const int32_t* win, const uint8_t* mask, __m256i* acc) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: GatherRaw<1, 1>(row, win, mask, acc); break;
    case 1 * 4 + 2: GatherRaw<1, 2>(row, win, mask, acc); break;
    case 2 * 4 + 1: GatherRaw<2, 1>(row, win, mask, acc); break;
    case 2 * 4 + 2: GatherRaw<2, 2>(row, win, mask, acc); break;
    case 4 * 4 + 1: GatherRaw<4, 1>(row, win, mask, acc); break;
    default: GatherRaw<4, 2>(row, win, mask, acc); break;
  }
}

// YuvSampling::kRgb: 32 (Y, U, V) taps -> uint8 R, G, B in the same byte positions,
// exactly FetchTapRef's integer formula (pmaddwd on (y, 1) and (v, u) pairs).
struct TapConsts {
  __m256i ysub, c128, one16, cy, cr, cg, cb;
};
inline __m256i Pair(int lo, int hi) {
  return _mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(hi) << 16) | (static_cast<uint32_t>(lo) & 0xffffu)));
}
inline void MakeTapConsts(const KPlan& p, TapConsts* t) {
  t->ysub = _mm256_set1_epi8(static_cast<char>(p.ty));
  t->c128 = _mm256_set1_epi16(128);
  t->one16 = _mm256_set1_epi16(1);
  t->cy = Pair(p.tcy, 4096);
  t->cr = Pair(p.tcvr, 0);
  t->cg = Pair(p.tcvg, p.tcug);
  t->cb = Pair(0, p.tcub);
}
inline void TapsToRgb(__m256i Y, __m256i U, __m256i V, const TapConsts& t, __m256i* rgb) {
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

// Phase 1 for YuvSampling::kRgb: all views of a line at once -> R, G, B slot rows.
void SampleLineRgbTaps(const KPlan& p, const uint8_t* const* ra, const uint8_t* const* rb, __m256i wyv,
                       const TapConsts& t, float* const* slots) {
  for (int b = 0; b < p.nblocks; ++b) {
    const __m256i wc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.wcol + static_cast<size_t>(b) * 32));
    __m256i A[3], B[3];
    for (int v = 0; v < p.nviews; ++v) {
      const KView& kv = p.views[v];
      const int32_t* win = kv.win + static_cast<size_t>(b) * kv.K * 4;
      const uint8_t* mask = kv.mask + static_cast<size_t>(b) * kv.K * kv.nch * 64;
      __m256i a[2], bb[2];
      GatherRawAny(kv.K, kv.nch, ra[v], win, mask, a);
      if (ra[v] == rb[v]) {
        bb[0] = a[0];
        bb[1] = a[1];
      } else {
        GatherRawAny(kv.K, kv.nch, rb[v], win, mask, bb);
      }
      for (int c = 0; c < kv.nch; ++c) {
        A[kv.slot[c]] = a[c];
        B[kv.slot[c]] = bb[c];
      }
    }
    __m256i rgbA[3], rgbB[3];
    TapsToRgb(A[0], A[1], A[2], t, rgbA);
    TapsToRgb(B[0], B[1], B[2], t, rgbB);
    for (int c = 0; c < 3; ++c) {
      const __m256i h0 = _mm256_maddubs_epi16(rgbA[c], wc), h1 = _mm256_maddubs_epi16(rgbB[c], wc);
      const __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(h0, h1), wyv);
      const __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(h0, h1), wyv);
      _mm256_storeu_ps(slots[c] + b * 16, _mm256_cvtepi32_ps(lo));
      _mm256_storeu_ps(slots[c] + b * 16 + 8, _mm256_cvtepi32_ps(hi));
    }
  }
}

// Phase 1: one view of one line -> float slot rows (value units), whole blocks.
template <int K, int NCH>
void SampleLine(const KView& kv, const uint8_t* ra, const uint8_t* rb, __m256i wyv, const uint8_t* wcol, int nb,
                float* const* dst) {
  const bool same = ra == rb;
  const size_t mstep = static_cast<size_t>(K) * NCH * 64;
  for (int b = 0; b < nb; ++b) {
    const __m256i wc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wcol + static_cast<size_t>(b) * 32));
    const int32_t* win = kv.win + static_cast<size_t>(b) * K * 4;
    const uint8_t* mask = kv.mask + b * mstep;
    __m256i h0[NCH], h1[NCH];
    Gather<K, NCH>(ra, win, mask, wc, h0);
    if (same) {
      for (int c = 0; c < NCH; ++c) h1[c] = h0[c];
    } else {
      Gather<K, NCH>(rb, win, mask, wc, h1);
    }
    for (int c = 0; c < NCH; ++c) {
      const __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(h0[c], h1[c]), wyv);
      const __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(h0[c], h1[c]), wyv);
      _mm256_storeu_ps(dst[c] + b * 16, _mm256_cvtepi32_ps(lo));
      _mm256_storeu_ps(dst[c] + b * 16 + 8, _mm256_cvtepi32_ps(hi));
    }
  }
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
                      float* const* dst) {
  const bool same = ra == rb;
  for (int b = 0; b < nb * 2; ++b) {
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
EDGERUN_INLINE void UniformBlockFloats(const UniConsts& u, const uint8_t* ra, const uint8_t* rb, __m256i wyv,
                                       __m256* f) {
  for (int r = 0; r < 4; ++r) {
    const __m256i A = Load2(ra + u.off[r], ra + u.off[r + 4]);
    const __m256i B = Load2(rb + u.off[r] - 8, rb + u.off[r + 4] - 8);
    const __m256i x = _mm256_shuffle_epi8(_mm256_blend_epi32(A, B, 0xCC), u.mask);
    f[r] = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(x, u.w), wyv));
  }
}

// Blocks [b0, b1) of a line through the per-position tables.
template <ElemType T, bool LEAN>
EDGERUN_INLINE void PackedBlocks(const KView& lv, const uint8_t* ra, const uint8_t* rb, bool same, __m256i wyv,
                                 const DirectConsts& lk, uint8_t* dst, int npos, uint8_t* tail, int b0, int b1) {
  constexpr size_t es = T == ElemType::kFloat32 ? 4 : T == ElemType::kFloat16 ? 2 : 1;
  for (int b = b0; b < b1; ++b) {
    __m256 f[4];
    PackedBlockFloats(lv, ra, rb, same, wyv, b, f);
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

template <ElemType T, bool LEAN>
void DirectPackedLine(const KView& kv, const uint8_t* ra, const uint8_t* rb, __m256i wyv, int npos,
                      const DirectConsts& k, uint8_t* dst, uint8_t* tail) {
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
    PackedBlocks<T, LEAN>(lv, ra, rb, same, wyv, lk, dst, npos, tail, b, kv.ublock0);  // row-b loads before the row
    b = kv.ublock0;
    UniConsts u;
    u.mask = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kv.umask)));
    u.w = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kv.uw)));
    for (int i = 0; i < 8; ++i) u.off[i] = static_cast<ptrdiff_t>(i) * kv.ustride;
    u.step = static_cast<ptrdiff_t>(kv.ustride) * 8;
    const uint8_t* pa = ra + kv.ubase + b * u.step;
    const uint8_t* pb = rb + kv.ubase + b * u.step;
    const int ub1 = kv.ublocks;
    for (; b < ub1; ++b, pa += u.step, pb += u.step) {
      __m256 f[4];
      UniformBlockFloats(u, pa, pb, wyv, f);
      uint8_t* d = dst + static_cast<size_t>(b) * 24 * es;
      if (npos - (b + 1) * 8 >= 2) DirectStore8<T, false, LEAN>(f, lk, d);
      else DirectStore8<T, true, LEAN>(f, lk, d);
    }
  }
  PackedBlocks<T, LEAN>(lv, ra, rb, same, wyv, lk, dst, npos, tail, b, n8);
}

using DirectFn = void (*)(const KView&, const uint8_t*, const uint8_t*, __m256i, int, const DirectConsts&, uint8_t*,
                          uint8_t*);

using SampleFn = void (*)(const KView&, const uint8_t*, const uint8_t*, __m256i, const uint8_t*, int, float* const*);
inline SampleFn PickSample(int K, int nch) {
  switch (K * 4 + nch) {
    case 1 * 4 + 1: return SampleLine<1, 1>;
    case 1 * 4 + 2: return SampleLine<1, 2>;
    case 1 * 4 + 3: return SampleLine<1, 3>;
    case 2 * 4 + 1: return SampleLine<2, 1>;
    case 2 * 4 + 2: return SampleLine<2, 2>;
    case 2 * 4 + 3: return SampleLine<2, 3>;
    case 4 * 4 + 1: return SampleLine<4, 1>;
    case 4 * 4 + 2: return SampleLine<4, 2>;
    default: return SampleLine<4, 3>;
  }
}

// ---- colour + normalize (same op order as NormalizePixelRef) ----
// s[] are the slot vectors already arranged in output-channel order (kCopy), or
// (Y, U, V) / (R, G, B) in canonical order. For YUV -> BGR the caller swaps U/V
// and the coefficient pairs, which yields bit-identical values (a + b == b + a).
template <ColorOp OP, int C>
inline void Post(const Consts& k, const __m256* s, __m256* o) {
  __m256 px[3] = {s[0], s[0], s[0]};
  if (OP == ColorOp::kCopy) {
    for (int c = 0; c < C; ++c) px[c] = s[c];
  } else if (OP == ColorOp::kGrayToRgb) {
    // px already s[0]
  } else if (OP == ColorOp::kRgbToGray) {
    const __m256 t0 = _mm256_mul_ps(s[0], k.gw0);
    const __m256 t1 = _mm256_mul_ps(s[1], k.gw1);
    const __m256 t = _mm256_add_ps(t0, t1);
    const __m256 t2 = _mm256_mul_ps(s[2], k.gw2);
    px[0] = _mm256_add_ps(t, t2);
  } else {
    const __m256 y = _mm256_mul_ps(_mm256_max_ps(s[0], k.ymin), k.ky);
    __m256 r = _mm256_mul_ps(s[2], k.crv);
    r = _mm256_add_ps(r, k.kr);
    r = _mm256_add_ps(y, r);
    const __m256 g0 = _mm256_mul_ps(s[1], k.cgu);
    const __m256 g1 = _mm256_mul_ps(s[2], k.cgv);
    __m256 g = _mm256_add_ps(g0, g1);
    g = _mm256_add_ps(g, k.kg);
    g = _mm256_add_ps(y, g);
    __m256 b = _mm256_mul_ps(s[1], k.cbu);
    b = _mm256_add_ps(b, k.kb);
    b = _mm256_add_ps(y, b);
    px[0] = _mm256_min_ps(_mm256_max_ps(r, k.zero), k.vmax);
    px[1] = _mm256_min_ps(_mm256_max_ps(g, k.zero), k.vmax);
    px[2] = _mm256_min_ps(_mm256_max_ps(b, k.zero), k.vmax);
  }
  for (int c = 0; c < C; ++c) o[c] = _mm256_add_ps(_mm256_mul_ps(px[c], k.A[c]), k.B[c]);
}

// ---- stores: o[c][h] = channel c of positions 8h..8h+7 ----
inline void Interleave3(__m256 r, __m256 g, __m256 b, __m256* out) {
  const __m256 R = _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
  const __m256 G = _mm256_permutevar8x32_ps(g, _mm256_setr_epi32(5, 0, 3, 6, 1, 4, 7, 2));
  const __m256 B = _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));
  out[0] = _mm256_blend_ps(_mm256_blend_ps(R, G, 0x92), B, 0x24);
  out[1] = _mm256_blend_ps(_mm256_blend_ps(R, G, 0x24), B, 0x49);
  out[2] = _mm256_blend_ps(_mm256_blend_ps(R, G, 0x49), B, 0x92);
}

inline void StoreF32(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc) {
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

inline void StoreF16(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc) {
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

template <bool SIGNED>
inline __m128i Quant16(__m256 a, __m256 b, const Consts& k) {
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

template <bool SIGNED>
inline void StoreQ8(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc, const Consts& k) {
  __m128i q[3];
  for (int c = 0; c < C; ++c) q[c] = Quant16<SIGNED>(o[c][0], o[c][1], k);
  if (nhwc && C == 3) {
    for (int i = 0; i < 3; ++i) {
      const __m128i* m = reinterpret_cast<const __m128i*>(kIlv[i * 3]);
      __m128i v = _mm_or_si128(_mm_shuffle_epi8(q[0], _mm_load_si128(m)), _mm_shuffle_epi8(q[1], _mm_load_si128(m + 1)));
      v = _mm_or_si128(v, _mm_shuffle_epi8(q[2], _mm_load_si128(m + 2)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst) + i, v);
    }
    return;
  }
  for (int c = 0; c < C; ++c) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + c * ps), q[c]);
}

template <ElemType T>
inline void Store(__m256 (*o)[2], uint8_t* dst, size_t ps, int C, bool nhwc, const Consts& k) {
  if (T == ElemType::kFloat32) StoreF32(o, dst, ps, C, nhwc);
  else if (T == ElemType::kFloat16) StoreF16(o, dst, ps, C, nhwc);
  else if (T == ElemType::kUInt8) StoreQ8<false>(o, dst, ps, C, nhwc, k);
  else StoreQ8<true>(o, dst, ps, C, nhwc, k);
}

// Phase 2: slot rows -> colour -> normalize -> store one line.
template <ColorOp OP, ElemType T, int C, bool NHWC>
void PostLine(const Consts& k, const float* const* src, int nsrc, int npos, uint8_t* dst, size_t ps, uint8_t* tail) {
  constexpr size_t es = T == ElemType::kFloat32 ? 4 : T == ElemType::kFloat16 ? 2 : 1;
  constexpr size_t blk = NHWC ? 16 * C * es : 16 * es;
  const int nfull = npos / 16;
  const int rest = npos - nfull * 16;
  for (int b = 0; b <= nfull; ++b) {
    if (b == nfull && rest == 0) break;
    __m256 s[2][3];
    for (int i = 0; i < 3; ++i) {
      const float* p = src[i < nsrc ? i : 0] + b * 16;
      s[0][i] = _mm256_loadu_ps(p);
      s[1][i] = _mm256_loadu_ps(p + 8);
    }
    __m256 o2[2][3];
    Post<OP, C>(k, s[0], o2[0]);
    Post<OP, C>(k, s[1], o2[1]);
    __m256 o[3][2];
    for (int c = 0; c < C; ++c) {
      o[c][0] = o2[0][c];
      o[c][1] = o2[1][c];
    }
    uint8_t* d = dst + b * blk;
    if (b < nfull) {
      Store<T>(o, d, ps, C, NHWC, k);
    } else {
      Store<T>(o, tail, 16 * es, C, NHWC, k);
      if (NHWC) {
        std::memcpy(d, tail, rest * C * es);
      } else {
        for (int c = 0; c < C; ++c) std::memcpy(d + c * ps, tail + c * 16 * es, rest * es);
      }
    }
  }
}

using PostFn = void (*)(const Consts&, const float* const*, int, int, uint8_t*, size_t, uint8_t*);

template <ColorOp OP, ElemType T>
PostFn PickPost2(int C, bool nhwc) {
  if (C == 1) return PostLine<OP, T, 1, true>;  // one channel: both layouts are contiguous
  return nhwc ? PostLine<OP, T, 3, true> : PostLine<OP, T, 3, false>;
}
template <ColorOp OP>
PostFn PickPost1(ElemType t, int C, bool nhwc) {
  switch (t) {
    case ElemType::kFloat32: return PickPost2<OP, ElemType::kFloat32>(C, nhwc);
    case ElemType::kFloat16: return PickPost2<OP, ElemType::kFloat16>(C, nhwc);
    case ElemType::kUInt8: return PickPost2<OP, ElemType::kUInt8>(C, nhwc);
    default: return PickPost2<OP, ElemType::kInt8>(C, nhwc);
  }
}
inline PostFn PickPost(ColorOp op, ElemType t, int C, bool nhwc) {
  switch (op) {
    case ColorOp::kCopy: return PickPost1<ColorOp::kCopy>(t, C, nhwc);
    case ColorOp::kYuvToRgb: return PickPost1<ColorOp::kYuvToRgb>(t, C, nhwc);
    case ColorOp::kRgbToGray: return PickPost1<ColorOp::kRgbToGray>(t, C, nhwc);
    default: return PickPost1<ColorOp::kGrayToRgb>(t, C, nhwc);
  }
}

}  // namespace

void KernelAvx2(const KPlan& p, const Image& img, uint8_t* out, int j0, int j1, uint8_t* scratch) {
  Consts k;
  MakeConsts(p, &k);
  const int C = p.out_c;
  const size_t es = ElemSize(p.type);
  const bool nhwc = p.layout == Layout::kNHWC || C == 1;
  const int nb = p.nblocks;
  const size_t npad = static_cast<size_t>(nb) * 16;
  // scratch: [tail 256][slot rows 3 x npad floats][transposed line npad x C x es]
  uint8_t* tail = scratch;
  float* slots[3];
  for (int s = 0; s < 3; ++s) slots[s] = reinterpret_cast<float*>(scratch + 256) + s * npad;
  uint8_t* line = scratch + 256 + 3 * npad * 4;  // kTile transposed lines
  const size_t line_bytes = npad * C * es + 16;  // + spill room of the direct path
  int tile0 = j0;
  const size_t plane_bytes = static_cast<size_t>(p.out_w) * p.out_h * es;

  // Slot rows in output-channel order for phase 2.
  const float* src[3] = {slots[0], slots[1], slots[2]};
  int nsrc = p.nslots;
  if (p.op == ColorOp::kCopy) {
    for (int c = 0; c < C; ++c) src[c] = slots[p.perm[c]];
    nsrc = C;
  } else if (p.op == ColorOp::kYuvToRgb && p.perm[0] == 2) {
    // BGR out: swap U/V and the coefficient pairs (identical values, see Post).
    src[1] = slots[2];
    src[2] = slots[1];
    const __m256 t0 = k.crv; k.crv = k.cbu; k.cbu = t0;
    const __m256 t1 = k.kr; k.kr = k.kb; k.kb = t1;
    const __m256 t2 = k.cgu; k.cgu = k.cgv; k.cgv = t2;
  }
  const PostFn post = PickPost(p.op, p.type, C, nhwc);
  SampleFn sample[3];
  float* vdst[3][3];
  for (int v = 0; v < p.nviews; ++v) {
    const KView& kv = p.views[v];
    if (kv.packed) {
      sample[v] = SampleLinePacked;
      for (int c = 0; c < 3; ++c) vdst[v][c] = slots[c];  // masks place slot c at c
    } else {
      sample[v] = PickSample(kv.K, kv.nch);
      for (int c = 0; c < kv.nch; ++c) vdst[v][c] = slots[kv.slot[c]];
    }
  }

  TapConsts tc;
  MakeTapConsts(p, &tc);

  // Direct packed path: packed RGB-family view -> NHWC rgb/bgr.
  DirectFn direct = nullptr;
  DirectConsts dk;
  if (p.nviews == 1 && p.views[0].packed && p.op == ColorOp::kCopy && C == 3 && p.layout == Layout::kNHWC) {
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
        direct = ident ? DirectPackedLine<ElemType::kFloat32, true> : DirectPackedLine<ElemType::kFloat32, false>;
        break;
      case ElemType::kFloat16:
        direct = ident ? DirectPackedLine<ElemType::kFloat16, true> : DirectPackedLine<ElemType::kFloat16, false>;
        break;
      case ElemType::kUInt8:
        direct = int_lean ? DirectPackedLine<ElemType::kUInt8, true> : DirectPackedLine<ElemType::kUInt8, false>;
        break;
      case ElemType::kInt8:
        direct = int_lean ? DirectPackedLine<ElemType::kInt8, true> : DirectPackedLine<ElemType::kInt8, false>;
        break;
    }
  }

  for (int j = j0; j < j1; ++j) {
    const int ya = p.row_a[j], yb = p.row_b[j], wy = p.row_w[j];
    const __m256i wyv = _mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(wy) << 16) | (kRowOne - wy)));
    const uint8_t* ra[3];
    const uint8_t* rb[3];
    for (int v = 0; v < p.nviews; ++v) {
      const KView& kv = p.views[v];
      ra[v] = img.data[kv.plane] + static_cast<ptrdiff_t>(ya >> kv.yshift) * img.stride[kv.plane];
      rb[v] = img.data[kv.plane] + static_cast<ptrdiff_t>(yb >> kv.yshift) * img.stride[kv.plane];
    }
    if (direct) {
      if (!p.transposed) {
        const size_t pix = static_cast<size_t>(p.cy + j) * p.out_w + p.cx;
        direct(p.views[0], ra[0], rb[0], wyv, p.npos, dk, out + pix * 3 * es, tail);
      } else {
        direct(p.views[0], ra[0], rb[0], wyv, p.npos, dk, line + (j - tile0) * line_bytes, tail);
        if (j - tile0 + 1 == kTile || j + 1 == j1) {
          FlushTile(p, line, line_bytes, npad, es, tile0, j - tile0 + 1, out);
          tile0 = j + 1;
        }
      }
      continue;
    }
    if (p.rgb_taps) {
      SampleLineRgbTaps(p, ra, rb, wyv, tc, slots);
    } else {
      for (int v = 0; v < p.nviews; ++v) sample[v](p.views[v], ra[v], rb[v], wyv, p.wcol, nb, vdst[v]);
    }
    if (!p.transposed) {
      const size_t pix = static_cast<size_t>(p.cy + j) * p.out_w + p.cx;
      post(k, src, nsrc, p.npos, out + (nhwc ? pix * C * es : pix * es), plane_bytes, tail);
    } else {
      post(k, src, nsrc, static_cast<int>(npad), line + (j - tile0) * line_bytes, npad * es, tail);
      if (j - tile0 + 1 == kTile || j + 1 == j1) {
        FlushTile(p, line, line_bytes, npad, es, tile0, j - tile0 + 1, out);
        tile0 = j + 1;
      }
    }
  }
}


}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
