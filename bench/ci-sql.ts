/**
 * `npx tsx bench/ci-sql.ts`: what drizzle costs on the CI store's hot path (server/ci/store.ts and
 * ingest.ts: every webhook delivery, every `pipelines` snapshot). Each of their prepared drizzle
 * statements runs against the same SQL text prepared on better-sqlite3 directly, with the same
 * parameters: the difference is drizzle's own work per call (placeholders filled, rows mapped to the
 * schema's keys). Times are the median per-call CPU time (user + system) of rounds that take turns,
 * as in bench/metrics-sql.ts. The per-delivery line weighs each statement's difference by how often
 * one `BuildStore.apply` runs it (counted on the same workload), next to what an apply costs whole.
 * Also: a bound `LIMIT ?` against the literal one the store writes (db/sqlite.ts literalLimit).
 *
 * Workload: TILES tiles × BUILDS builds, each delivered queued, running (3 jobs), then finished.
 * Env: BENCH_ROUNDS (15), BENCH_CI_TILES (20), BENCH_CI_BUILDS (200).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fillPlaceholders } from 'drizzle-orm'
import { dbOf, openStore } from '../server/db/client.ts'
import { deliveryStatements } from '../server/ci/ingest.ts'
import { type BuildUpdate, emptyUpdate } from '../server/ci/model.ts'
import { BuildStore, buildStatements } from '../server/ci/store.ts'
import { compare, ROUNDS } from './cpu-compare.ts'

const TILES = Number(process.env.BENCH_CI_TILES ?? 20)
const BUILDS = Number(process.env.BENCH_CI_BUILDS ?? 200)

const us = (v: number) => `${v.toFixed(1)} µs`.padStart(10)

/** The three deliveries of build `i`: queued, running with jobs, finished. */
function deliveriesOf(i: number, t: number): BuildUpdate[] {
  const iso = (ms: number) => new Date(ms).toISOString()
  const base = {
    ...emptyUpdate('github', String(i), `acme/repo-${i % TILES}`),
    pipeline: 'ci',
    branch: 'main',
    number: i,
    url: `https://ci.example/${i}`,
  }
  const jobs = (status: 'running' | 'success') =>
    [1, 2, 3].map((j) => ({
      id: `job-${j}`,
      name: `job ${j}`,
      status,
      startedAt: iso(t + 1000),
      finishedAt: status === 'success' ? iso(t + 60_000) : null,
      url: null,
    }))
  return [
    { ...base, status: 'queued', queuedAt: iso(t), eventTime: iso(t) },
    { ...base, status: 'running', startedAt: iso(t + 1000), eventTime: iso(t + 1000), jobs: jobs('running') },
    {
      ...base,
      status: i % 7 ? 'success' : 'failure',
      finishedAt: iso(t + 60_000),
      durationMs: 59_000,
      eventTime: iso(t + 60_000),
      jobs: jobs('success'),
    },
  ]
}

type Statement = {
  getQuery(): { sql: string; params: unknown[] }
  get?(v?: Record<string, unknown>): unknown
  all?(v?: Record<string, unknown>): unknown
  run(v?: Record<string, unknown>): unknown
}

