import { randomBytes } from 'node:crypto'
import { type ClientRequest, request } from 'node:http'
import { constants, crc32, deflateSync, gunzipSync, inflateSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { liveSnapshot, perTest, SseTestClient, type TestServer, until } from '../test/harness.ts'
import { Frame } from './frame.ts'
import { SseClient } from './sse.ts'
import { adler32, CODINGS, sseCoding } from './sse-encoding.ts'

const TOKEN = 'sse-encoding-test-token'
const t = perTest({ GENERIC_WEBHOOK_TOKEN: TOKEN, LIVE_HEARTBEAT_MS: '1000' })

async function deliver(url: string, i: number, status = 'success') {
  const res = await fetch(`${url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `b${i}-${status}`,
      project: `acme/service-${i}`,
      pipeline: `p${i}`,
      branch: 'main',
      status,
      commit: { sha: randomBytes(20).toString('hex'), subject: `Change number ${i} ${randomBytes(6).toString('hex')}` },
    }),
  })
  expect(res.status).toBe(200)
}

/** A server whose fresh snapshot is well over 16 KB (60 tiles with varied commits). */
async function board(): Promise<TestServer> {
  const s = await t.server()
  for (let i = 0; i < 60; i++) await deliver(s.url, i)
  // A stream opened before the board is in the snapshot would also carry its events (PostgreSQL).
  await until(async () => (await liveSnapshot(s)).pipelines?.length === 60, 'the 60 tiles in the snapshot')
  return s
}

/** An event stream read as it comes over the wire: headers and the body's bytes, undecoded. */
function rawStream(url: string, acceptEncoding?: string) {
  const chunks: Buffer[] = []
  let req!: ClientRequest
  const headers = new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
    req = request(url, { headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} }, (res) => {
      resolve(res.headers)
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', () => {})
    })
    req.on('error', reject).end()
  })
  const ended = new Promise<void>((resolve) => req.on('close', resolve))
  return { headers, ended, bytes: () => Buffer.concat(chunks), close: () => req.destroy() }
}

/** The two things that differ between two connections' streams: the snapshot's clock fields. */
const sameClock = (text: string) => text.replace(/"(at|serverTime)":"[^"]+"/g, '"$1":"T"')

describe('Accept-Encoding for the event stream', () => {
  it('picks gzip or deflate by q-value (gzip on a tie), * for either, and never a coding at q=0', () => {
    expect(sseCoding('gzip, deflate, br, zstd')).toBe('gzip')
    expect(sseCoding('deflate')).toBe('deflate')
    expect(sseCoding('gzip;q=0.5, deflate;q=0.8')).toBe('deflate')
    expect(sseCoding('GZIP;Q=0.5')).toBe('gzip')
    expect(sseCoding('x-gzip')).toBe('gzip')
    expect(sseCoding('*')).toBe('gzip')
    expect(sseCoding('gzip;q=0, *')).toBe('deflate')
    expect(sseCoding('gzip;q=0, deflate;q=0.000')).toBeNull()
    expect(sseCoding('br, *;q=0')).toBeNull()
    expect(sseCoding('gzip;q=nonsense')).toBeNull()
    expect(sseCoding('identity')).toBeNull()
    expect(sseCoding('br, zstd')).toBeNull()
    expect(sseCoding('')).toBeNull()
    expect(sseCoding(undefined)).toBeNull()
  })
})

describe('checksums of pieces made apart', () => {
  // Around zlib's 5,552-byte reduction interval and Adler-32's 65,521 modulus.
  const sizes = [0, 1, 100, 5551, 5553, 70_000]
  it('Adler-32 is the one zlib writes', () => {
    for (const n of sizes) {
      const b = randomBytes(n)
      const z = deflateSync(b)
      expect(adler32(b)).toBe(z.readUInt32BE(z.length - 4))
    }
  })

  it('joined pieces carry the checksum and length of the whole text, for gzip (CRC-32) and deflate (Adler-32)', () => {
    const parts = sizes.map((n) => randomBytes(n))
    const whole = Buffer.concat(parts)
    const z = deflateSync(whole)
    for (const [coding, expected] of [
      [CODINGS.gzip, crc32(whole)],
      [CODINGS.deflate, z.readUInt32BE(z.length - 4)],
    ] as const) {
      const pieces = parts.map((p) => coding.piece(p))
      const joined = coding.join(pieces)
      expect(joined.check).toBe(expected)
      expect(joined.length).toBe(whole.length)
      // A client's running position moves the same way, one piece at a time.
      const at = { check: coding.initial, length: 0 }
      for (const p of pieces) coding.advance(at, p)
      expect(at).toEqual({ check: expected, length: whole.length })
      // And the segments inflate, one after another, to the whole text.
      expect(
        inflateSync(
          Buffer.concat([
            Buffer.from([0x78, 0x9c]),
            joined.segment,
            CODINGS.deflate.trailer({ check: z.readUInt32BE(z.length - 4), length: 0 }),
          ])
        )
      ).toEqual(whole)
    }
  })
})

describe('a message compressed once', () => {
  it('keeps only its own bytes, not the 16 KB chunk zlib wrote it into', () => {
    const piece = CODINGS.gzip.piece(Buffer.from(`data: ${JSON.stringify({ type: 'heartbeat', at: new Date() })}\n\n`))
    expect(piece.segment.length).toBeLessThan(100)
    expect(piece.segment.buffer.byteLength).toBeLessThan(16 * 1024)
  })
})

describe('the event stream compressed', () => {
  it('inflates to exactly the stream a client without compression gets, gzip and deflate, trailer checked when the server ends it', async () => {
    const s = await board()
    const url = `${s.url}/live/sse`
    const plain = rawStream(url)
    const identity = rawStream(url, 'identity, gzip;q=0')
    const gzip = rawStream(url, 'gzip, deflate, br, zstd')
    const deflate = rawStream(url, 'deflate')
    const all = [plain, identity, gzip, deflate]
    t.cleanup(...all.map((c) => c.close))

    expect((await plain.headers)['content-encoding']).toBeUndefined()
    expect((await identity.headers)['content-encoding']).toBeUndefined()
    expect((await gzip.headers)['content-encoding']).toBe('gzip')
    expect((await deflate.headers)['content-encoding']).toBe('deflate')
    for (const c of all) {
      expect((await c.headers)['content-type']).toBe('text/event-stream; charset=utf-8')
      expect((await c.headers).vary).toBe('accept-encoding')
    }

    // The snapshot, then live events and a heartbeat (LIVE_HEARTBEAT_MS 1000) on every stream.
    await until(() => plain.bytes().includes('"pipelines":'), 'the snapshot')
    const snapshotBytes = plain.bytes().length
    const compressedSnapshot = [gzip.bytes().length, deflate.bytes().length]
    for (let i = 0; i < 3; i++) await deliver(s.url, i, 'failure')
    await until(
      () =>
        plain
          .bytes()
          .toString()
          .match(/"heartbeat"/),
      'a heartbeat',
      5000
    )
    await until(
      () =>
        (
          plain
            .bytes()
            .toString()
            .match(/build\.finished/g) ?? []
        ).length === 3,
      'three events'
    )
    // Every stream has taken what was sent before the server ends them.
    await new Promise((r) => setTimeout(r, 100))
    s.hub.closeAll(1001, 'going away')
    await Promise.all(all.map((c) => c.ended))

    const text = plain.bytes().toString()
    expect(text.startsWith('retry: 2000\n\nid: ')).toBe(true)
    expect(snapshotBytes).toBeGreaterThan(16 * 1024)
    for (const n of compressedSnapshot) expect(n).toBeLessThan(snapshotBytes / 3)
    expect(sameClock(identity.bytes().toString())).toBe(sameClock(text))
    // gunzip and inflate check the trailer: CRC-32 (or Adler-32) and length of the whole text.
    expect(sameClock(gunzipSync(gzip.bytes()).toString())).toBe(sameClock(text))
    expect(sameClock(inflateSync(deflate.bytes()).toString())).toBe(sameClock(text))
  })

  it('cut by the client, decodes up to the cut without a trailer, and a fetch client resumes from its last id', async () => {
    const s = await board()
    const url = `${s.url}/live/sse`
    const gzip = rawStream(url, 'gzip')
    t.cleanup(gzip.close)
    await deliver(s.url, 0, 'failure')
    const decoded = () => gunzipSync(gzip.bytes(), { finishFlush: constants.Z_SYNC_FLUSH }).toString()
    await until(() => decoded().includes('build.finished'), 'the event, decoded from a stream still open')
    gzip.close()
    const text = decoded()
    const lastId = Number([...text.matchAll(/^id: (\d+)$/gm)].at(-1)![1])
    expect(text.endsWith('\n\n')).toBe(true)
    expect(lastId).toBe(s.hub.head)
    // A strict decoder sees the end missing: there was no trailer.
    expect(() => gunzipSync(gzip.bytes())).toThrow(/unexpected end/)

    await deliver(s.url, 1, 'failure')
    // undici's fetch offers gzip and decodes the stream, as EventSource does.
    const again = new SseTestClient(url, { 'last-event-id': String(lastId) })
    t.cleanup(() => again.close())
    await until(() => again.events().length >= 2, 'the resume')
    const [snap, next] = again.events()
    expect(snap!.id).toBe(lastId)
    expect(snap!.data.resumed).toBe(true)
    expect(next!.type).toBe('build.finished')
    expect(next!.id).toBe(lastId + 1)
  })

  it('writes one message as the same Buffer to every compressed client of a coding', async () => {
    const clients = ['gzip', 'gzip', 'deflate', 'deflate', null].map(
      (coding) =>
        new SseClient(
          null,
          1 << 20,
          () => {},
          () => {},
          undefined,
          coding as 'gzip' | 'deflate' | null
        )
    )
    const frame = new Frame({ id: 7, type: 'build.finished', at: new Date().toISOString(), data: { n: 1 } })
    for (const c of clients) c.send(frame)
    const chunks = await Promise.all(
      clients.map(async (c) => {
        const reader = c.stream.getReader()
        await reader.read() // the stream's opening (header and retry)
        return (await reader.read()).value!
      })
    )
    expect(chunks[0]).toBe(chunks[1])
    expect(chunks[2]).toBe(chunks[3])
    expect(chunks[0]).not.toBe(chunks[4])
  })
})
