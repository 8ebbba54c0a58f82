/**
 * @module Compressing a message whose end is shared by many (a fresh snapshot: each connection's own
 * facts, then the board every connecting client gets). DEFLATE (RFC 1951) lets streams compressed
 * apart be joined when each refers to nothing before it and ends byte-aligned, so the shared part is
 * compressed once per head and joined to each connection's small compressed head: a permessage-deflate
 * message (ws.ts) or a gzip body (poll.ts).
 */
import { constants, crc32, deflateRawSync } from 'node:zlib'
import type { Serialized } from './frame.ts'

/** Smaller messages go out uncompressed: deflating a small one saves little and costs a zlib call. */
export const DEFLATE_MIN_BYTES = 16 * 1024

/**
 * A raw DEFLATE segment of `text`, compressed on its own and ending on an empty stored block
 * (Z_SYNC_FLUSH: byte-aligned, not final), so another segment may follow it.
 */
export function deflateSegment(text: string | Buffer): Buffer {
  const out = deflateRawSync(text, { finishFlush: constants.Z_SYNC_FLUSH })
  // zlib's sync output is a view of its 16 KB chunk: a segment kept with its frame (10,000 frames in
  // the replay ring) would hold 16 KB for a few hundred bytes. A small one is copied out of it.
  return out.buffer.byteLength > 2 * out.length ? Buffer.from(out) : out
}

/** A shared tail's segment: compressed by the first message that needs it, then reused. */
export const tailSegment = (tail: Serialized): Buffer => deflateSegment(tail.utf8)

/** gzip's header (RFC 1952): deflate, no name or time, unknown OS. */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])

/**
 * A gzip body of `head` + the shared `tail` + `rest`: the head's and the rest's segments made here,
 * the tail's shared; the trailer's CRC-32 and length are of the whole text.
 */
export function gzipAround(head: string, tail: Serialized, rest: string): Uint8Array<ArrayBuffer> {
  const h = Buffer.from(head)
  const r = Buffer.from(rest)
  const trailer = Buffer.allocUnsafe(8)
  trailer.writeUInt32LE(crc32(r, crc32(tail.utf8, crc32(h))), 0)
  trailer.writeUInt32LE((h.length + tail.bytes + r.length) % 2 ** 32, 4)
  const last = deflateRawSync(r)
  // Buffer.concat copies into a new, unshared ArrayBuffer (what a Response body takes).
  return Buffer.concat([
    GZIP_HEADER,
    deflateSegment(h),
    tail.encoded(tailSegment),
    last,
    trailer,
  ]) as Uint8Array<ArrayBuffer>
}
