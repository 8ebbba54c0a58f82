/**
 * @module A compressed event stream with no compressor per connection. The body is a gzip or zlib
 * wrapper around a run of raw DEFLATE segments, each compressed on its own and ending on a sync
 * flush (deflate.ts): none refers to bytes before it, so any sequence of them is one valid DEFLATE
 * stream. A message's segment is made once and the same Buffer is written to every compressed
 * client; each client keeps only its running checksum and length, so that a stream the server
 * ends itself closes with a final block and a trailer that checks.
 */
import { crc32 } from 'node:zlib'
import { deflateSegment, GZIP_HEADER } from './deflate.ts'

export type SseCoding = 'gzip' | 'deflate'

/**
 * The coding for an event stream from the request's Accept-Encoding (RFC 9110 §12.5.3): gzip or
 * deflate at the higher q-value (gzip on a tie), `*` standing for either when not named, q=0 never;
 * null for the stream as it is.
 */
export function sseCoding(acceptEncoding: string | undefined): SseCoding | null {
  if (!acceptEncoding) return null
  const q = new Map<string, number>()
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((x) => x.trim())
    if (!name) continue
    const qp = params.find((p) => p.startsWith('q='))
    // A q-value that is not a number counts as a refusal rather than a guess.
    q.set(name === 'x-gzip' ? 'gzip' : name, qp === undefined ? 1 : Number(qp.slice(2)) || 0)
  }
  const star = q.get('*')
  const gzip = q.get('gzip') ?? star ?? 0
  const deflate = q.get('deflate') ?? star ?? 0
  if (gzip <= 0 && deflate <= 0) return null
  return gzip >= deflate ? 'gzip' : 'deflate'
}

/** A part of the stream: its compressed segment, shared, and what a client's checksum needs of it. */
export interface Piece {
  segment: Buffer
  /** The checksum (CRC-32 for gzip, Adler-32 for zlib) of the text alone. */
  check: number
  /** The text's length in bytes. */
  length: number
  /** For CRC-32: x^(8·length) mod P, which moves a running CRC past this text (crc32_combine). */
  shift: number
}

/** A running checksum and length of what one client has been sent: its only per-connection state. */
export interface Position {
  check: number
  length: number
}

export interface Coding {
  readonly name: SseCoding
  /** The wrapper's header, first on every stream. */
  readonly header: Buffer
  /** The checksum of nothing. */
  readonly initial: number
  piece(text: Buffer): Piece
  /** Joins pieces made apart into one (a snapshot: its own head, the shared state, the end). */
  join(pieces: Piece[]): Piece
  /** Advances `at` past `piece` (a few arithmetic steps: no pass over the text). */
  advance(at: Position, piece: Piece): void
  /** A final empty block and the wrapper's trailer for a stream ending at `at`. */
  trailer(at: Position): Buffer
}

/** An empty final block with fixed codes (BFINAL=1, BTYPE=01, then end-of-block): it ends the DEFLATE stream. */
const FINAL_BLOCK = [0x03, 0x00]

// CRC-32 combination as zlib does it (crc32.c: multmodp, x2nmodp): polynomials over GF(2), reflected.
const CRC_POLY = 0xedb88320

