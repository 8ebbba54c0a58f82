/**
 * @module `npm run token -- <command>`: API tokens from the command line, for scripts and for the
 * first token before anyone has signed in. Works while Radiator runs (SQLite allows one writer at a
 * time and waits for it). The secret is printed once; only its hash is stored.
 *
 *   npm run token -- create --role viewer "CCMenu on Ana's Mac"
 *   npm run token -- list
 *   npm run token -- revoke tok_abc123
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config.ts'
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
  const config = loadConfig(process.env)
  const store = openStore(databasePath(config.DATA_DIR))
  const writer = new Writer(store.sqlite, store.syncWal)
  const creds = new Credentials(new SqliteAccessRows(store.db, writer))
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
    await writer.close()
    store.close()
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
