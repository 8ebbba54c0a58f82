/**
 * @module The baselines the live and ingest benchmarks measure Radiator against, each run in its
 * own process by bench/procs.ts (`tsx bench/baselines.ts <kind>`; prints `LISTENING <url>`):
 *
 * - `ws`: node:http + a bare `ws` server on /live; POST /publish broadcasts each line of the body as
 *   a frame, one `send` per client (the usual broadcast loop), and answers 204.
 * - `socketio`: the same with socket.io 4 (`io.emit('event', JSON.parse(body))`, encoded once per emit).
 * - `bare`: reads the body and answers 204 (the ingest baseline).
 * - `bare-verify`: reads the body, checks its GitHub HMAC in constant time, JSON.parses it, answers
 *   204: what any signed-webhook receiver must do before storing anything.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

const kind = process.argv[2]

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

let handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void
const server = createServer(async (req, res) => {
  const body = await readBody(req)
  handler(req, res, body)
})

if (kind === 'ws') {
  const { WebSocketServer } = await import('ws')
  const wss = new WebSocketServer({ server, path: '/live' })
  // One frame per line of the body, each sent to every client before the next (as a hub does).
  handler = (_req, res, body) => {
    for (const text of body.toString('utf8').split('\n')) for (const c of wss.clients) c.send(text)
    res.writeHead(204).end()
  }
} else if (kind === 'socketio') {
  const { Server } = await import('socket.io')
  const io = new Server(server, { transports: ['websocket'], serveClient: false })
  handler = (_req, res, body) => {
    io.emit('event', JSON.parse(body.toString('utf8')))
    res.writeHead(204).end()
  }
} else if (kind === 'bare') {
  handler = (_req, res) => res.writeHead(204).end()
} else if (kind === 'bare-verify') {
  const secret = process.env.GITHUB_WEBHOOK_SECRET!
  handler = (req, res, body) => {
    const sig = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''))
    const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`)
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return res.writeHead(401).end()
    JSON.parse(body.toString('utf8'))
    res.writeHead(204).end()
  }
} else {
  throw new Error(`unknown baseline ${kind}`)
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING http://127.0.0.1:${(server.address() as { port: number }).port}\n`)
})
process.on('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
})
