/**
 * Three cluster members as processes (server/test/cluster-node.ts) over the real PostgreSQL and NATS
 * JetStream: all three commit events at once, the leader (the one relaying) is SIGKILLed in the middle
 * of the burst, and then every acknowledged event must be in the log once and in the stream once, in
 * COMMIT order, every survivor must have received the whole stream exactly once and in order, a
 * survivor must have taken over the relay, and the killed member must rejoin and catch up.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { until } from './harness.ts'
import { EVENT_TABLES, freshDatabase, NATS_URL, servicesUp, uniqueName } from './services.ts'

const up = servicesUp('postgres', 'nats')
/** Each wait: processes starting and bursts committing on a loaded 2-core machine. */
const SLOW_MS = 30_000

interface Member {
  name: string
  child: ChildProcess
  lines: string[]
  leader: boolean
  events: { seq: number; through: number; data: string }[]
  acks: Map<string, number>
}

describe.skipIf(!up)('three members, the leader SIGKILLed mid-burst', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let pool: pg.Pool
  const stream = uniqueName('RADIATOR_KILL')
  const leaseKey = Math.floor(Math.random() * 2 ** 31)
  const members: Member[] = []

  function start(name: string): Member {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/test/cluster-node.ts'], {
      env: { ...process.env, PG_URL: db.url, NATS_URL, STREAM: stream, LEASE_KEY: String(leaseKey) },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const m: Member = { name, child, lines: [], leader: false, events: [], acks: new Map() }
    createInterface({ input: child.stdout! }).on('line', (line) => {
      m.lines.push(line)
      const [kind, a, b, , ...rest] = line.split(' ')
      if (kind === 'leader') m.leader = a === 'true'
      else if (kind === 'ev') m.events.push({ seq: Number(a), through: Number(b), data: rest.join(' ') })
      else if (kind === 'ack') m.acks.set(a!, Number(b))
    })
    members.push(m)
    return m
  }

  beforeAll(async () => {
    db = await freshDatabase()
    pool = new pg.Pool({ connectionString: db.url })
    await pool.query(EVENT_TABLES)
  })
  afterAll(async () => {
    for (const m of members) m.child.kill('SIGKILL')
    await pool?.end()
    await db?.drop()
  })

  it('loses nothing acknowledged, doubles nothing, keeps order, fails over and rejoins', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map(start) as [Member, Member, Member]
    await until(
      () => [a, b, c].every((m) => m.lines.includes('ready')) && [a, b, c].some((m) => m.leader),
      'three members following, one leading',
      SLOW_MS
    )
    const leader = [a, b, c].find((m) => m.leader)!
    const survivors = [a, b, c].filter((m) => m !== leader)
    for (const m of [a, b, c]) m.child.stdin!.write(`burst 150 ${m.name}\n`)
    await until(() => leader.acks.size >= 40, 'the burst under way on the leader', SLOW_MS)
    leader.child.kill('SIGKILL')
    await until(
      () => survivors.every((m) => m.lines.includes(`done ${m.name}`)),
      'the survivors finished their bursts',
      SLOW_MS
    )
    await until(() => survivors.some((m) => m.leader), 'a survivor took over the relay', SLOW_MS)

    const rows = (await pool.query<{ id: string; data: string }>('SELECT id, data FROM events ORDER BY id')).rows
    const logged = rows.map((r) => JSON.parse(r.data) as string)
    // The log: ids 1..n without a gap, each key once, and every acknowledged key among them.
    expect(rows.map((r) => Number(r.id))).toEqual(rows.map((_, i) => i + 1))
    expect(new Set(logged).size).toBe(logged.length)
    for (const m of [a, b, c]) for (const [key, id] of m.acks) expect(logged[id - 1]).toBe(key)
    expect(logged.length).toBeGreaterThanOrEqual(leader.acks.size + 300)

    // Every survivor: the whole log, once each, in id order, stream ids 1..n.
    for (const m of survivors) {
      await until(() => m.events.length >= rows.length, `${m.name} received everything`, SLOW_MS)
      expect(m.events.map((e) => e.seq)).toEqual(rows.map((_, i) => i + 1))
      expect(m.events.map((e) => e.through)).toEqual(rows.map((_, i) => i + 1))
      expect(m.events.map((e) => JSON.parse(e.data))).toEqual(logged)
    }

    // The killed member comes back and catches up from the stream.
    const back = start(`${leader.name}2`)
    await until(() => back.events.length >= rows.length, 'the killed member rejoined and caught up', SLOW_MS)
    expect(back.events.map((e) => JSON.parse(e.data))).toEqual(logged)
    back.child.stdin!.write(`burst 5 ${back.name}\n`)
    await until(
      () => [...survivors, back].every((m) => m.events.length === rows.length + 5),
      'its new events reached everyone',
      SLOW_MS
    )
    expect(back.acks.size).toBe(5)
  }, 120_000)
})
