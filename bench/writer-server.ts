/**
 * A Hono server (the same @hono/node-server the product uses) whose POST handler either writes
 * nothing, writes through the group-commit Writer (WAL synced on the thread pool before the
 * answer), or runs one durable transaction per request (synchronous=FULL: the sync inside COMMIT,
 * as a plain SQLite setup does it).
 * Run as a child process by bench/writer.ts so the load generator doesn't share its event loop.
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { join } from 'node:path'
import { openStore } from '../server/db/client.ts'
import { Writer } from '../server/db/writer.ts'

const [mode, dir] = process.argv.slice(2) as ['none' | 'group' | 'each', string]
const store = openStore(join(dir, 'bench.db'))
store.sqlite.exec('CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
const insert = store.sqlite.prepare('INSERT INTO hits (body) VALUES (?)')
// The per-request variant must be as durable as the writer: the sync inside each COMMIT.
if (mode === 'each') store.sqlite.pragma('synchronous = FULL')
const writer = new Writer(store.sqlite, store.syncWal)
const perRequest = store.sqlite.transaction((b: string) => insert.run(b))

const app = new Hono()
app.post('/hit', async (c) => {
  const body = await c.req.text()
  JSON.parse(body)
  if (mode === 'group') await writer.write(() => insert.run(body))
  else if (mode === 'each') perRequest(body)
  return c.json({ ok: true }, 202)
})
app.get('/count', (c) => c.json(store.sqlite.prepare('SELECT count(*) AS n FROM hits').get()))

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.send?.({ port: info.port })
})
process.on('message', (m) => {
  if (m === 'stop') server.close(() => process.exit(0))
})
