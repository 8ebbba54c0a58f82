/**
 * The real process killed with SIGKILL in the middle of a burst of signed deliveries and beacons,
 * then started again on the same DATA_DIR (and once more after a kill in a quiet moment whose last
 * event was a transient one): what was acknowledged is there exactly once, event ids keep
 * increasing, and live clients that resume from their last id miss nothing and see nothing twice.
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
const METRICS_TOKEN = 'crash-metrics-token'
const SITE = 'shop.example.com'
const BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
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
      METRICS_TOKEN,
      SITES: SITE,
      COLLECT_PER_MINUTE: '0',
      // The live stream open to viewers without signing in.
      PUBLIC_DASHBOARD: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<NodeJS.Signals | number | null>((r) =>
    child.on('exit', (code, signal) => r(signal ?? code))
  )
  const url = until(
    () => stdout.match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1],
    `the printed URL (stderr: ${stderr})`,
    60_000
  )
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
        headers: {
          authorization: `Bearer ${GENERIC_TOKEN}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({
          id: key,
          project: 'acme/crash',
          pipeline: `p${n % 4}`,
          branch: 'main',
          status: n % 2 ? 'success' : 'failure',
          number: n,
        }),
      })
      const body = await res.json()
      if (res.status !== 200 || !body.stored)
        throw new Error(`generic delivery ${key}: ${res.status} ${JSON.stringify(body)}`)
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

const idsOf = (ms: LiveMessage[]) =>
  ms.filter((m) => m.type !== 'snapshot' && typeof m.id === 'number').map((m) => m.id!)

type Client = WsTestClient | SseTestClient
type Proc = ReturnType<typeof startProcess>

/** A live client on `url`, resuming after `since` when given (WebSocket by ?since, SSE by Last-Event-ID). */
function connect(kind: 'ws' | 'sse', url: string, since?: number): Client {
  if (kind === 'ws')
    return new WsTestClient(`${url.replace('http', 'ws')}/live${since === undefined ? '' : `?since=${since}`}`)
  return new SseTestClient(`${url}/live/sse`, since === undefined ? {} : { 'last-event-id': String(since) })
}

const lastId = (c: Client) => Math.max(...c.events().map((m) => m.id ?? 0))

