import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq, getTableColumns, getTableName, sql } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StartupError } from '../../errors.ts'
import { BUILD_RUNNING, SAMPLE_ID_INDEXED } from '../schema.ts'
import { freshDatabase, PG_URL, servicesUp } from '../../test/services.ts'
import { MIGRATION_LOCK, openPgStore, PG_MIGRATIONS_DIR, type PgStore } from './client.ts'
import * as p from './schema.ts'

const JOURNAL = JSON.parse(readFileSync(join(PG_MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as {
  entries: { tag: string }[]
}

async function query<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return (await c.query(text, values)).rows as T[]
  } finally {
    await c.end()
  }
}

/** The tables by export name, for the loop over all of them. */
const TABLES: Record<keyof typeof p, PgTable> = p

const appliedMigrations = async (url: string) =>
  Number((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM drizzle.__drizzle_migrations'))[0]!.n)

describe.skipIf(!servicesUp('postgres'))('openPgStore on PostgreSQL', () => {
  it('applies the migrations on a fresh database: every table and index of the schema, once', async () => {
    const fresh = await freshDatabase()
    try {
      const store = await openPgStore(fresh.url)
      await store.close()
      const tables = await query<{ tablename: string }>(
        fresh.url,
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`
      )
      expect(tables.map((t) => t.tablename).sort()).toEqual(
        Object.values(p)
          .map((t) => getTableName(t))
          .sort()
      )
      const indexes = await query<{ indexname: string; indexdef: string }>(
        fresh.url,
        `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`
      )
      const byName = Object.fromEntries(indexes.map((i) => [i.indexname, i.indexdef]))
      expect(byName.builds_running_idx).toMatch(/WHERE \(status = ANY \(ARRAY\['queued'::text, 'running'::text\]\)\)/)
      expect(byName.site_samples_vid_idx).toMatch(/WHERE \(metric = ANY \(ARRAY\['CLS'::text, 'INP'::text\]\)\)/)
      expect(await appliedMigrations(fresh.url)).toBe(JOURNAL.entries.length)
      // A second start finds nothing to do.
      await (await openPgStore(fresh.url)).close()
      expect(await appliedMigrations(fresh.url)).toBe(JOURNAL.entries.length)
    } finally {
      await fresh.drop()
    }
  })

  it('opens its connections with the documented limits, the migration connection included', async () => {
    const fresh = await freshDatabase()
    const store = await openPgStore(fresh.url, { poolSize: 2 })
    try {
      expect(store.pool.options.max).toBe(2)
      // Both pooled connections, one of them the migration's (its 10 min timeout reset to the pool's).
      const [a, b] = [await store.pool.connect(), await store.pool.connect()]
      for (const c of [a, b]) {
        expect((await c.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('30s')
        expect((await c.query('SHOW application_name')).rows[0].application_name).toBe('radiator')
        c.release()
      }
      const u = new URL(fresh.url)
      expect(store.where).toBe(`postgres://${u.username}@${u.hostname}:${u.port || 5432}${u.pathname}`)
    } finally {
      await store.close()
      await fresh.drop()
    }
  })

  it('lets three instances start at once on a fresh database: one migrates, the others wait and find it done', async () => {
    const fresh = await freshDatabase()
    try {
      const stores = await Promise.all([openPgStore(fresh.url), openPgStore(fresh.url), openPgStore(fresh.url)])
      await Promise.all(stores.map((s) => s.close()))
      expect(await appliedMigrations(fresh.url)).toBe(JOURNAL.entries.length)
      const n = await query<{ n: string }>(fresh.url, `SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'`)
      expect(Number(n[0]!.n)).toBe(18)
    } finally {
      await fresh.drop()
    }
  })

  it('gives up waiting for the migration lock after migrateTimeoutMs, naming the cause', async () => {
    const fresh = await freshDatabase()
    const holder = new pg.Client({ connectionString: fresh.url })
    await holder.connect()
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK])
      const e = await openPgStore(fresh.url, { migrateTimeoutMs: 300 }).catch((e) => e)
      expect(e).toBeInstanceOf(StartupError)
      expect(e.message).toMatch(/another Radiator has held the migration lock for 0\.3 s/)
      // Released, it goes through.
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK])
      await (await openPgStore(fresh.url)).close()
    } finally {
      await holder.end()
      await fresh.drop()
    }
  })

  it('explains a wrong URL in one line naming host, database and user, never the password', async () => {
    const base = new URL(PG_URL)
    const withPassword = (edit: (u: URL) => void) => {
      const u = new URL(base)
      u.password = 'pw-SECRET-4711'
      edit(u)
      return u.toString()
    }
    const cases: [string, RegExp][] = [
      [
        withPassword((u) => {
          u.port = '1'
        }),
        /PostgreSQL at [^ ]+:1 refused the connection: check that PostgreSQL runs there/,
      ],
      [
        withPassword((u) => {
          u.pathname = '/radiator_no_such_db'
        }),
        /has no database radiator_no_such_db: create it \(createdb radiator_no_such_db\)/,
      ],
      [
        withPassword((u) => {
          u.username = 'radiator_no_such_role'
        }),
        /did not let user radiator_no_such_role in \(role "radiator_no_such_role" does not exist\): check the user and password/,
      ],
      ['mysql://root:pw-SECRET-4711@127.0.0.1/test', /DATABASE_URL must start with postgres:\/\//],
      ['pw-SECRET-4711', /DATABASE_URL is not a URL/],
    ]
    for (const [url, message] of cases) {
      const e = await openPgStore(url).catch((e) => e)
      expect(e, url).toBeInstanceOf(StartupError)
      expect(e.message).toMatch(message)
      expect(e.message).not.toContain('SECRET')
      expect(e.message).not.toContain('\n')
    }
  })

  describe('a row in each table, written and read back through the drizzle handle', () => {
    let fresh: Awaited<ReturnType<typeof freshDatabase>>
    let store: PgStore
    beforeAll(async () => {
      fresh = await freshDatabase()
      store = await openPgStore(fresh.url)
    })
    afterAll(async () => {
      await store?.close()
      await fresh?.drop()
    })

    // Past 2³¹ (int4) and with ms precision: what every time column holds.
    const T = 1_764_557_519_123
    const BIG = 2 ** 53 - 1

    it('round-trips every column of every table with its JS type (numbers stay numbers, Buffers stay Buffers)', async () => {
      const { db } = store
      const [delivery] = await db
        .insert(p.deliveries)
        .values({
          provider: 'github',
          event: 'workflow_run',
          deliveryId: 'd-1',
          receivedAt: T,
          outcome: 'stored',
          reason: null,
          size: 1234,
          buildId: 'github:1',
        })
        .returning()
      expect(typeof delivery!.id).toBe('number')
      const session = {
        id: 's1',
        hash: 'h-s1',
        kind: 'screen' as const,
        role: 'viewer' as const,
        subject: 'lobby',
        createdAt: T,
        lastSeenAt: T + 1,
        expiresAt: null,
        revokedAt: null,
        userAgent: 'tv',
        address: '10.0.0.1',
        fromToken: null,
      }
      const rows: [keyof typeof p, Record<string, unknown>][] = [
        ['meta', { key: 'event_id', value: '42' }],
        ['events', { id: BIG, type: 'build.finished', at: T, data: '{"a":1}' }],
        [
          'pipelines',
          {
            id: 'pl1',
            provider: 'github',
            project: 'acme/shop',
            pipeline: 'ci',
            branch: 'main',
            latestBuildId: 'github:1',
            lastResult: 'failure',
            lastSuccessAt: T - 5,
            lastFailureAt: T,
            brokenSince: T,
            brokenBy: 'ann',
            brokenBuildId: 'github:1',
            fixedBy: null,
            updatedAt: T,
          },
        ],
        [
          'builds',
          {
            id: 'github:1',
            pipelineId: 'pl1',
            provider: 'github',
            externalId: '1',
            project: 'acme/shop',
            pipeline: 'ci',
            branch: 'main',
            tag: null,
            pullRequest: 17,
            number: 1001,
            attempt: 2,
            status: 'running',
            commitSha: 'abc',
            commitSubject: 'fix: ü and 😀',
            commitAuthor: 'ann',
            actor: 'bob',
            url: 'https://ci.example/1',
            trigger: 'push',
            queuedAt: T - 10,
            startedAt: T - 9,
            finishedAt: null,
            durationMs: 90_061,
            eventTime: T,
            createdAt: T,
            updatedAt: T,
          },
        ],
        [
          'jobs',
          {
            buildId: 'github:1',
            jobId: 'j1',
            name: 'test',
            status: 'success',
            startedAt: T,
            finishedAt: T + 1,
            url: null,
          },
        ],
        ['waitingJobs', { buildId: 'github:2', key: 'k', at: T, update: '{}' }],
        ['deliveryKeys', { provider: 'github', deliveryId: 'd-1', receivedAt: T }],
        [
          'rawBodies',
          {
            deliveryRowId: delivery!.id,
            headers: '{"x-github-event":"workflow_run"}',
            body: Buffer.from([0, 1, 2, 255, 0x5c, 0x27]),
            receivedAt: T,
          },
        ],
        ['sites', { domain: 'shop.example.com', source: 'config', createdAt: T }],
        ['siteSalts', { day: T - (T % 86_400_000), salt: Buffer.alloc(32, 7) }],
        [
          'siteRollups',
          {
            site: 'shop.example.com',
            gran: 'm',
            period: T - (T % 60_000),
            path: '*',
            metric: 'LCP',
            device: 'desktop',
            n: 3,
            good: 1,
            ni: 1,
            poor: 1,
            hist: Buffer.from([1, 2, 3]),
          },
        ],
        [
          'apiTokens',
          {
            id: 't1',
            kind: 'api',
            name: 'CCMenu',
            role: 'metrics-push',
            hash: 'h-t1',
            createdAt: T,
            lastUsedAt: null,
            view: null,
            expiresAt: null,
            revokedAt: T + 5,
          },
        ],
        ['sessions', session],
        [
          'screens',
          { id: 'sc1', sessionId: 's1', name: 'lobby', view: '/tv?project=acme/shop', createdAt: T, updatedAt: T },
        ],
      ]
      for (const [name, row] of rows) await db.insert(TABLES[name]).values(row as never)
      for (const [name, row] of rows) {
        const back = await db.select().from(TABLES[name])
        expect(back, name).toEqual([row])
      }
      // The engine-numbered tables: the id comes back as a number, the rest as written.
      const hit = {
        site: 'shop.example.com',
        visitor: 'x',
        kind: 'pageview' as const,
        path: '/',
        device: 'tablet' as const,
        at: T,
      }
      const [h] = await db.insert(p.siteHits).values(hit).returning()
      expect(h).toEqual({ id: expect.any(Number), ...hit })
      const metric = { name: 'queue', value: -1.5e-7, unit: 'ms', tags: '{"env":"prod"}', at: T }
      const [m] = await db.insert(p.customMetrics).values(metric).returning()
      expect(m).toEqual({ id: expect.any(Number), ...metric })
      const sample = {
        site: 'shop.example.com',
        path: '/',
        metric: 'CLS',
        value: 0.1 + 0.2,
        rating: 'needs-improvement' as const,
        nav: 'navigate',
        device: 'mobile' as const,
        vid: 'v1-123',
        prev: 0.05,
        at: T,
      }
      const [sm] = await db.insert(p.siteSamples).values(sample).returning()
      expect(sm).toEqual({ id: expect.any(Number), ...sample })
      expect(await db.select().from(p.deliveries)).toEqual([delivery])
      // Every table has had its row.
      const covered = new Set([...rows.map(([n]) => n), 'deliveries', 'siteHits', 'customMetrics', 'siteSamples'])
      expect([...covered].sort()).toEqual(Object.keys(p).sort())
    })

    it('keeps the schema.ts index predicates usable: the partial indexes serve the queries that repeat them', async () => {
      const c = await store.pool.connect()
      try {
        // On near-empty tables the planner prefers a scan; this asks whether the index can serve at all.
        await c.query('SET enable_seqscan = off')
        const plan = async (q: string) =>
          (await c.query(`EXPLAIN ${q}`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n')
        expect(
          await plan(
            `SELECT * FROM builds WHERE pipeline_id = 'pl1' AND ${BUILD_RUNNING} ORDER BY created_at DESC LIMIT 1`
          )
        ).toMatch(/builds_running_idx/)
        expect(await plan(`SELECT id FROM site_samples WHERE vid = 'v1-123' AND ${SAMPLE_ID_INDEXED}`)).toMatch(
          /site_samples_vid_idx/
        )
      } finally {
        await c.query('RESET enable_seqscan')
        c.release()
      }
    })

    it('enforces what SQLite enforces: foreign keys, cascades, unique hashes', async () => {
      const { db } = store
      await expect(
        db.insert(p.jobs).values({ buildId: 'github:none', jobId: 'j', name: 'n', status: 'queued' })
      ).rejects.toMatchObject({ cause: { code: '23503' } })
      await expect(
        db.insert(p.sessions).values({
          id: 's2',
          hash: 'h-s1',
          kind: 'browser',
          role: 'admin',
          subject: 'x',
          createdAt: T,
          lastSeenAt: T,
        })
      ).rejects.toMatchObject({ cause: { code: '23505' } })
      await db.delete(p.sessions).where(eq(p.sessions.id, 's1'))
      expect(await db.select().from(p.screens)).toEqual([])
      await db.delete(p.jobs)
      expect(getTableColumns(p.builds).status.enumValues).toContain('running')
      expect((await db.execute(sql`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }])
    })
  })
})
