/**
 * The real process killed with SIGKILL in the middle of a burst of signed deliveries and beacons,
 * then started again on the same DATA_DIR: what was acknowledged is there exactly once, event ids
 * keep increasing, and live clients that resume from their last id miss nothing and see nothing twice.
 */
import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import Database from 'better-sqlite3'
import { databasePath } from '../db/client.ts'
import { ROOT } from '../http/web-build.ts'
import { loadFixture } from './fixtures.ts'
import { sign as signGithub } from './sign/github.ts'
import { SseTestClient, WsTestClient, tempDir, until, type LiveMessage } from './harness.ts'

const GITHUB_SECRET = 'crash-github-secret'
const GENERIC_TOKEN = 'crash-generic-token'
const SITE = 'shop.example.com'
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
/** Persisted event types (the rest — visitors, vitals, metric — are transient, never stored). */
const PERSISTED = /^build\./

function startProcess(dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
      GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN,
      SITES: SITE,
      COLLECT_PER_MINUTE: '0',
      // Where access control is configured: the live stream open to viewers without signing in.
      PUBLIC_DASHBOARD: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)))
  const url = until(() => stdout.match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1], `the printed URL (stderr: ${stderr})`, 60_000)
  return { child, exited, url, err: () => stderr }
}

const github = loadFixture('github', 'workflow_run-completed-success')

type Sent = { kind: 'github' | 'generic' | 'beacon'; key: string }

