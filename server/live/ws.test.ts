import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import type WebSocket from 'ws'
import { perTest, until, WsTestClient } from '../test/harness.ts'
import { Frame } from './frame.ts'
import { liveWebSocketServer, WsClient } from './ws.ts'

const t = perTest()

describe('WebSocket transport', () => {
  it('writes a frame to every client socket as the same framed buffer', async () => {
    const http = createServer()
    const wss = liveWebSocketServer()
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws)))
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`
    const server: WebSocket[] = []
    wss.on('connection', (ws) => server.push(ws))
    const clients = [new WsTestClient(url), new WsTestClient(url, { perMessageDeflate: false })]
    t.cleanup(
      ...clients.map((c) => () => c.close()),
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
    await until(() => clients.every((c) => c.messages.length === 1), 'the frame')

    for (const c of clients) expect(c.messages).toEqual([JSON.parse(frame.json)])
    expect(writes.map((w) => w.mock.calls.length)).toEqual([1, 1])
    expect(writes[0]!.mock.calls[0]![0]).toBe(writes[1]!.mock.calls[0]![0])
  })
})
