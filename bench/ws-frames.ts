/**
 * `npx tsx bench/ws-frames.ts`: the server's cost of handing one live frame to N WebSocket clients,
 * two ways taking turns round by round on the same connections: `ws.send` of the frame's shared
 * UTF-8 bytes (ws frames it per client: a header allocated, a corked write of header + payload) and
 * the transport's own send (live/ws.ts: one framed buffer, built once, written to every socket).
 * Timed is the synchronous send loop alone (what holds the event loop during a fan-out); each round
 * then waits until every client has the frame, and checks each got every frame once, intact.
 *
 * Env: BENCH_LEVELS (1000,5000), BENCH_ROUNDS (200), BENCH_FRAME_BYTES (1652: a build.finished).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { Frame } from '../server/live/frame.ts'
import { liveWebSocketServer, WsClient } from '../server/live/ws.ts'
import { machine, mdTable, median, writeJson } from './procs.ts'

const LEVELS = (process.env.BENCH_LEVELS ?? '1000,5000').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200)
const FRAME_BYTES = Number(process.env.BENCH_FRAME_BYTES ?? 1652)

export async function benchWsFrames(): Promise<string> {
  const before = machine()
  const rows: (string | number)[][] = []
  const json: Record<string, unknown>[] = []
  for (const n of LEVELS) {
    const http = createServer()
    const wss = liveWebSocketServer()
    const server: WebSocket[] = []
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => server.push(ws)))
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`
    const got = new Array<number>(n).fill(0)
    const clients: WebSocket[] = []
    let bad = 0
    let expected = ''
    for (let i = 0; i < n; i += 200) {
      const batch = Array.from({ length: Math.min(200, n - i) }, (_, k) => {
        const c = new WebSocket(url)
        c.on('message', (d) => {
          got[i + k]!++
          if (String(d) !== expected) bad++
        })
        return new Promise<WebSocket>((r) => c.once('open', () => r(c)))
      })
      clients.push(...(await Promise.all(batch)))
    }
    while (server.length < n) await new Promise((r) => setTimeout(r, 10))
    const transports = server.map((ws) => new WsClient(ws, null, 64 << 20, () => {}))
    const times: Record<'ws.send' | 'framed once', number[]> = { 'ws.send': [], 'framed once': [] }
    for (let r = 0; r < 2 * ROUNDS; r++) {
      const data = { round: r, pad: 'x'.repeat(Math.max(0, FRAME_BYTES - 60)) }
      const frame = new Frame({ id: r + 1, type: 'build.finished', at: new Date().toISOString(), data })
      expected = frame.json
      const way = r % 2 ? 'framed once' : 'ws.send'
      const t = performance.now()
      if (way === 'ws.send') for (const ws of server) ws.send(frame.utf8, { binary: false, compress: false })
      else for (const c of transports) c.send(frame)
      times[way].push(performance.now() - t)
      while (got.some((g) => g < r + 1)) await new Promise((res) => setImmediate(res))
    }
    const check =
      bad === 0 && got.every((g) => g === 2 * ROUNDS)
        ? 'every client every frame once, intact'
        : `FAILED: ${bad} bad frames`
    for (const [way, ts] of Object.entries(times)) {
      const m = median(ts)
      rows.push([n, way, m.toFixed(2), ((m * 1000) / n).toFixed(2), check])
      json.push({ clients: n, way, medianLoopMs: m, perClientUs: (m * 1000) / n, rounds: ROUNDS, check })
    }
    for (const c of clients) c.terminate()
    wss.close()
    http.close()
  }
  const after = machine()
  const file = writeJson('ws-frames', { machine: { before, after }, frameBytes: FRAME_BYTES, rows: json })
  return [
    `\nOne ${FRAME_BYTES}-byte frame to every WebSocket client: the synchronous send loop, median of ${ROUNDS} rounds per way, ways taking turns (${before.cores} cores, load ${before.load1} before, ${after.load1} after)`,
    mdTable(['clients', 'way', 'send loop ms', 'µs per client', 'check'], rows),
    `JSON: ${file}`,
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchWsFrames())
