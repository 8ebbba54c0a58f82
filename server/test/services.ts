/**
 * @module The shared services the scale-out tests need (issue 17): PostgreSQL, NATS with JetStream and
 * Redis, at the addresses the development and CI machines run them on (overridable by env). Probed
 * once when a test file imports this. On a laptop without them those tests are skipped with a loud
 * line; `.ci/run` sets RADIATOR_REQUIRE_SERVICES=1, which turns a missing service into a failure, so
 * CI never passes by skipping them.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import pg from 'pg'

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const HOW: Record<string, string> = {
  postgres: 'PostgreSQL on 127.0.0.1:5432 with trust auth (Debian: `apt-get install postgresql`), or TEST_DATABASE_URL',
  nats: 'nats-server with JetStream on 127.0.0.1:4222 (`nats-server -js`), or TEST_NATS_URL',
  redis: 'Redis on 127.0.0.1:6379 (`apt-get install redis-server`), or TEST_REDIS_URL',
}

function reachable(url: string): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port) }, () => {
      s.destroy()
      resolve(true)
    })
    s.setTimeout(1000, () => {
      s.destroy()
      resolve(false)
    })
    s.on('error', () => resolve(false))
  })
}

const [hasPg, hasNats, hasRedis] = await Promise.all([reachable(PG_URL), reachable(NATS_URL), reachable(REDIS_URL)])
export const SERVICES = { postgres: hasPg, nats: hasNats, redis: hasRedis }

/** True when every named service answers; otherwise warns loudly, or throws under RADIATOR_REQUIRE_SERVICES. */
export function servicesUp(...names: (keyof typeof SERVICES)[]): boolean {
  const missing = names.filter((n) => !SERVICES[n])
  if (missing.length === 0) return true
  const what = missing.map((n) => `${n}: ${HOW[n]}`).join('; ')
  if (process.env.RADIATOR_REQUIRE_SERVICES === '1')
    throw new Error(`scale-out tests need ${what} — RADIATOR_REQUIRE_SERVICES=1 forbids skipping them`)
  console.warn(`\n*** Radiator scale-out tests SKIPPED: ${what} not reachable. ***\n`)
  return false
}

/**
 * A fresh PostgreSQL database for one test file, dropped by `drop()`: tests never share tables, so
 * they can run in parallel and leave nothing behind.
 */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `radiator_t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}

/** A name no other test run uses: JetStream streams and subjects are shared by everything on the server. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`
}

/**
 * The two tables the cluster's live path reads and writes (`meta`, `events`), for the tests of that
 * path alone; they match what the PostgreSQL migrations create.
 */
export const EVENT_TABLES = `
  CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
  CREATE TABLE IF NOT EXISTS events (id bigint PRIMARY KEY, type text NOT NULL, at bigint NOT NULL, data text NOT NULL);`
