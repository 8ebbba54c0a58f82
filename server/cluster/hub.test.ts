/**
 * The hub in a cluster (cluster/feed.ts, live/hub.ts): members joined with the real start-up path
 * (`joinCluster`) on a fresh PostgreSQL database and their own JetStream stream, events persisted
 * through each member's PgWriter and published by each, and what every member's clients, views and
 * replay see. The process-level proof (SIGKILL, proxy) is server/test/cluster-kill.test.ts and
 * cluster-proxy.test.ts.
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFrom } from '../config.ts'
import { createLogger } from '../log.ts'
import type { LiveClient, LiveEvent } from '../live/hub.ts'
import { Hub } from '../live/hub.ts'
import type { Frame } from '../live/frame.ts'
import { until } from '../test/harness.ts'
import { testCluster, type TestCluster } from '../test/cluster.ts'
import { NATS_URL, servicesUp } from '../test/services.ts'
import { type ClusterMember, joinCluster } from './start.ts'

const up = servicesUp('postgres', 'nats')

/** A live client as a transport would be: it records what the hub sends it. */
class Recorder implements LiveClient {
  readonly topics = null
  frames: Frame[] = []
  heartbeats = 0
  send(frame: Frame): void {
    this.frames.push(frame)
  }
  tick(): void {
    this.heartbeats++
  }
  close(): void {}
  get ids(): number[] {
    return this.frames.map((f) => f.event.id)
  }
}

/** A view that counts persisted events: loaded from the table, then fed by the stream. */
class CountView {
  n = 0
  async load(tx: pg.ClientBase): Promise<void> {
    this.n = Number((await tx.query<{ n: string }>(`SELECT count(*) AS n FROM events`)).rows[0]!.n)
  }
  apply(ev: LiveEvent): void {
    if (ev.type === 'build.updated') this.n++
  }
}

interface Member {
  m: ClusterMember
  hub: Hub
  client: Recorder
  view: CountView
}

const opts = { version: 't', replayBuffer: 5, retentionMs: 86_400_000, heartbeatMs: 1000, pollTimeoutMs: 1000 }

