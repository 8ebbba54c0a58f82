/**
 * @module `npm run token -- <command>`: API tokens from the command line, for scripts and for the
 * first token before anyone has signed in. Works while Radiator runs (SQLite allows one writer at a
 * time and waits for it; with DATABASE_URL it writes to the cluster's PostgreSQL and tells the
 * instances). The secret is printed once; only its hash is stored.
 *
 *   npm run token -- create --role viewer "CCMenu on Ana's Mac"
 *   npm run token -- list
 *   npm run token -- revoke tok_abc123
 */
import { parseArgs } from 'node:util'
import { connect } from '@nats-io/transport-node'
import { type Config, ConfigError, loadConfig } from '../config.ts'
import { NatsBus } from '../cluster/bus.ts'
import { openPgStore } from '../db/pg/client.ts'
import { PgWriter } from '../db/pg/writer.ts'
import { PgAccessRows } from './pg-rows.ts'
import { databasePath, openStore } from '../db/client.ts'
import { Writer } from '../db/writer.ts'
import { Credentials } from './credentials.ts'
import { SqliteAccessRows } from './sqlite-rows.ts'
import { ROLES, type Role } from './roles.ts'

const USAGE = `usage: npm run token -- create --role <${ROLES.join('|')}> "<name>"
       npm run token -- list
       npm run token -- revoke <token id>`

class UsageError extends Error {}

async function main(argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { role: { type: 'string' } },
    allowPositionals: true,
  })
  const [command, arg] = positionals
  if (!command || !['create', 'list', 'revoke'].includes(command)) throw new UsageError(USAGE)
  if (command === 'create' && (!arg?.trim() || !ROLES.includes(values.role as Role))) throw new UsageError(USAGE)
  if (command === 'revoke' && !arg) throw new UsageError(USAGE)
  const { creds, close } = await openCredentials(loadConfig(process.env))
  try {
    if (command === 'create') {
      const t = await creds.createToken(arg!.trim().slice(0, 100), values.role as Role)
      return `created ${t.id} (${values.role}) "${arg!.trim()}"\n${t.secret}\nShown once: store it now. Send it as "Authorization: Bearer <token>" (cctray clients: as the password).`
    }
    if (command === 'revoke') return (await creds.revokeToken(arg!)) ? `revoked ${arg}` : `no active token ${arg}`
    const rows = creds.listTokens()
    if (!rows.length) return 'no tokens'
    const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '))
    return rows
      .map(
        (t) =>
          `${t.id}  ${t.role.padEnd(12)} ${t.revokedAt ? 'revoked ' : 'active  '} last used ${when(t.lastUsedAt)}  ${t.name}`
      )
      .join('\n')
  } finally {
    await close()
  }
}

/**
 * The store Radiator runs on: SQLite in DATA_DIR, or the cluster's PostgreSQL, where changes are
 * announced on its bus so the running instances see them at once (else within their reload).
 */
async function openCredentials(config: Config): Promise<{ creds: Credentials; close(): Promise<void> }> {
  if (!config.DATABASE_URL) {
    const store = openStore(databasePath(config.DATA_DIR))
    const writer = new Writer(store.sqlite, store.syncWal)
    return {
      creds: new Credentials(new SqliteAccessRows(store.db, writer)),
      async close() {
        await writer.close()
        store.close()
      },
    }
  }
  const store = await openPgStore(config.DATABASE_URL)
  const writer = new PgWriter(config.DATABASE_URL)
  const nc = await connect({ servers: config.LIVE_BUS_URL!.split(',').map((s) => s.trim()) })
  const bus = new NatsBus(nc, config.LIVE_STREAM_NAME)
  const rows = new PgAccessRows(store, writer, bus)
  await rows.ready
  return {
    creds: new Credentials(rows),
    async close() {
      rows.close()
      await writer.close()
      await bus.close()
      await nc.drain() // the announcements go out before the process ends
      await store.close()
    },
  }
}

main(process.argv.slice(2)).then(
  (out) => process.stdout.write(`${out}\n`),
  (e) => {
    process.stderr.write(
      e instanceof UsageError ? `${e.message}\n` : `token: ${e instanceof ConfigError ? e.message : String(e)}\n`
    )
    process.exit(e instanceof UsageError ? 2 : 1)
  }
)
