import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { perTest, until } from '../test/harness.ts'
import { Frame } from './frame.ts'
import { liveWebSocketServer, WsClient } from './ws.ts'

const TOKEN = 'ws-test-token'
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

/** A client that keeps each message's text and the bytes its socket had read when it arrived. */
function client(url: string, opts: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, opts)
  const got: { text: string; wireBytes: number }[] = []
  ws.on('message', (d) =>
    got.push({ text: String(d), wireBytes: (ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead })
  )
  t.cleanup(() => ws.close())
  return { ws, got }
}

describe('WebSocket transport', () => {
  it('sends a fresh snapshot compressed to clients that negotiated permessage-deflate, as text to the others, then the live stream', async () => {
    const s = await t.server()
    for (let i = 0; i < 40; i++) await deliver(s.url, i)
    const url = `${s.url.replace('http', 'ws')}/live`
    const deflate = [client(url), client(url)]
    const plain = client(url, { perMessageDeflate: false })
    // Asked for a smaller window than the server compresses with: it gets text.
    const smallWindow = client(url, { perMessageDeflate: { serverMaxWindowBits: 10 } })
    const all = [...deflate, plain, smallWindow]
    await until(() => all.every((c) => c.got.length >= 1), 'every snapshot')

    const snapshots = all.map((c) => JSON.parse(c.got[0]!.text))
    for (const snap of snapshots) {
      expect(snap.type).toBe('snapshot')
      expect(snap.data.pipelines).toHaveLength(40)
      expect(snap.data.pipelines).toEqual(snapshots[2].data.pipelines)
    }
    const raw = Buffer.byteLength(plain.got[0]!.text)
    expect(raw).toBeGreaterThan(16 * 1024)
    for (const c of deflate) expect(c.got[0]!.wireBytes).toBeLessThan(raw / 3)
    for (const c of [plain, smallWindow]) expect(c.got[0]!.wireBytes).toBeGreaterThan(raw)

    // Uncompressed messages follow on the same connections (RSV1 clear), in order.
    await deliver(s.url, 0, 'failure')
    await until(() => all.every((c) => c.got.length >= 2), 'the live event')
    for (const c of all) {
      const ev = JSON.parse(c.got[1]!.text)
      expect(ev.type).toBe('build.finished')
      expect(ev.data.build.status).toBe('failure')
    }
  })

  it('writes a frame to every client socket as the same framed buffer', async () => {
    const http = createServer()
    const wss = liveWebSocketServer()
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws)))
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`
    const server: WebSocket[] = []
    wss.on('connection', (ws) => server.push(ws))
    const clients = [client(url), client(url, { perMessageDeflate: false })]
    t.cleanup(
      () => wss.close(),
      () => http.close()
    )
    await until(() => server.length === 2 && clients.every((c) => c.ws.readyState === 1), 'both connections')

    const writes = server.map((ws) =>
      vi.spyOn((ws as unknown as { _socket: { write: (chunk: unknown) => boolean } })._socket, 'write')
    )
    const frame = new Frame({
      id: 7,
      type: 'build.updated',
      at: new Date(0).toISOString(),
      data: { é: 'ü'.repeat(200) },
    })
    for (const ws of server) new WsClient(ws, null, 1 << 20, () => {}).send(frame)
    await until(() => clients.every((c) => c.got.length === 1), 'the frame')

    for (const c of clients) expect(c.got[0]!.text).toBe(frame.json)
    expect(writes.map((w) => w.mock.calls.length)).toEqual([1, 1])
    expect(writes[0]!.mock.calls[0]![0]).toBe(writes[1]!.mock.calls[0]![0])
  })
})