describe.runIf(up)('the hub in a cluster', () => {
  let cluster: TestCluster
  const members: Member[] = []

  const viewErrors: string[] = []

  async function member(natsUrl?: string): Promise<Member> {
    const env = { ...cluster.env, LOG_LEVEL: 'silent' as const, ...(natsUrl ? { LIVE_BUS_URL: natsUrl } : {}) }
    const m = await joinCluster(configFrom(env), createLogger('silent'))
    const hub = Hub.inCluster(m.feed, { ...opts, onViewError: (e) => viewErrors.push(String(e)) })
    // A view that cannot take what it is given must not keep the event from the clients.
    hub.addView({
      load: async () => {},
      apply: () => {
        throw new Error('not my shape')
      },
    })
    const view = new CountView()
    hub.addView(view)
    await hub.startCluster(10_000)
    const client = new Recorder()
    hub.join(client)
    hub.subscribe(client)
    const made = { m, hub, client, view }
    members.push(made)
    return made
  }

  const persist = (x: Member, i: number) =>
    x.m.engine.writer.write(async (tx) => {
      // Opaque payloads: the hub does not look inside (the contract's shapes are the capabilities').
      x.hub.persist(tx, 'build.updated', { n: i } as never)
    })

  beforeAll(async () => {
    cluster = await testCluster()
  })
  afterAll(async () => {
    for (const x of members) {
      x.hub.stopCluster()
      await x.m.close()
    }
    await cluster?.drop()
  })

  it('gives every member the same gap-free stream of what any member persisted or published', async () => {
    const a = await member()
    const b = await member()
    await until(() => a.m.lease.leading || b.m.lease.leading, 'a leader')
    const writes: Promise<void>[] = []
    for (let i = 0; i < 40; i++) {
      writes.push(persist(i % 2 ? a : b, i))
      if (i % 10 === 0) (i % 20 ? a : b).hub.publish('metric', { i } as never, 'k')
    }
    await Promise.all(writes)
    const persisted = (x: Member) => x.client.frames.filter((f) => f.event.type === 'build.updated').length
    await until(() => persisted(a) === 40 && persisted(b) === 40, 'both members to receive all 40 events')
    // Transients are at most once (one sent before a relay ran may be gone), persisted ones exactly once.
    await new Promise((r) => setTimeout(r, 200))
    expect(a.client.ids).toEqual(b.client.ids)
    const first = a.client.ids[0]!
    expect(a.client.ids).toEqual(a.client.ids.map((_, i) => first + i))
    const payloads = a.client.frames
      .filter((f) => f.event.type === 'build.updated')
      .map((f) => (f.event.data as { n: number }).n)
    expect(payloads.sort((x, y) => x - y)).toEqual([...Array(40).keys()])
    expect(a.view.n).toBe(40)
    expect(b.view.n).toBe(40)
    expect(viewErrors.length).toBeGreaterThanOrEqual(80)
    expect(viewErrors[0]).toContain('not my shape')
    expect(a.hub.head).toBe(a.client.ids.at(-1))
  })

  it('replays from the stream beyond its ring, and a member that joins later starts where the others are', async () => {
    const [a] = members
    const all = a!.client.frames
    // The ring holds 5; the rest comes from JetStream, page by page, each a promise.
    let at = 0
    const got: Frame[] = []
    while (at < a!.hub.head) {
      const page = await a!.hub.replayPage(at, null, 7)
      expect(page).not.toBeNull()
      got.push(...page!.frames)
      at = page!.through
    }
    expect(got.map((f) => f.json)).toEqual(all.map((f) => f.json))

    const c = await member()
    expect(c.view.n).toBe(40)
    expect(c.hub.head).toBe(a!.hub.head)
    // A client resuming from an id this member has not received yet waits for it (hub.reach).
    let reached = false
    const waiting = c.hub.reach(c.hub.head + 1)!.then(() => (reached = true))
    expect(c.hub.reach(c.hub.head)).toBeNull()
    await new Promise((r) => setTimeout(r, 50))
    expect(reached).toBe(false)
    await persist(c, 40)
    await waiting
    await until(
      () => members.every((x) => x.client.ids.at(-1) === c.hub.head && c.hub.head > a!.hub.head - 1),
      'all three to see the new event'
    )
    expect(members.map((x) => x.view.n)).toEqual([41, 41, 41])
    // A resume point the stream no longer holds is not resumable (a reset snapshot).
    expect(c.hub.open(c.hub.head + 5).resumeAfter).toBeNull()
  })

  it('a member cut off from NATS stops its heartbeats and reports it, then catches up without a gap', async () => {
    // The member's NATS connection goes through a relay this test can cut.
    const sockets = new Set<Socket>()
    let open = true
    const relay = createServer((client) => {
      if (!open) return client.destroy()
      const upstream = connect(Number(new URL(NATS_URL).port), new URL(NATS_URL).hostname)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => sockets.delete(s))
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r))
    try {
      const d = await member(`nats://127.0.0.1:${(relay.address() as AddressInfo).port}`)
      const [a] = members
      d.hub.tick()
      expect(d.client.heartbeats).toBe(1)
      open = false
      for (const s of sockets) s.destroy()
      await until(() => !d.m.feed.connected, 'the member to notice')
      expect(d.hub.streamProblem).toMatch(/NATS/)
      d.hub.tick()
      expect(d.client.heartbeats, 'no heartbeat while cut off').toBe(1)
      // Meanwhile another member commits: the cut-off one must get these once it is back.
      for (let i = 100; i < 105; i++) await persist(a!, i)
      open = true
      await until(() => d.m.feed.connected, 'the member to reconnect', 20_000)
      await until(() => d.client.ids.at(-1) === a!.hub.head, 'the member to catch up', 20_000)
      const ids = d.client.ids
      expect(ids).toEqual(ids.map((_, i) => ids[0]! + i))
      expect(d.hub.streamProblem).toBeNull()
      d.hub.tick()
      expect(d.client.heartbeats).toBe(2)
    } finally {
      relay.close()
      for (const s of sockets) s.destroy()
    }
  })
})
