/**
 * @module Fixed log-spaced histograms for Web Vitals, stored sparse in the rollups so p50/p75/p95
 * over any window are a merge plus a walk, never a scan of raw samples.
 *
 * Error bound: bucket edges grow by 5 %, so a reported percentile (the geometric middle of the
 * bucket holding the exact nearest-rank percentile) is within ±2.5 % of the exact value; below the
 * first edge (1 ms, CLS 0.001) the error is at most half that edge. The rating thresholds are edges
 * themselves, so a reported p75 is always on the same side of a threshold as the exact one.
 */
import { THRESHOLDS, VITAL_NAMES, type VitalName } from '../../contract/metrics.ts'

const GROWTH = 1.05

/**
 * Upper edges: bucket 0 holds exactly 0, bucket i ≥ 1 holds (edges[i-1], edges[i]] and the last
 * bucket everything above the cap. Upper-inclusive like the ratings (good is ≤ the threshold).
 */
function makeEdges(first: number, cap: number, thresholds: readonly number[]): number[] {
  const edges = new Set<number>([0, ...thresholds])
  for (let e = first; e < cap * GROWTH; e *= GROWTH) edges.add(Number(e.toPrecision(6)))
  return [...edges].sort((a, b) => a - b)
}

const EDGES: Record<VitalName, number[]> = Object.fromEntries(
  VITAL_NAMES.map((n) => [n, n === 'CLS' ? makeEdges(0.001, 100, THRESHOLDS.CLS) : makeEdges(1, 60_000, THRESHOLDS[n])])
) as Record<VitalName, number[]>

/** Bucket indexes are stored as one byte. */
export const MAX_BUCKETS = 256
for (const n of VITAL_NAMES) if (EDGES[n].length + 1 > MAX_BUCKETS) throw new Error(`too many ${n} buckets`)

export function bucketOf(metric: VitalName, value: number): number {
  const e = EDGES[metric]
  let lo = 0
  let hi = e.length
  // First edge ≥ value (binary search); past the last edge is the overflow bucket.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (e[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The value reported for a bucket: its geometric middle (0 for the zero bucket). */
export function bucketValue(metric: VitalName, bucket: number): number {
  const e = EDGES[metric]
  if (bucket === 0) return 0
  if (bucket >= e.length) return e[e.length - 1]!
  const lo = e[bucket - 1]!
  const hi = e[bucket]!
  return lo === 0 ? hi / 2 : Math.sqrt(lo * hi)
}

/** Sparse encoding: 5 bytes per non-empty bucket (u8 index, i32 count; deltas may be negative). */
export function encode(counts: ArrayLike<number>): Buffer {
  let used = 0
  for (let i = 0; i < counts.length; i++) if (counts[i]) used++
  const buf = Buffer.allocUnsafe(used * 5)
  let o = 0
  for (let i = 0; i < counts.length; i++) {
    if (!counts[i]) continue
    buf.writeUInt8(i, o)
    buf.writeInt32LE(counts[i]!, o + 1)
    o += 5
  }
  return buf
}

export function addInto(counts: Int32Array | number[], buf: Uint8Array | null | undefined): void {
  const b = asBuffer(buf ?? null)
  for (let o = 0; o + 5 <= b.length; o += 5) counts[b.readUInt8(o)]! += b.readInt32LE(o + 1)
}

/** Encodes a sparse histogram held as bucket → count (zero counts are left out). */
export function encodeMap(m: ReadonlyMap<number, number>): Buffer {
  const buckets = [...m.keys()].filter((b) => m.get(b) !== 0).sort((a, b) => a - b)
  const buf = Buffer.allocUnsafe(buckets.length * 5)
  buckets.forEach((b, i) => {
    buf.writeUInt8(b, i * 5)
    buf.writeInt32LE(m.get(b)!, i * 5 + 1)
  })
  return buf
}

/** Merges two encoded histograms (the rollup upsert): a merge of two lists sorted by bucket. */
export function merge(a: Uint8Array | null, b: Uint8Array | null): Buffer {
  const x = asBuffer(a)
  const y = asBuffer(b)
  const out = Buffer.allocUnsafe(x.length + y.length)
  let i = 0
  let j = 0
  let o = 0
  const put = (bucket: number, count: number) => {
    if (count === 0) return
    out.writeUInt8(bucket, o)
    out.writeInt32LE(count, o + 1)
    o += 5
  }
  while (i < x.length || j < y.length) {
    const bx = i < x.length ? x[i]! : MAX_BUCKETS
    const by = j < y.length ? y[j]! : MAX_BUCKETS
    if (bx === by) {
      put(bx, x.readInt32LE(i + 1) + y.readInt32LE(j + 1))
      i += 5
      j += 5
    } else if (bx < by) {
      put(bx, x.readInt32LE(i + 1))
      i += 5
    } else {
      put(by, y.readInt32LE(j + 1))
      j += 5
    }
  }
  return out.subarray(0, o)
}

const EMPTY = Buffer.alloc(0)
const asBuffer = (u: Uint8Array | null): Buffer =>
  !u ? EMPTY : Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)

/** Nearest-rank quantile (`q` in 0..1) of a decoded histogram; null when it is empty. */
export function quantile(metric: VitalName, counts: ArrayLike<number>, q: number): number | null {
  let total = 0
  for (let i = 0; i < counts.length; i++) total += counts[i]!
  if (total <= 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!
    if (seen >= rank) return bucketValue(metric, i)
  }
  return bucketValue(metric, counts.length - 1)
}
