import { request } from 'node:http'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { liveSnapshot, perTest, type TestServer, until, WsTestClient } from '../test/harness.ts'
import { acceptsGzip } from './poll.ts'

const TOKEN = 'deflate-test-token'
const t = perTest({ GENERIC_WEBHOOK_TOKEN: TOKEN })

async function deliver(url: string, i: number, status = 'success') {
  const res = await fetch(`${url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `b${i}-${status}`,
      project: 'acme/web',
      pipeline: `p${i}`,
      branch: 'main',
      status,
      commit: { sha: `${i}`.padStart(40, 'f'), subject: `Change number ${i}`, author: 'octocat' },
    }),
  })
  expect(res.status).toBe(200)
}

/** A server whose fresh snapshot is well over DEFLATE_MIN_BYTES (40 tiles). */
async function boardOf40(): Promise<TestServer> {
  const s = await t.server()
  for (let i = 0; i < 40; i++) await deliver(s.url, i)
  // On PostgreSQL the snapshot follows the stream, a moment behind the 200s.
  await until(async () => (await liveSnapshot(s)).pipelines?.length === 40, 'the 40 tiles in the snapshot')
  return s
}

/** A GET as it comes over the wire: status, headers and the body's bytes, undecoded. */
function rawGet(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }))
    })
      .on('error', reject)
      .end()
  })
}

describe('a fresh snapshot, compressed once for every client', () => {
  it('goes out on WebSocket compressed to clients that negotiated permessage-deflate, as text to the others, then the live stream', async () => {
    const s = await boardOf40()
    const url = `${s.url.replace('http', 'ws')}/live`
    const deflate = [new WsTestClient(url), new WsTestClient(url)]
    const plain = new WsTestClient(url, { perMessageDeflate: false })
    // Asked for a smaller window than the server compresses with: it gets text.
    const smallWindow = new WsTestClient(url, { perMessageDeflate: { serverMaxWindowBits: 10 } })
    const all = [...deflate, plain, smallWindow]
    t.cleanup(...all.map((c) => () => c.close()))
    await until(() => all.every((c) => c.messages.length >= 1), 'every snapshot')

    for (const c of all) {
      const snap = c.messages[0]!
      expect(snap.type).toBe('snapshot')
      expect(snap.data.pipelines).toHaveLength(40)
      expect(snap.data.pipelines).toEqual(plain.messages[0]!.data.pipelines)
    }
    const raw = Buffer.byteLength(JSON.stringify(plain.messages[0]))
    expect(raw).toBeGreaterThan(16 * 1024)
    for (const c of deflate) expect(c.wireBytes[0]).toBeLessThan(raw / 3)
    for (const c of [plain, smallWindow]) expect(c.wireBytes[0]).toBeGreaterThan(raw)

    // Uncompressed messages follow on the same connections (RSV1 clear), in order.
    await deliver(s.url, 0, 'failure')
    await until(() => all.every((c) => c.messages.length >= 2), 'the live event')
    for (const c of all) {
      expect(c.messages[1]!.type).toBe('build.finished')
      expect(c.messages[1]!.data.build.status).toBe('failure')
    }
  })

  it('is gzipped in a long poll answer when the client takes gzip, and the same JSON otherwise', async () => {
    const s = await boardOf40()
    const url = `${s.url}/live/poll`
    const [gz, gz2, plain] = await Promise.all([
      rawGet(url, { 'accept-encoding': 'gzip, deflate, br' }),
      rawGet(url, { 'accept-encoding': 'gzip' }),
      rawGet(url),
    ])
    expect(plain.headers['content-encoding']).toBeUndefined()
    const body = JSON.parse(plain.body.toString())
    expect(body.events[0].data.pipelines).toHaveLength(40)
    for (const g of [gz, gz2]) {
      expect(g.headers['content-encoding']).toBe('gzip')
      expect(g.headers.vary).toBe('accept-encoding')
      expect(g.body.length).toBeLessThan(plain.body.length / 3)
      // gunzip checks the trailer's CRC-32 and length against the whole text.
      const back = JSON.parse(gunzipSync(g.body).toString())
      expect(back.events[0].data.pipelines).toEqual(body.events[0].data.pipelines)
    }

    // A small answer (a resume with nothing new) is not compressed.
    const resumed = await rawGet(`${url}?since=${s.hub.head - 1}`, { 'accept-encoding': 'gzip' })
    expect(resumed.headers['content-encoding']).toBeUndefined()
    expect(JSON.parse(resumed.body.toString()).events.map((e: { type: string }) => e.type)).toEqual(['build.finished'])
  })

  it('reads Accept-Encoding: gzip named or as *, unless its q is 0', () => {
    expect(acceptsGzip('gzip, deflate, br, zstd')).toBe(true)
    expect(acceptsGzip('br;q=1.0, GZIP;q=0.5')).toBe(true)
    expect(acceptsGzip('*')).toBe(true)
    expect(acceptsGzip('gzip;q=0')).toBe(false)
    expect(acceptsGzip('br, *;q=0')).toBe(false)
    expect(acceptsGzip('identity')).toBe(false)
    expect(acceptsGzip(undefined)).toBe(false)
  })
})