/** One delivery or beacon; resolves with what was acknowledged, null when the server went away first. */
async function sendOne(url: string, n: number): Promise<Sent | null> {
  const kind = n % 3 === 0 ? 'github' : n % 3 === 1 ? 'generic' : 'beacon'
  try {
    if (kind === 'github') {
      const key = `crash-gh-${n}`
      const res = await fetch(`${url}/hooks/github`, {
        method: 'POST',
        headers: { ...github.headers, 'X-GitHub-Delivery': key, ...signGithub(github.raw, GITHUB_SECRET) },
        body: new Uint8Array(github.raw),
      })
      const body = await res.json()
      if (res.status !== 200) throw new Error(`github delivery ${key}: ${res.status} ${JSON.stringify(body)}`)
      return { kind, key }
    }
    if (kind === 'generic') {
      const key = `crash-${n}`
      const res = await fetch(`${url}/hooks/generic`, {
        method: 'POST',
        headers: { authorization: `Bearer ${GENERIC_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ id: key, project: 'acme/crash', pipeline: `p${n % 4}`, branch: 'main', status: n % 2 ? 'success' : 'failure', number: n }),
      })
      const body = await res.json()
      if (res.status !== 200 || !body.stored) throw new Error(`generic delivery ${key}: ${res.status} ${JSON.stringify(body)}`)
      return { kind, key }
    }
    const key = `/crash/${n}`
    const res = await fetch(`${url}/api/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: `https://${SITE}`, 'user-agent': BROWSER_UA },
      body: JSON.stringify({ site: SITE, width: 1280, events: [{ type: 'pageview', path: key }] }),
    })
    await res.arrayBuffer()
    if (res.status !== 202 || res.headers.get('x-radiator-dropped')) throw new Error(`beacon ${key}: ${res.status}`)
    return { kind, key }
  } catch (e) {
    // The kill: the connection reset or refused. Anything else is a failure of the test.
    // (A body cut off after the status line counts as not acknowledged.)
    if (e instanceof TypeError && /fetch failed|terminated/.test(e.message)) return null
    throw e
  }
}

const idsOf = (ms: LiveMessage[]) => ms.filter((m) => m.type !== 'snapshot' && typeof m.id === 'number').map((m) => m.id!)

describe('the radiator process killed with SIGKILL mid-burst', () => {
  it('keeps every acknowledged delivery and beacon exactly once, and live clients resume without gaps or duplicates', { timeout: 90_000 }, async () => {
    const dataDir = tempDir('radiator-crash-')
    let first = startProcess(dataDir)
    let second: ReturnType<typeof startProcess> | undefined
    const clients: { close(): void }[] = []
    try {
      const url1 = await first.url
      const ws = new WsTestClient(`${url1.replace('http', 'ws')}/live`)
      const sse = new SseTestClient(`${url1}/live/sse`)
      clients.push(ws, sse)
      await until(() => ws.events()[0] && sse.events()[0], 'the first snapshots')
      const start = ws.events()[0]!.id!

      // The burst: several requests in flight at all times, each with its own delivery id or path.
      const acked: Sent[] = []
      let next = 0
      let stop = false
      const failures: unknown[] = []
      const worker = async () => {
        while (!stop) {
          const r = await sendOne(url1, next++).catch((e: unknown) => void failures.push(e))
          if (!r) return
          acked.push(r)
        }
      }
      const workers = Array.from({ length: 6 }, worker)
      await until(() => failures.length || acked.length >= 60, 'sixty acknowledged requests', 30_000)
      first.child.kill('SIGKILL')
      expect(await first.exited).toBe('SIGKILL')
      stop = true
      await Promise.all(workers)
      expect(failures).toEqual([])
      expect(acked.filter((a) => a.kind === 'generic').length).toBeGreaterThan(5)

      // What the clients had seen when the server died.
      await until(() => ws.closeCode, 'the WebSocket to notice the kill')
      await sse.done
      const seenWs = ws.events().slice()
      const seenSse = sse.events().slice()
      const lastWs = Math.max(...seenWs.map((m) => m.id ?? 0))
      const lastSse = Math.max(...seenSse.map((m) => m.id ?? 0))
      const seenMax = Math.max(lastWs, lastSse)
      expect(idsOf(seenWs).length).toBeGreaterThan(0)

      // Restart on the same data; the clients resume from their last ids.
      second = startProcess(dataDir)
      const url2 = await second.url
      const ws2 = new WsTestClient(`${url2.replace('http', 'ws')}/live?since=${lastWs}`)
      const sse2 = new SseTestClient(`${url2}/live/sse`, { 'last-event-id': String(lastSse) })
      clients.push(ws2, sse2)
      await until(() => ws2.events()[0] && sse2.events()[0], 'the resumed snapshots')
      for (const [c, last] of [[ws2, lastWs], [sse2, lastSse]] as const) {
        const snap = c.events()[0]!
        expect(snap.type).toBe('snapshot')
        expect(snap.data.reset, 'a resume point issued before the crash is honoured').toBe(false)
        expect(snap.id).toBe(last)
        expect(snap.data.head).toBeGreaterThanOrEqual(seenMax)
      }

      // New deliveries after the restart: their events must get ids above everything before it.
      const after: string[] = []
      for (let i = 0; i < 3; i++) {
        const key = `after-${i}`
        const res = await fetch(`${url2}/hooks/generic`, {
          method: 'POST',
          headers: { authorization: `Bearer ${GENERIC_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: key, project: 'acme/crash', pipeline: 'after', branch: 'main', status: 'success' }),
        })
        expect(res.status).toBe(200)
        after.push(((await res.json()) as { build: string }).build)
      }
      const hasAfter = (c: WsTestClient | SseTestClient) => after.every((b) => c.events().some((m) => m.data?.build?.id === b))
      await until(() => hasAfter(ws2) && hasAfter(sse2), 'the post-restart events on both resumed clients')

      second.child.kill('SIGTERM')
      expect(await second.exited).toBe(0)
      second = undefined

      const db = new Database(databasePath(dataDir), { readonly: true, fileMustExist: true })
      try {
        // Every acknowledged delivery: remembered once, logged as applied once.
        const applied = db.prepare<[string, string], { n: number }>(
          "SELECT count(*) AS n FROM deliveries WHERE provider = ? AND delivery_id = ? AND outcome IN ('stored', 'superseded')"
        )
        const keys = db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM delivery_keys WHERE provider = ? AND delivery_id = ?')
        const hits = db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM site_hits WHERE site = ? AND path = ?')
        for (const a of acked) {
          if (a.kind === 'beacon') {
            expect(hits.get(SITE, a.key)!.n, `beacon ${a.key}`).toBe(1)
            continue
          }
          expect(applied.get(a.kind, a.key)!.n, `${a.kind} delivery ${a.key} applied`).toBe(1)
          expect(keys.get(a.kind, a.key)!.n, `${a.kind} delivery ${a.key} remembered`).toBe(1)
        }
        // Nothing at all, acknowledged or cut off by the kill, was applied twice.
        const twice = db
          .prepare("SELECT provider, delivery_id, count(*) AS n FROM deliveries WHERE outcome IN ('stored', 'superseded') GROUP BY provider, delivery_id HAVING n > 1")
          .all()
        expect(twice).toEqual([])
        const generic = acked.filter((a) => a.kind === 'generic')
        const builds = db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM builds WHERE provider = 'generic' AND external_id = ?")
        for (const a of generic) expect(builds.get(a.key)!.n, `build ${a.key}`).toBe(1)

        const events = db.prepare<[], { id: number; type: string; data: string }>('SELECT id, type, data FROM events ORDER BY id').all()
        const before = events.filter((e) => !after.some((b) => (JSON.parse(e.data) as { build: { id: string } }).build.id === b))
        const afterEvents = events.filter((e) => !before.includes(e))
        expect(afterEvents.length).toBeGreaterThanOrEqual(after.length)
        const beforeMax = Math.max(seenMax, ...before.map((e) => e.id))
        for (const e of afterEvents) expect(e.id, 'a post-restart event id').toBeGreaterThan(beforeMax)

        // Each client's whole stream (before the kill, then resumed): ids strictly increasing, every
        // persisted event after its first snapshot present once, and each matching its stored row.
        const stored = new Map(events.map((e) => [e.id, e]))
        for (const [name, pre, post] of [['WebSocket', seenWs, ws2.events()], ['SSE', seenSse, sse2.events()]] as const) {
          const stream = [...pre, ...post].filter((m) => m.type !== 'snapshot')
          const ids = stream.map((m) => m.id!)
          for (let i = 1; i < ids.length; i++) expect(ids[i], `${name}: ids increase (${ids[i - 1]} then ${ids[i]})`).toBeGreaterThan(ids[i - 1]!)
          const upTo = Math.max(...ids)
          const expected = events.filter((e) => e.id > start && e.id <= upTo).map((e) => e.id)
          const got = stream.filter((m) => PERSISTED.test(m.type)).map((m) => m.id!)
          expect(got, `${name}: the persisted events it received are exactly those stored`).toEqual(expected)
          for (const m of stream.filter((m) => PERSISTED.test(m.type))) {
            const row = stored.get(m.id!)!
            expect(m.type).toBe(row.type)
            expect(m.data).toEqual(JSON.parse(row.data))
          }
        }
      } finally {
        db.close()
      }
    } finally {
      clients.forEach((c) => c.close())
      first.child.kill('SIGKILL')
      second?.child.kill('SIGKILL')
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
