/**
 * Builds the dashboard and the beacon script into web/dist (`npm run build`), then writes a
 * brotli (.br) and a gzip (.gz) copy beside each compressible dashboard file, which the server
 * sends by Accept-Encoding (server/http/static.ts) instead of compressing per request.
 */
import { build } from 'vite'
import { fileURLToPath } from 'node:url'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const web = fileURLToPath(new URL('./', import.meta.url))

/** Text formats the dashboard ships; images and fonts are compressed already. */
const COMPRESSIBLE = /\.(?:m?js|css|svg|json|map|txt|webmanifest)$/

/**
 * Writes `f.br` and `f.gz` beside every compressible file under `dir`, each only where it is smaller.
 * /beacon.js is left out: its own route keeps it gzipped in memory (server/metrics/beacon-file.ts).
 */
export function precompress(dir: string, skip: (path: string) => boolean = () => false): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) precompress(path, skip)
    else if (COMPRESSIBLE.test(e.name) && !skip(path)) {
      const raw = readFileSync(path)
      const br = brotliCompressSync(raw, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
      })
      const gz = gzipSync(raw, { level: 9 })
      if (br.length < raw.length) writeFileSync(`${path}.br`, br)
      if (gz.length < raw.length) writeFileSync(`${path}.gz`, gz)
    }
  }
}

export async function buildWeb(): Promise<void> {
  await build({ configFile: `${web}vite.config.ts`, logLevel: 'warn' })
  // The beacon is a separate, self-contained entry with its own size budget.
  if (existsSync(`${web}vite.beacon.config.ts`))
    await build({ configFile: `${web}vite.beacon.config.ts`, logLevel: 'warn' })
  const dist = `${web}dist`
  precompress(dist, (p) => p === join(dist, 'beacon.js'))
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWeb()
}
