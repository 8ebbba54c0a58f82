/**
 * @module `npm run backup -- <file>` and `npm run restore -- <file>`: an online copy of
 * DATA_DIR/radiator.db while Radiator runs, and putting one back into a new data folder.
 *
 *   npm run backup -- /backups/radiator-monday.db
 *   DATA_DIR=./data-restored npm run restore -- /backups/radiator-monday.db
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config.ts'
import { databasePath } from './client.ts'
import { BackupError, backupFile, restoreBackup, type BackupInfo } from './backup.ts'

const USAGE = `usage: npm run backup -- <backup file>              (copies DATA_DIR/radiator.db; Radiator may be running)
       npm run restore -- <backup file>             (into DATA_DIR, which must hold no radiator.db)`

class UsageError extends Error {}

function main(argv: string[]): string {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { restore: { type: 'boolean' } },
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw new UsageError(USAGE)
  const file = positionals[0]!
  const config = loadConfig(process.env)
  if (config.DATABASE_URL)
    throw new UsageError(
      "DATABASE_URL is set: the store is on PostgreSQL, which this command does not copy; back it up with pg_dump (or your PostgreSQL service's backups)"
    )
  const describe = (i: BackupInfo) =>
    `${i.builds} builds, ${i.events} events, event ids reserved through ${i.eventIdReserved}, ${(i.bytes / 1048576).toFixed(1)} MB`
  if (values.restore) {
    const info = restoreBackup(file, config.DATA_DIR)
    return `restored ${file} → ${info.path} (${describe(info)}); start Radiator with DATA_DIR=${config.DATA_DIR}`
  }
  const t0 = performance.now()
  const info = backupFile(databasePath(config.DATA_DIR), file)
  return `backed up ${databasePath(config.DATA_DIR)} → ${info.path} in ${Math.round(performance.now() - t0)} ms (${describe(info)})`
}

try {
  process.stdout.write(`${main(process.argv.slice(2))}\n`)
} catch (e) {
  const known = e instanceof BackupError || e instanceof ConfigError
  process.stderr.write(e instanceof UsageError ? `${e.message}\n` : `backup: ${known ? e.message : String(e)}\n`)
  process.exit(e instanceof UsageError ? 2 : 1)
}
