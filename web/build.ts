/** Builds the dashboard and the beacon script into web/dist (`npm run build`). */
import { build } from 'vite'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'

const web = fileURLToPath(new URL('./', import.meta.url))

export async function buildWeb(): Promise<void> {
  await build({ configFile: `${web}vite.config.ts`, logLevel: 'warn' })
  // The beacon is a separate, self-contained entry with its own size budget.
  if (existsSync(`${web}vite.beacon.config.ts`))
    await build({ configFile: `${web}vite.beacon.config.ts`, logLevel: 'warn' })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWeb()
}
