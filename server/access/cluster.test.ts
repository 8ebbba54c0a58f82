/**
 * Access on two instances sharing one PostgreSQL database and one NATS (issue 17): each instance its
 * own store, writer, credential mirror and NatsBus, as two processes would have. A token made on one
 * is accepted on the other at the announcement (not the reload), a revocation on one is refused on
 * the other and fires its onRevoke, a revocation nobody announced is caught by the reload, a mirror
 * past its bound answers 503, pairing crosses instances (and survives lost announcements), and the
 * failure limits are one allowance for the cluster.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalBus, NatsBus, type Bus } from '../cluster/bus.ts'
import { configFrom } from '../config.ts'
import { openPgStore, type PgStore } from '../db/pg/client.ts'
import { PgWriter } from '../db/pg/writer.ts'
import { AppError } from '../errors.ts'
import { until } from '../test/harness.ts'
import { freshDatabase, NATS_URL, servicesUp, uniqueName } from '../test/services.ts'
import { Credentials, type Revocation } from './credentials.ts'
import { AccessControl, AUTH_FAILURES_PER_MINUTE } from './guard.ts'
import { Pairings } from './pairing.ts'
import { PgAccessRows, type PgAccessOptions } from './pg-rows.ts'
import { Screens } from './screens.ts'

const up = servicesUp('postgres', 'nats')

/** Long enough that nothing in a test is explained by a reload, unless the test asks for one. */
const NO_RELOAD = { reloadEveryMs: 3_600_000, staleAfterMs: 7_200_000 }

interface Instance {
  name: string
  store: PgStore
  writer: PgWriter
  bus: Bus
  nc?: NatsConnection
  rows: PgAccessRows
  credentials: Credentials
  control: AccessControl
  screens: Screens
  pairings: Pairings
  revoked: Revocation[]
}