/** Posts generic builds one by one; returns their build ids. */
async function deliverAfter(url: string, keys: string[]): Promise<string[]> {
  const builds: string[] = []
  for (const key of keys) {
    const res = await fetch(`${url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${GENERIC_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: key, project: 'acme/crash', pipeline: 'after', branch: 'main', status: 'success' }),
    })
    expect(res.status).toBe(200)
    builds.push(((await res.json()) as { build: string }).build)
  }
  return builds
}

const hasBuilds = (c: Client, builds: string[]) => builds.every((b) => c.events().some((m) => m.data?.build?.id === b))

/** Resumed clients must be brought up to date from where they were, not reset. */
function expectResumed(c: Client, from: number, seenMax: number) {
  const snap = c.events()[0]!
  expect(snap.type).toBe('snapshot')
  expect(snap.data.reset, 'a resume point issued before the crash is honoured').toBe(false)
  expect(snap.id).toBe(from)
  expect(snap.data.head).toBeGreaterThanOrEqual(seenMax)
}

describe('the radiator process killed with SIGKILL', () => {
  it('keeps every acknowledged delivery and beacon exactly once; event ids keep increasing; live clients resume without gaps or duplicates', {
    timeout: 90_000,
  }, async () => {
    const dataDir = tempDir('radiator-crash-')
    const procs: Proc[] = []
    const clients: Client[] = []
    const start = (): Proc => {
      const p = startProcess(dataDir)
      procs.push(p)
      return p
    }
    try {
      // Life 1: a burst of deliveries and beacons, killed right after an acknowledgement.
      const first = start()
      const url1 = await first.url
      const ws1 = connect('ws', url1)
      const sse1 = connect('sse', url1)
      clients.push(ws1, sse1)
      await until(() => ws1.events()[0] && sse1.events()[0], 'the first snapshots')
      const origin = ws1.events()[0]!.id!

      // Several requests in flight at all times, each with its own delivery id or path.
      const acked: Sent[] = []
      let next = 0
      let killed = false
      const failures: unknown[] = []
      const worker = async () => {
        while (!killed) {
          const r = await sendOne(url1, next++).catch((e: unknown) => void failures.push(e))
          if (!r) return
          acked.push(r)
          // The kill lands the moment a beacon's 202 is in, other requests still in flight: what
          // was just acknowledged must already be committed.
          if (!killed && acked.length >= 60 && r.kind === 'beacon') {
            killed = true
            first.child.kill('SIGKILL')
          }
        }
      }
      const workers = Array.from({ length: 6 }, worker)
      await until(() => failures.length || killed, 'sixty acknowledged requests', 30_000)
      expect(failures).toEqual([])
      expect(await first.exited).toBe('SIGKILL')
      await Promise.all(workers)
      expect(failures).toEqual([])
      expect(acked.filter((a) => a.kind === 'generic').length).toBeGreaterThan(5)
      await until(() => (ws1 as WsTestClient).closeCode, 'the WebSocket to notice the kill')
      await (sse1 as SseTestClient).done
      expect(idsOf(ws1.events()).length).toBeGreaterThan(0)

      // Life 2: the clients resume from their last ids; new deliveries; then a quiet moment whose
      // last event is a transient one (a custom metric, never stored), and a second kill.
      const second = start()
      const url2 = await second.url
      const seen1 = Math.max(lastId(ws1), lastId(sse1))
      const ws2 = connect('ws', url2, lastId(ws1))
      const sse2 = connect('sse', url2, lastId(sse1))
      clients.push(ws2, sse2)
      await until(() => ws2.events()[0] && sse2.events()[0], 'the resumed snapshots')
      expectResumed(ws2, lastId(ws1), seen1)
      expectResumed(sse2, lastId(sse1), seen1)
      const after2 = await deliverAfter(url2, ['after-1', 'after-2', 'after-3'])
      await until(
        () => hasBuilds(ws2, after2) && hasBuilds(sse2, after2),
        'the post-restart events on both resumed clients'
      )
      const metric = await fetch(`${url2}/api/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${METRICS_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'crash.quiet', value: 1 }),
      })
      expect(metric.status).toBe(202)
      const sawMetric = (c: Client) => c.events().some((m) => m.type === 'metric' && m.data?.name === 'crash.quiet')
      await until(() => sawMetric(ws2) && sawMetric(sse2), 'the transient metric event on both clients')
      second.child.kill('SIGKILL')
      expect(await second.exited).toBe('SIGKILL')
      await until(() => (ws2 as WsTestClient).closeCode, 'the WebSocket to notice the second kill')
      await (sse2 as SseTestClient).done

      // Life 3: ids continue above the transient one too; the clients resume once more.
      const third = start()
      const url3 = await third.url
      const seen2 = Math.max(lastId(ws2), lastId(sse2))
      const ws3 = connect('ws', url3, lastId(ws2))
      const sse3 = connect('sse', url3, lastId(sse2))
      clients.push(ws3, sse3)
      await until(() => ws3.events()[0] && sse3.events()[0], 'the snapshots after the second restart')
      expectResumed(ws3, lastId(ws2), seen2)
      expectResumed(sse3, lastId(sse2), seen2)
      const after3 = await deliverAfter(url3, ['after-4'])
      await until(
        () => hasBuilds(ws3, after3) && hasBuilds(sse3, after3),
        'the events after the second restart on both clients'
      )
      third.child.kill('SIGTERM')
      expect(await third.exited).toBe(0)

      const db = new Database(databasePath(dataDir), { readonly: true, fileMustExist: true })
      try {
        // Every acknowledged delivery: remembered once, logged as applied once.
        const applied = db.prepare<[string, string], { n: number }>(
          "SELECT count(*) AS n FROM deliveries WHERE provider = ? AND delivery_id = ? AND outcome IN ('stored', 'superseded')"
        )
        const keys = db.prepare<[string, string], { n: number }>(
          'SELECT count(*) AS n FROM delivery_keys WHERE provider = ? AND delivery_id = ?'
        )
        const hits = db.prepare<[string, string], { n: number }>(
          'SELECT count(*) AS n FROM site_hits WHERE site = ? AND path = ?'
        )
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
          .prepare(
            "SELECT provider, delivery_id, count(*) AS n FROM deliveries WHERE outcome IN ('stored', 'superseded') GROUP BY provider, delivery_id HAVING n > 1"
          )
          .all()
        expect(twice).toEqual([])
        const builds = db.prepare<[string], { n: number }>(
          "SELECT count(*) AS n FROM builds WHERE provider = 'generic' AND external_id = ?"
        )
        for (const a of acked.filter((a) => a.kind === 'generic'))
          expect(builds.get(a.key)!.n, `build ${a.key}`).toBe(1)

        // Event ids: everything stored in a later life is above every id issued in the lives before
        // (stored or transient, as the clients saw them).
        const events = db
          .prepare<[], { id: number; type: string; data: string }>('SELECT id, type, data FROM events ORDER BY id')
          .all()
        const buildOf = (e: { data: string }) => (JSON.parse(e.data) as { build: { id: string } }).build.id
        const lifeOf = (e: { data: string }) => (after3.includes(buildOf(e)) ? 3 : after2.includes(buildOf(e)) ? 2 : 1)
        const maxIn = (life: number) => Math.max(0, ...events.filter((e) => lifeOf(e) === life).map((e) => e.id))
        const minIn = (life: number) => Math.min(...events.filter((e) => lifeOf(e) === life).map((e) => e.id))
        expect(minIn(2), 'the first id stored after the first restart').toBeGreaterThan(Math.max(seen1, maxIn(1)))
        expect(minIn(3), 'the first id stored after the second restart').toBeGreaterThan(Math.max(seen2, maxIn(2)))

        // Each client's whole stream over the three lives: ids strictly increasing, every stored
        // event after its first snapshot present once, and each equal to its stored row.
        const stored = new Map(events.map((e) => [e.id, e]))
        for (const [name, lives] of [
          ['WebSocket', [ws1, ws2, ws3]],
          ['SSE', [sse1, sse2, sse3]],
        ] as const) {
          const stream = lives.flatMap((c) => c.events()).filter((m) => m.type !== 'snapshot')
          const ids = stream.map((m) => m.id!)
          for (let i = 1; i < ids.length; i++)
            expect(ids[i], `${name}: ids increase (${ids[i - 1]} then ${ids[i]})`).toBeGreaterThan(ids[i - 1]!)
          const upTo = Math.max(...ids)
          const expected = events.filter((e) => e.id > origin && e.id <= upTo).map((e) => e.id)
          const got = stream.filter((m) => PERSISTED.test(m.type)).map((m) => m.id!)
          expect(got, `${name}: the stored events it received are exactly those stored`).toEqual(expected)
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
      for (const p of procs) p.child.kill('SIGKILL')
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