export async function benchCiSql(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-ci-sql-'))
  const store = openStore(join(dir, 'radiator.db'))
  const { sqlite } = store
  const lines = [
    `\nCI store SQL: drizzle prepared statements vs the same SQL on better-sqlite3 (${ROUNDS} rounds, median CPU per call; ${TILES} tiles × ${BUILDS} builds)`,
  ]
  try {
    const builds = new BuildStore(sqlite)
    const stmts = (builds as unknown as { s: Record<string, Statement> }).s
    // How often one apply runs each statement: counted while seeding.
    const calls: Record<string, number> = {}
    for (const [name, st] of Object.entries(stmts))
      for (const m of ['get', 'all', 'run'] as const) {
        const f = st[m]?.bind(st)
        if (f)
          st[m] = (v) => {
            calls[name] = (calls[name] ?? 0) + 1
            return f(v)
          }
      }
    const begin = sqlite.prepare('BEGIN IMMEDIATE')
    const commit = sqlite.prepare('COMMIT')
    const t0 = Date.UTC(2024, 0, 1)
    let applies = 0
    for (let i = 0; i < TILES * BUILDS; i++)
      for (const u of deliveriesOf(i, t0 + i * 100_000)) {
        begin.run()
        builds.apply(u, t0 + i * 100_000 + 60_000)
        commit.run()
        applies++
      }

    // A whole apply, on a fresh BuildStore (no counters), continuing the same stream.
    const timed = new BuildStore(sqlite)
    let next = TILES * BUILDS
    const apply = compare(
      {
        apply: () => {
          const i = next++
          const u = deliveriesOf(i, t0 + i * 100_000)[i % 3]!
          begin.run()
          timed.apply(u, t0 + i * 100_000 + 60_000)
          commit.run()
        },
      },
      200
    ).apply!
    const now = t0 + next * 100_000
    const snapshot = compare({ tiles: () => timed.tiles(now) }, 5).tiles!

    // Each statement, drizzle against its own SQL on better-sqlite3, with real parameters.
    const db = dbOf(sqlite)
    const product = buildStatements(db)
    const delivery = deliveryStatements(db)
    const build = product.build.get({ id: `github:${TILES * BUILDS - 1}` })!
    const tile = product.tile.get({ id: build.pipelineId })!
    const job = product.job.get({ buildId: build.id, jobId: 'job-1' })!
    const cases: [string, Statement, 'get' | 'all' | 'run', Record<string, unknown>][] = [
      ['build', product.build, 'get', { id: build.id }],
      ['tile', product.tile, 'get', { id: tile.id }],
      ['tiles', product.tiles, 'all', {}],
      ['jobs', product.jobs, 'all', { buildId: build.id }],
      ['job', product.job, 'get', { buildId: build.id, jobId: 'job-1' }],
      ['newest', product.newest, 'get', { tile: tile.id }],
      ['running', product.running, 'get', { tile: tile.id, since: 0 }],
      ['recent', product.recent, 'all', { tile: tile.id }],
      ['waiting', product.waiting, 'all', { buildId: build.id }],
      ['updateBuild', product.updateBuild, 'run', build],
      ['saveTile', product.saveTile, 'run', tile],
      ['insertTile', product.insertTile, 'run', tile],
      ['upsertJob', product.upsertJob, 'run', job],
      ['recentShort', product.recentShort, 'all', { tile: tile.id }],
      ['remember (ingest)', delivery.remember, 'run', { provider: 'github', deliveryId: 'x', receivedAt: 0 }],
    ]
    lines.push(`  ${'statement'.padEnd(16)} ${'drizzle'.padStart(10)} ${'same SQL'.padStart(10)}  ratio  per apply`)
    let overhead = 0
    begin.run() // the writes are rolled back at the end
    for (const [name, st, method, values] of cases) {
      const q = st.getQuery()
      const raw = sqlite.prepare(q.sql)
      const args = fillPlaceholders(q.params, values)
      const r = compare(
        {
          drizzle: () => st[method]!(values),
          raw:
            method === 'run'
              ? () => raw.run(...args)
              : method === 'get'
                ? () => raw.get(...args)
                : () => raw.all(...args),
        },
        method === 'all' && name === 'tiles' ? 20 : 500
      )
      const perApply = (calls[name] ?? 0) / applies
      overhead += perApply * (r.drizzle! - r.raw!)
      lines.push(
        `  ${name.padEnd(16)} ${us(r.drizzle!)} ${us(r.raw!)}  ${(r.drizzle! / r.raw!).toFixed(2)}×  ${perApply.toFixed(2)}`
      )
    }
    sqlite.prepare('ROLLBACK').run()
    lines.push(
      `  one BuildStore.apply (a delivery, in its own transaction): ${us(apply).trim()}, of which drizzle's own work ≈ ${us(overhead).trim()} (${((overhead / apply) * 100).toFixed(0)} %)`,
      `  tiles() (the pipelines snapshot, ${Math.min(TILES, 1000)} tiles): ${us(snapshot).trim()}`
    )

    const bound = sqlite.prepare(product.newest.getQuery().sql.replace(/ limit 1$/, ' limit ?'))
    const literal = sqlite.prepare(product.newest.getQuery().sql)
    const l = compare({ literal: () => literal.get(tile.id), bound: () => bound.get(tile.id, 1) }, 500)
    lines.push(
      `  a tile's newest build, LIMIT 1 written in the SQL ${us(l.literal!).trim()}, bound as LIMIT ? ${us(l.bound!).trim()} (${(l.bound! / l.literal!).toFixed(1)}×)`
    )
  } finally {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return lines.join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchCiSql())
