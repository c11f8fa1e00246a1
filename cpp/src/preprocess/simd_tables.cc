// Window / shuffle tables for the SIMD sampling kernels (no ISA flags here).
//
// Positions are processed in blocks (16 for AVX2, 8 for NEON) made of quads of
// 4 consecutive positions. For every quad and view the kernel loads K 16-byte
// windows of the source row (K = 1, 2 or 4: each window serves 4/K positions)
// and picks the tap bytes of every channel with a byte shuffle (pshufb / tbl):
// no gathers. The planner chooses the smallest K whose windows hold all taps.
//
// Slot layout of the shuffled pairs (taps a,b of position t in quad q):
//   AVX2: registers A (quads 0,1 in lanes 0,1) and B (quads 2,3 in lanes 0,1);
//         byte (q/2)*8 + 2t + tap of lane q%2 -> pmaddubsw gives int16 slots
//         [p0-3, p8-11 | p4-7, p12-15], which the vertical unpack/madd turns
//         into natural order.
//   NEON: one 16-byte register per quad window; byte tap*8 + 4q + t (a-taps
//         then b-taps) -> vmull_u8/vmlal_u8 on the halves.
#include <algorithm>
#include <cstring>

#include "preprocess/plan.h"

namespace edgerun {
namespace preprocess {
namespace internal {

namespace {
struct Geo {
  int block_px, nquads, nregs, reg_bytes, wbytes;
  int reg(int q) const { return block_px == 16 ? q / 2 : q; }
  int lane(int q) const { return block_px == 16 ? q % 2 : 0; }
  int sbyte(int q, int t, int tap) const {
    return block_px == 16 ? (q / 2) * 8 + 2 * t + tap : tap * 8 + 4 * q + t;
  }
};
}  // namespace

bool BuildSimdTables(KPlan& p, SimdLayout layout, SimdTables* t) {
  Geo g;
  if (layout == SimdLayout::kAvx2) g = Geo{16, 4, 2, 32, 32};
  else g = Geo{8, 2, 2, 16, 16};
  t->layout = layout;
  t->block_px = g.block_px;
  t->nquads = g.nquads;
  t->nregs = g.nregs;
  t->reg_bytes = g.reg_bytes;
  if (p.npos <= 0 || p.area) return false;
  const int nb = (p.npos + g.block_px - 1) / g.block_px;
  t->nblocks = nb;
  p.nblocks = nb;
  auto pos = [&](int b, int q, int tt) { return std::min(b * g.block_px + 4 * q + tt, p.npos - 1); };

  // Column weights.
  t->wcol.assign(static_cast<size_t>(nb) * g.wbytes, 0);
  for (int b = 0; b < nb; ++b)
    for (int q = 0; q < g.nquads; ++q)
      for (int tt = 0; tt < 4; ++tt) {
        const int i = pos(b, q, tt);
        uint8_t* w = &t->wcol[static_cast<size_t>(b) * g.wbytes + g.lane(q) * 16];
        w[g.sbyte(q, tt, 0)] = p.col_wa[i];
        w[g.sbyte(q, tt, 1)] = p.col_wb[i];
      }
  p.wcol = t->wcol.data();

  for (int v = 0; v < p.nviews; ++v) {
    KView& kv = p.views[v];
    if (kv.row_bytes < 16) return false;
    int cmin = kv.ch_off[0], cmax = kv.ch_off[0];
    for (int c = 1; c < kv.nch; ++c) {
      cmin = std::min(cmin, kv.ch_off[c]);
      cmax = std::max(cmax, kv.ch_off[c]);
    }
    // Smallest K whose windows fit.
    int K = 0;
    for (int cand : {1, 2, 4}) {
      bool fits = true;
      const int per = 4 / cand;
      for (int b = 0; b < nb && fits; ++b)
        for (int q = 0; q < g.nquads && fits; ++q)
          for (int k = 0; k < cand && fits; ++k) {
            int lo = 1 << 30, hi = -1;
            for (int tt = k * per; tt < (k + 1) * per; ++tt) {
              const int i = pos(b, q, tt);
              lo = std::min({lo, kv.off_a[i] + cmin, kv.off_b[i] + cmin});
              hi = std::max({hi, kv.off_a[i] + cmax, kv.off_b[i] + cmax});
            }
            if (hi - lo + 1 > 16) fits = false;
          }
      if (fits) { K = cand; break; }
    }
    if (K == 0) return false;
    kv.K = K;
    t->K[v] = K;
    const int per = 4 / K;
    t->win[v].assign(static_cast<size_t>(nb) * K * g.nquads, 0);
    const size_t mstride = static_cast<size_t>(kv.nch) * g.nregs * g.reg_bytes;  // per window index k
    t->mask[v].assign(static_cast<size_t>(nb) * K * mstride, 0x80);
    for (int b = 0; b < nb; ++b)
      for (int k = 0; k < K; ++k) {
        for (int q = 0; q < g.nquads; ++q) {
          int lo = 1 << 30;
          for (int tt = k * per; tt < (k + 1) * per; ++tt) {
            const int i = pos(b, q, tt);
            lo = std::min({lo, kv.off_a[i] + cmin, kv.off_b[i] + cmin});
          }
          const int w0 = std::min(lo, kv.row_bytes - 16);
          t->win[v][(static_cast<size_t>(b) * K + k) * g.nquads + q] = w0;
          for (int c = 0; c < kv.nch; ++c) {
            uint8_t* m = &t->mask[v][(static_cast<size_t>(b) * K + k) * mstride +
                                     (static_cast<size_t>(c) * g.nregs + g.reg(q)) * g.reg_bytes + g.lane(q) * 16];
            for (int tt = k * per; tt < (k + 1) * per; ++tt) {
              const int i = pos(b, q, tt);
              m[g.sbyte(q, tt, 0)] = static_cast<uint8_t>(kv.off_a[i] + kv.ch_off[c] - w0);
              m[g.sbyte(q, tt, 1)] = static_cast<uint8_t>(kv.off_b[i] + kv.ch_off[c] - w0);
            }
          }
        }
      }
    kv.win = t->win[v].data();
    kv.mask = t->mask[v].data();

    // Per-pixel packed mode (AVX2): 3/4-byte pixels whose quads need 2+ windows.
    if (layout == SimdLayout::kAvx2 && kv.bpp >= 3 && kv.nch == 3 && K >= 2 && kv.row_bytes >= 8) {
      const int n8 = nb * 2;
      static const int kOrder[8] = {0, 1, 4, 5, 2, 3, 6, 7};  // load slot -> position in the 8-block
      t->pwin[v].assign(static_cast<size_t>(n8) * 8, 0);
      t->pmask[v].assign(static_cast<size_t>(n8) * 64, 0x80);
      t->pw[v].assign(static_cast<size_t>(n8) * 64, 0);
      for (int b = 0; b < n8; ++b)
        for (int s = 0; s < 8; ++s) {
          const int i = std::min(b * 8 + kOrder[s], p.npos - 1);
          const int lo = std::min(kv.off_a[i], kv.off_b[i]) + cmin;
          const int w0 = std::min(lo, kv.row_bytes - 8);
          t->pwin[v][static_cast<size_t>(b) * 8 + s] = w0;
          // slot s -> register (s / 4: A or B), lane (s / 2) % 2, half s % 2
          const size_t base = static_cast<size_t>(b) * 64 + (s / 4) * 32 + ((s / 2) % 2) * 16 + (s % 2) * 8;
          for (int c = 0; c < 3; ++c) {
            const int sl = kv.slot[c];
            t->pmask[v][base + 2 * sl] = static_cast<uint8_t>((s % 2) * 8 + kv.off_a[i] + kv.ch_off[c] - w0);
            t->pmask[v][base + 2 * sl + 1] = static_cast<uint8_t>((s % 2) * 8 + kv.off_b[i] + kv.ch_off[c] - w0);
            t->pw[v][base + 2 * sl] = p.col_wa[i];
            t->pw[v][base + 2 * sl + 1] = p.col_wb[i];
          }
        }
      kv.packed = true;
      kv.pwin = t->pwin[v].data();
      kv.pmask = t->pmask[v].data();
      kv.pw = t->pw[v].data();

      // Uniform sub-case (see plan.h): constant tap stride, tap distance and weights.
      kv.ustride = 0;
      kv.ublock0 = 0;
      kv.ublocks = 0;
      if (p.npos >= 16) {
        const int S = kv.off_a[1] - kv.off_a[0], D = kv.off_b[0] - kv.off_a[0];
        bool uni = S > 0 && D >= 0 && D + (cmax - cmin) + 1 <= 8;
        for (int i = 0; i < p.npos && uni; ++i)
          uni = kv.off_a[i] == kv.off_a[0] + i * S && kv.off_b[i] - kv.off_a[i] == D &&
                p.col_wa[i] == p.col_wa[0] && p.col_wb[i] == p.col_wb[0];
        const int base = kv.off_a[0] + cmin;
        int ub0 = 0;  // row b's window starts 8 bytes before the position's
        while (uni && base + ub0 * 8 * S - 8 < 0) ++ub0;  // S > 0 when uni
        int ub = ub0;
        while (uni && (ub + 1) * 8 <= p.npos && base + ((ub + 1) * 8 - 1) * S + 16 <= kv.row_bytes) ++ub;
        if (uni && ub > ub0) {
          kv.ustride = S;
          kv.ublock0 = ub0;
          kv.ublocks = ub;
          kv.ubase = base;
          std::memset(kv.umask, 0x80, sizeof kv.umask);
          std::memset(kv.uw, 0, sizeof kv.uw);
          for (int c = 0; c < 3; ++c) {
            const int sl = kv.slot[c], ta = kv.ch_off[c] - cmin, tb = D + kv.ch_off[c] - cmin;
            kv.umask[4 * sl] = static_cast<uint8_t>(ta);
            kv.umask[4 * sl + 1] = static_cast<uint8_t>(tb);
            kv.umask[4 * sl + 2] = static_cast<uint8_t>(8 + ta);
            kv.umask[4 * sl + 3] = static_cast<uint8_t>(8 + tb);
            kv.uw[4 * sl] = kv.uw[4 * sl + 2] = p.col_wa[0];
            kv.uw[4 * sl + 1] = kv.uw[4 * sl + 3] = p.col_wb[0];
          }
        }
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Area (see AreaTables in plan.h): the luma-grid taps of the plan folded onto
// each view's grid (source index >> shift; weights of the pixels sharing a
// sample add up), exactly the same integer sums in another order.
// ---------------------------------------------------------------------------
size_t AreaScratchBytes(const KPlan& p) {
  size_t n = 0;
  for (int v = 0; v < p.nviews; ++v)
    n += (static_cast<size_t>(p.views[v].row_bytes) + 8 * static_cast<size_t>(p.views[v].hK) + 64 + kAreaAccFront) * 2 +
         64;
  if (p.rgb_rows)  // converted rows (row_bytes + 64 each, 64-aligned) and their indices
    n += static_cast<size_t>(p.rgb_rows_max) * (static_cast<size_t>(p.views[0].row_bytes) + 64 + 4) + 128;
  return n;
}

// YuvSampling::kRgb (see KPlan::rgb_rows): records where the YUV bytes of a
// pixel are, then samples one packed RGB view (3 bytes per pixel) instead.
static void SetupRgbRows(KPlan& p) {
  const KView& y = p.views[0];
  p.ry_plane = y.plane;
  p.ry_step = y.bpp;
  p.ry_off = y.ch_off[0];
  for (int v = 1; v < p.nviews; ++v) {
    const KView& c = p.views[v];
    for (int k = 0; k < c.nch; ++k) {
      if (c.slot[k] == 1) { p.ru_plane = c.plane; p.ru_off = c.ch_off[k]; }
      if (c.slot[k] == 2) { p.rv_plane = c.plane; p.rv_off = c.ch_off[k]; }
    }
    p.rc_step = c.bpp;
    p.rc_yshift = c.yshift;
  }
  const int width = y.row_bytes / y.bpp;
  KView rgb;
  rgb.plane = 0;
  rgb.bpp = 3;
  rgb.nch = 3;
  for (int c = 0; c < 3; ++c) { rgb.ch_off[c] = c; rgb.slot[c] = c; }
  rgb.row_bytes = width * 3;
  p.views[0] = rgb;
  p.nviews = 1;
  p.rgb_rows = true;
}

bool BuildAreaTables(KPlan& p, AreaTables* t) {
  if (!p.area || p.npos <= 0 || p.nlines <= 0) return false;
  if (p.rgb_taps && !p.rgb_rows) {
    if (p.nviews < 2) return false;
    SetupRgbRows(p);
  }
  const int npos8 = (p.npos + 7) / 8 * 8;
  std::vector<std::pair<int32_t, int32_t>> folded;  // (index on the view's grid, weight), sorted
  auto fold = [&](const int32_t* idx, const int32_t* w, int b, int e, int shift) {
    folded.clear();
    for (int k = b; k < e; ++k) {
      const int32_t u = idx[k] >> shift;
      bool found = false;
      for (auto& f : folded)
        if (f.first == u) { f.second += w[k]; found = true; }
      if (!found) folded.push_back({u, w[k]});
    }
    std::sort(folded.begin(), folded.end());
  };
  for (int v = 0; v < p.nviews; ++v) {
    KView& kv = p.views[v];
    // Vertical: rows of the view's plane, weights <= 127 (a weight of 128 is
    // the only one of its line: split into two rows of 64).
    auto& vs = t->vstart[v];
    auto& vr = t->vrow[v];
    auto& vw = t->vw[v];
    vs.assign(1, 0);
    vr.clear();
    vw.clear();
    for (int j = 0; j < p.nlines; ++j) {
      fold(p.arow_idx, p.arow_w, p.arow_start[j], p.arow_start[j + 1], kv.yshift);
      for (auto& f : folded) {
        if (f.second > 127) {
          if (f.second > 2 * 127) return false;  // cannot happen: one_y <= 128
          vr.push_back(f.first); vw.push_back(static_cast<uint8_t>(f.second / 2));
          vr.push_back(f.first); vw.push_back(static_cast<uint8_t>(f.second - f.second / 2));
        } else {
          vr.push_back(f.first);
          vw.push_back(static_cast<uint8_t>(f.second));
        }
      }
      vs.push_back(static_cast<int32_t>(vr.size()));
    }
    // Horizontal: per position, the window base and K chunks of 8 weights per channel.
    std::vector<int> base(npos8, 0), lastu(npos8, 0);
    std::vector<std::vector<std::pair<int32_t, int32_t>>> taps(p.npos);
    int K = 1, lo = kv.row_bytes, hi = 0;
    for (int i = 0; i < p.npos; ++i) {
      fold(p.acol_idx, p.acol_w, p.acol_start[i], p.acol_start[i + 1], kv.xshift);
      taps[i] = folded;
      const int u0 = folded.front().first, u1 = folded.back().first;
      for (auto& f : folded)
        if (f.second > 32767) return false;  // cannot happen: one_x <= kAreaColLimit
      base[i] = u0 * kv.bpp;
      lo = std::min(lo, base[i]);
      hi = std::max(hi, (u1 + 1) * kv.bpp);
      K = std::max(K, ((u1 - u0) * kv.bpp + kv.bpp - 1) / 8 + 1);
    }
    hi = std::min(hi, kv.row_bytes);
    // Weight tables grow with taps per position (up to a whole row for a huge
    // reduction: 2^20 columns -> 1); past 16M weights (32 MB) use the reference.
    if (static_cast<double>(npos8) * K * kv.nch * 8 > 16.0 * (1 << 20)) return false;
    auto& hb = t->hbase[v];
    auto& hw = t->hw[v];
    hb.assign(npos8, 0);
    hw.assign(static_cast<size_t>(npos8) * K * kv.nch * 8, 0);
    for (int i = 0; i < p.npos; ++i) {
      hb[i] = base[i];
      for (auto& f : taps[i])
        for (int c = 0; c < kv.nch; ++c) {
          const int e = (f.first * kv.bpp - base[i]) + kv.ch_off[c];
          hw[((static_cast<size_t>(i) * K + e / 8) * kv.nch + c) * 8 + e % 8] = static_cast<int16_t>(f.second);
        }
    }
    // Integer ratio (see KView::uwidth): same count, one weight, whole units, constant step.
    kv.uwidth = 0;
    kv.udir = 0;
    {
      const int cnt = static_cast<int>(taps[0].size()), w = taps[0][0].second, width = cnt * kv.bpp;
      const int dir = p.npos > 1 && base[1] < base[0] ? -1 : 1;
      bool uni = width == 1 || width == 2 || width == 4;
      for (int i = 0; i < p.npos && uni; ++i) {
        uni = static_cast<int>(taps[i].size()) == cnt && base[i] == base[0] + dir * i * width;
        for (size_t k = 0; k < taps[i].size() && uni; ++k)
          uni = taps[i][k].second == w && taps[i][k].first == taps[i][0].first + static_cast<int>(k);
      }
      if (uni) {
        kv.uwidth = width;
        kv.udir = dir;
        for (int c = 0; c < 3; ++c)
          for (int j = 0; j < 16; ++j)
            kv.upat[c][j] = static_cast<int16_t>(c < kv.nch && j % kv.bpp == kv.ch_off[c] ? w : 0);
      }
    }
    kv.vstart = vs.data();
    kv.vrow = vr.data();
    kv.vw = vw.data();
    kv.hK = K;
    kv.hbase = hb.data();
    kv.hw = hw.data();
    kv.span_lo = lo;
    kv.span_hi = hi;
  }
  if (p.rgb_rows) {
    int most = 0;
    for (int j = 0; j < p.nlines; ++j) most = std::max(most, p.views[0].vstart[j + 1] - p.views[0].vstart[j]);
    p.rgb_rows_max = most;
    if (static_cast<double>(most) * (p.views[0].row_bytes + 64) > 64.0 * (1 << 20)) return false;
  }
  return true;
}

}  // namespace internal
}  // namespace preprocess
}  // namespace edgerun
