/**
 * @module How a wall screen lays out its board, in pixels of the area it has: what needs attention
 * (broken, running, silent) in large tiles on top, everything else in smaller tiles or a compact
 * grid below, no paging while that fits. Sizes have pixel floors, so a bigger screen shows more,
 * not the same tiles bigger. Pure, so it is unit-tested.
 */

export type Kind = 'full' | 'compact'

export interface Block {
  kind: Kind
  cols: number
  rows: number
  /** Font size in px; every length in a tile is in em of it. */
  font: number
  /** Height of the block in px. */
  height: number
}

export interface Wall {
  gap: number
  /** The attention tiles; null when there are none. */
  top: Block | null
  /** The rest; null when there are none. */
  bottom: Block | null
  /** Rest items per page (all of them when the board does not page). */
  perPage: number
  /**
   * Attention alone overflows the screen: only the failing tiles stay on top (on every page);
   * running and silent ones page with the rest.
   */
  failingOnlyOnTop?: boolean
}

/** A tile's size in em: six lines of text; a long name that needs two lines gives up the least useful one. */
export const FULL = { w: 16, h: 10.5 }
/** A compact cell: status mark, name (up to two lines) and branch. */
export const COMPACT = { w: 14, h: 4.3 }
/** Smallest type for an attention tile, a passing tile and a compact cell (px at 1:1). */
export const ATTENTION_MIN_PX = 20
export const REST_FULL_MIN_PX = 20
export const COMPACT_MIN_PX = 16
export const COMPACT_MAX_PX = 24
/** Attention tiles are at least this much larger than the rest. */
const LEAD = 1.25

interface Shape {
  w: number
  h: number
}

/** The grid for `n` cells in `w`×`h` px that gives the largest type, capped at `maxFont`. */
export function bestGrid(n: number, w: number, h: number, gap: number, shape: Shape, maxFont = Infinity) {
  let best = { cols: 1, rows: Math.max(1, n), font: 0 }
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols)
    const cw = (w - (cols - 1) * gap) / cols
    const ch = (h - (rows - 1) * gap) / rows
    const font = Math.min(cw / shape.w, ch / shape.h, maxFont)
    if (font > best.font + 0.01) best = { cols, rows, font }
  }
  return best
}

/** Height in px that `n` cells need across `w` px at type size `font`. */
export function heightFor(n: number, w: number, gap: number, shape: Shape, font: number) {
  const cols = Math.max(1, Math.min(n, Math.floor((w + gap) / (shape.w * font + gap))))
  const rows = Math.ceil(n / cols)
  return { cols, rows, height: rows * shape.h * font + (rows - 1) * gap }
}

const block = (kind: Kind, g: { cols: number; rows: number; font: number }, height: number): Block => ({
  kind,
  cols: g.cols,
  rows: g.rows,
  font: Math.floor(g.font * 10) / 10,
  height: Math.floor(height),
})

/** One group filling `w`×`h`: full tiles if they are readable, else compact cells, paged if need be. */
function single(n: number, w: number, h: number, gap: number, fullMin: number): { b: Block; perPage: number } {
  const full = bestGrid(n, w, h, gap, FULL, h / FULL.h)
  if (full.font >= fullMin) return { b: block('full', full, h), perPage: n }
  const compact = bestGrid(n, w, h, gap, COMPACT, COMPACT_MAX_PX)
  if (compact.font >= COMPACT_MIN_PX) return { b: block('compact', compact, h), perPage: n }
  const fit = heightFor(1, w, gap, COMPACT, COMPACT_MIN_PX)
  const rows = Math.max(1, Math.floor((h + gap) / (COMPACT.h * COMPACT_MIN_PX + gap)))
  return { b: block('compact', { cols: fit.cols, rows, font: COMPACT_MIN_PX }, h), perPage: fit.cols * rows }
}

export function planWall(width: number, height: number, attention: number, rest: number, failing = attention): Wall {
  const gap = Math.round(Math.min(24, Math.max(6, width * 0.005)))
  const w = Math.max(1, width)
  const h = Math.max(1, height)
  if (attention === 0 && rest === 0) return { gap, top: null, bottom: null, perPage: 0 }
  if (attention === 0) {
    const s = single(rest, w, h, gap, REST_FULL_MIN_PX)
    return { gap, top: null, bottom: s.b, perPage: s.perPage }
  }
  if (rest === 0) {
    const s = single(attention, w, h, gap, ATTENTION_MIN_PX)
    return { gap, top: s.b, bottom: null, perPage: 0 }
  }
  // The rest as the largest tiles that leave the attention tiles clearly larger: full tiles when
  // those stay readable, else compact cells.
  for (const [kind, shape, min, max] of [
    ['full', FULL, REST_FULL_MIN_PX, h / FULL.h],
    ['compact', COMPACT, COMPACT_MIN_PX, COMPACT_MAX_PX],
  ] as const) {
    for (let f = Math.floor(max); f >= min; f--) {
      const r = heightFor(rest, w, gap, shape, f)
      const topH = h - r.height - gap
      if (topH <= 0) continue
      const a = bestGrid(attention, w, topH, gap, FULL, topH / FULL.h)
      if (a.font >= Math.max(ATTENTION_MIN_PX, f * LEAD))
        return {
          gap,
          top: block('full', a, topH),
          bottom: block(kind, { cols: r.cols, rows: r.rows, font: f }, r.height),
          perPage: rest,
        }
    }
  }
  // Even compact, the rest does not fit beside the attention tiles: those keep their place, the rest pages.
  const a = heightFor(attention, w, gap, FULL, ATTENTION_MIN_PX)
  const cellH = COMPACT.h * COMPACT_MIN_PX
  if (a.height + gap + cellH <= h) {
    const topH = h - gap - Math.max(cellH, Math.min(h * 0.4, h - gap - a.height))
    const top = bestGrid(attention, w, topH, gap, FULL, topH / FULL.h)
    const bottomH = h - topH - gap
    const rows = Math.max(1, Math.floor((bottomH + gap) / (cellH + gap)))
    const cols = heightFor(1, w, gap, COMPACT, COMPACT_MIN_PX).cols
    return {
      gap,
      top: block('full', top, topH),
      bottom: block('compact', { cols, rows, font: COMPACT_MIN_PX }, bottomH),
      perPage: cols * rows,
    }
  }
  // Attention alone fills the screen: the failing tiles go compact on top, on every page, and
  // everything else pages below them.
  const pinned = Math.max(1, failing)
  const ac = heightFor(pinned, w, gap, COMPACT, COMPACT_MIN_PX)
  const topH = Math.min(h - gap - cellH, ac.height)
  const bottomH = h - topH - gap
  const rows = Math.max(1, Math.floor((bottomH + gap) / (cellH + gap)))
  return {
    gap,
    top: block('compact', { cols: ac.cols, rows: ac.rows, font: COMPACT_MIN_PX }, topH),
    bottom: block('compact', { cols: ac.cols, rows, font: COMPACT_MIN_PX }, bottomH),
    perPage: ac.cols * rows,
    failingOnlyOnTop: true,
  }
}
