/** `npm run reprocess`: re-normalizes stored raw webhook bodies into builds (see reprocess.ts). */
import { ConfigError, loadConfig } from '../config.ts'
import { databasePath, openStore } from '../db/client.ts'
import { reprocess } from './reprocess.ts'

try {
  const config = loadConfig(process.env)
  // The running instances' in-memory tiles (tile-view.ts) would not see the rebuilt ones.
  if (config.DATABASE_URL)
    throw new ConfigError('DATABASE_URL is set, and reprocess runs on SQLite (DATA_DIR) only for now')
  const store = openStore(databasePath(config.DATA_DIR))
  const r = reprocess(store.sqlite)
  store.close()
  process.stdout.write(
    `reprocessed ${r.deliveries} deliveries: ${r.applied} applied, ${r.ignored} ignored, ${r.failed} failed\n`
  )
} catch (e) {
  process.stderr.write(`reprocess: ${e instanceof ConfigError ? e.message : String(e)}\n`)
  process.exit(1)
}