/** a·b mod P, both as reflected 32-bit polynomials (at most 32 shift-and-xor steps). */
function multmodp(a: number, b: number): number {
  let m = 0x80000000
  let p = 0
  for (;;) {
    if (a & m) {
      p ^= b
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    b = b & 1 ? (b >>> 1) ^ CRC_POLY : b >>> 1
  }
  return p >>> 0
}

/** x^(2^k) mod P for k = 0…31. */
const X2N: number[] = (() => {
  const t = [0x40000000]
  for (let k = 1; k < 32; k++) t.push(multmodp(t[k - 1]!, t[k - 1]!))
  return t
})()

/** x^(8·bytes) mod P: what moves a CRC past `bytes` bytes. */
function crcShift(bytes: number): number {
  let p = 0x80000000
  let k = 3
  for (let n = bytes; n > 0; n = Math.floor(n / 2), k++) if (n % 2) p = multmodp(X2N[k & 31]!, p)
  return p
}

const ADLER_MOD = 65521

/** Adler-32 (RFC 1950 §8.2); Node's zlib has no function for it. 5,552 bytes between reductions as in zlib. */
export function adler32(bytes: Uint8Array, start = 1): number {
  let a = start & 0xffff
  let b = start >>> 16
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + 5552, bytes.length)
    for (; i < end; i++) {
      a += bytes[i]!
      b += a
    }
    a %= ADLER_MOD
    b %= ADLER_MOD
  }
  return ((b << 16) | a) >>> 0
}

/** The Adler-32 of A followed by B from theirs and B's length (zlib adler32_combine). */
export function adler32Combine(a1: number, a2: number, len2: number): number {
  const rem = len2 % ADLER_MOD
  let sum1 = a1 & 0xffff
  let sum2 = (rem * sum1) % ADLER_MOD
  sum1 += (a2 & 0xffff) + ADLER_MOD - 1
  sum2 += (a1 >>> 16) + (a2 >>> 16) + ADLER_MOD - rem
  if (sum1 >= ADLER_MOD) sum1 -= ADLER_MOD
  if (sum1 >= ADLER_MOD) sum1 -= ADLER_MOD
  if (sum2 >= 2 * ADLER_MOD) sum2 -= 2 * ADLER_MOD
  if (sum2 >= ADLER_MOD) sum2 -= ADLER_MOD
  return ((sum2 << 16) | sum1) >>> 0
}

/** The CRC-32 of A followed by B from theirs and B's shift (zlib crc32_combine_op). */
export function crc32Combine(c1: number, c2: number, shift: number): number {
  return (multmodp(shift, c1) ^ c2) >>> 0
}

/** Pieces made apart, one after the other, as one piece: the coding's own advance, piece by piece. */
function joinWith(coding: Coding, pieces: Piece[], shiftOf: (length: number) => number): Piece {
  const at: Position = { check: coding.initial, length: 0 }
  for (const p of pieces) coding.advance(at, p)
  return { segment: Buffer.concat(pieces.map((p) => p.segment)), ...at, shift: shiftOf(at.length) }
}

const gzip: Coding = {
  name: 'gzip',
  header: GZIP_HEADER,
  initial: 0,
  piece: (text) => ({
    segment: deflateSegment(text),
    check: crc32(text),
    length: text.length,
    shift: crcShift(text.length),
  }),
  join: (pieces) => joinWith(gzip, pieces, crcShift),
  advance(at, p) {
    at.check = crc32Combine(at.check, p.check, p.shift)
    at.length += p.length
  },
  trailer(at) {
    const t = Buffer.from([...FINAL_BLOCK, 0, 0, 0, 0, 0, 0, 0, 0])
    t.writeUInt32LE(at.check, 2)
    t.writeUInt32LE(at.length % 2 ** 32, 6)
    return t
  },
}

const deflate: Coding = {
  name: 'deflate',
  // RFC 1950: CM 8 with a 32 KB window, default level, FCHECK making the pair a multiple of 31.
  header: Buffer.from([0x78, 0x9c]),
  initial: 1,
  piece: (text) => ({ segment: deflateSegment(text), check: adler32(text), length: text.length, shift: 0 }),
  join: (pieces) => joinWith(deflate, pieces, () => 0),
  advance(at, p) {
    at.check = adler32Combine(at.check, p.check, p.length)
    at.length += p.length
  },
  trailer(at) {
    const t = Buffer.from([...FINAL_BLOCK, 0, 0, 0, 0])
    t.writeUInt32BE(at.check, 2)
    return t
  },
}

export const CODINGS: Record<SseCoding, Coding> = { gzip, deflate }