describe.skipIf(!up)('access across instances (PostgreSQL + NATS)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let admin: pg.Pool
  const prefix = uniqueName('radiator_access')
  const instances: Instance[] = []
  const config = configFrom({ ADMIN_TOKEN: 'x' })

  async function instance(name: string, opts: PgAccessOptions = NO_RELOAD, bus?: Bus): Promise<Instance> {
    const store = await openPgStore(db.url, { poolSize: 4 })
    const writer = new PgWriter(db.url)
    let nc: NatsConnection | undefined
    if (!bus) {
      nc = await connect({ servers: NATS_URL })
      bus = new NatsBus(nc, prefix)
    }
    const rows = new PgAccessRows(store, writer, bus, { onError: () => {}, ...opts })
    await rows.ready
    const credentials = new Credentials(rows)
    const revoked: Revocation[] = []
    credentials.onRevoke((r) => revoked.push(r))
    const i: Instance = {
      name,
      store,
      writer,
      bus,
      nc,
      rows,
      credentials,
      control: new AccessControl(config, credentials, bus),
      screens: new Screens(rows),
      pairings: new Pairings(credentials, bus),
      revoked,
    }
    instances.push(i)
    return i
  }

  /** Until every announcement sent so far has been handled by every NATS-connected instance. */
  async function delivered(): Promise<void> {
    for (const i of instances) await i.nc?.flush()
    for (const i of instances) await i.nc?.flush()
  }

  beforeAll(async () => {
    db = await freshDatabase()
    admin = new pg.Pool({ connectionString: db.url })
  })
  afterAll(async () => {
    for (const i of instances) {
      i.pairings.close()
      i.rows.close()
      await i.bus.close()
      await i.nc?.close()
      await i.writer.close()
      await i.store.close()
    }
    await admin?.end()
    await db?.drop()
  })

  it('accepts a token made on A on B at its announcement, and cuts it everywhere when B revokes it', async () => {
    const a = await instance('A')
    const b = await instance('B')
    const { id, secret } = await a.credentials.createToken('CCMenu', 'viewer')
    expect(a.credentials.token(secret)?.id).toBe(id) // A's own write: at once
    await until(() => b.credentials.token(secret), 'B accepts the token')
    // A browser signs in on A with the token: revoking the token ends that session too.
    const s = await a.credentials.createSession({ kind: 'browser', role: 'viewer', subject: 'CCMenu', fromToken: id })
    await until(() => b.credentials.session(s.secret), 'B accepts the session')

    expect(await b.credentials.revokeToken(id)).toBe(true)
    expect(b.credentials.token(secret)).toBeUndefined()
    await until(() => !a.credentials.token(secret) && !a.credentials.session(s.secret), 'A refuses both')
    // onRevoke fires on A too (server.ts closes the live connections there), once each.
    expect(a.revoked).toEqual(
      expect.arrayContaining([
        { kind: 'token', id },
        { kind: 'session', id: s.id },
      ])
    )
    expect(b.revoked).toEqual(
      expect.arrayContaining([
        { kind: 'token', id },
        { kind: 'session', id: s.id },
      ])
    )
    await delivered()
    expect(a.revoked.filter((r) => r.id === id)).toHaveLength(1)
    expect(b.revoked.filter((r) => r.id === id)).toHaveLength(1)
    // A's own mirror lists it as revoked for the admin.
    expect(a.credentials.listTokens().find((t) => t.id === id)?.revokedAt).not.toBeNull()
  })

  it('finds a session made on A a moment ago on an instance that has not heard of it, by reading the database on a miss', async () => {
    const [a] = instances
    const deaf = await instance('deaf', NO_RELOAD, new LocalBus())
    const s = await a!.credentials.createSession({ kind: 'screen', role: 'viewer', subject: 'lobby' })
    const asking = (cookie: string) =>
      ({ headers: { cookie: `radiator_session=${cookie}` }, socket: { remoteAddress: '10.0.0.5' } }) as never
    expect(deaf.control.principalOfRequest(asking(s.secret)).failed).toBe(true)
    expect(await deaf.control.principalOfRequestChecked(asking(s.secret), false)).toMatchObject({
      id: s.id,
      via: 'session',
      kind: 'screen',
    })
    expect(deaf.credentials.session(s.secret)?.id).toBe(s.id) // now in its mirror
    // A secret nobody issued costs no read, and stays refused.
    expect((await deaf.control.principalOfRequestChecked(asking('ras_nothing'), false)).failed).toBe(true)
  })

  it('catches a revocation whose announcement was lost with the next reload, and fires onRevoke for it', async () => {
    const c = await instance('C', { reloadEveryMs: 100, staleAfterMs: 60_000 })
    const s = await c.credentials.createSession({ kind: 'screen', role: 'viewer', subject: 'lobby' })
    expect(c.credentials.session(s.secret)?.id).toBe(s.id)
    // Revoked behind every instance's back: no announcement at all.
    await admin.query('UPDATE sessions SET revoked_at = $1 WHERE id = $2', [Date.now(), s.id])
    await until(() => !c.credentials.session(s.secret), 'C refuses the session after a reload')
    expect(c.revoked).toContainEqual({ kind: 'session', id: s.id })
  })

  it('answers 503 for a credential once its mirror has not been reloaded within the bound', async () => {
    const d = await instance('D', { reloadEveryMs: 50, staleAfterMs: 300 })
    const { secret } = await d.credentials.createToken('script', 'viewer')
    expect(d.credentials.token(secret)).toBeDefined()
    await d.store.pool.end() // the database out of reach for this instance: every reload fails
    await until(() => {
      try {
        d.credentials.token(secret)
        return false
      } catch (e) {
        return e instanceof AppError && e.code === 'UNAVAILABLE'
      }
    }, 'a 503 instead of a stale answer')
    instances.splice(instances.indexOf(d), 1)
    d.pairings.close()
    d.rows.close()
    await d.bus.close()
    await d.nc?.close()
    await d.writer.close()
  })

  it("releases a screen's wait on A at once when the admin approves its code on B", async () => {
    const [a, b] = instances
    const started = a!.pairings.start('10.0.0.7', 'TV')!
    const waiting = a!.pairings.wait(started.device, 60_000)
    await until(() => b!.pairings.describe(started.code), 'B knows the code')
    expect(b!.pairings.describe(started.code)).toMatchObject({ address: '10.0.0.7', userAgent: 'TV' })
    let screenId = ''
    const ok = await b!.pairings.approve(started.code, async (p) => {
      const session = await b!.credentials.createPendingScreenSession({ ...p, subject: 'lobby' })
      screenId = (await b!.screens.create(session.id, 'lobby', '/tv?project=acme')).id
    })
    expect(ok).toBe(true)
    const o = await waiting
    expect(o).toMatchObject({ status: 'approved', grant: { name: 'lobby', view: '/tv?project=acme' } })
    const secret = o.status === 'approved' ? o.grant.secret : ''
    // The collected cookie works on both; the code is used up on both.
    await until(() => b!.credentials.session(secret), 'B accepts the collected session')
    expect(a!.credentials.session(secret)?.kind).toBe('screen')
    expect(b!.screens.bySession(a!.credentials.session(secret)!.id)?.id).toBe(screenId)
    await delivered()
    expect(a!.pairings.describe(started.code)).toBeNull()
    expect(await a!.pairings.approve(started.code, async () => {})).toBe(false)
  })

  it('lets a screen collect its approval on an instance that heard neither the code nor the approval', async () => {
    const [a, b] = instances
    const started = a!.pairings.start('10.0.0.8', null)!
    await until(() => b!.pairings.describe(started.code), 'B knows the code')
    // The screen was not waiting when the admin approved (its wait had timed out).
    expect(await a!.pairings.wait(started.device, 10)).toEqual({ status: 'pending' })
    await b!.pairings.approve(started.code, async (p) => {
      const session = await b!.credentials.createPendingScreenSession({ ...p, subject: 'hall' })
      await b!.screens.create(session.id, 'hall', '/tv')
    })
    // An instance on its own bus: every announcement about this pairing was lost to it.
    const deaf = new Pairings(a!.credentials, new LocalBus())
    await until(async () => (await deaf.wait(started.device, 10)).status === 'approved', 'collected on a deaf instance')
    // Once only: the derived secret no longer opens the session.
    expect(await a!.pairings.wait(started.device, 10)).toEqual({ status: 'expired' })
    deaf.close()
  })

  it('refuses a second approval of one code racing on two instances', async () => {
    const [a, b] = instances
    const started = a!.pairings.start('10.0.0.9', null)!
    await until(() => b!.pairings.describe(started.code), 'B knows the code')
    const approve = (i: Instance, name: string) =>
      i.pairings.approve(started.code, async (p) => {
        const session = await i.credentials.createPendingScreenSession({ ...p, subject: name })
        await i.screens.create(session.id, name, '/tv')
      })
    const results = await Promise.all([approve(a!, 'one'), approve(b!, 'two')])
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('creates and revokes a token from the command line, seen by the running instances at once', async () => {
    const [a] = instances
    const { execFileSync } = await import('node:child_process')
    const token = (...args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'server/access/cli.ts', ...args], {
        env: { ...process.env, DATABASE_URL: db.url, LIVE_BUS_URL: NATS_URL, LIVE_STREAM_NAME: prefix },
        encoding: 'utf8',
      })
    const out = token('create', '--role', 'viewer', 'from the CLI')
    const [, id] = /created (tok_\S+)/.exec(out)!
    const secret = out.split('\n')[1]!
    await until(() => a!.credentials.token(secret), 'A accepts the token')
    expect(token('revoke', id!)).toMatch(/revoked/)
    await until(() => !a!.credentials.token(secret), 'A refuses it')
    expect(a!.revoked).toContainEqual({ kind: 'token', id })
  })

  it('counts failed credential checks once for the cluster, wherever they land', async () => {
    const [a, b] = instances.filter((i) => i.nc)
    const address = '198.51.100.7'
    for (let n = 0; n < AUTH_FAILURES_PER_MINUTE; n++) {
      expect((n % 2 ? a : b)!.control.failures.take(address)).toBe(true)
      await delivered()
    }
    // Half were spent on each instance; neither has any left.
    expect(a!.control.failures.take(address)).toBe(false)
    expect(b!.control.failures.take(address)).toBe(false)
    // Another address is not affected.
    expect(a!.control.failures.take('198.51.100.8')).toBe(true)
  })
})
