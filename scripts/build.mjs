/**
 * Builds what production runs: the server bundle (dist/server, plain JavaScript, run by `node`
 * without tsx) and the dashboard (web/dist). Plain JavaScript itself, so it runs before anything is
 * compiled.
 *
 *   node scripts/build.mjs              build both
 *   node scripts/build.mjs --if-stale   only what is missing or older than its sources (npm start);
 *                                       where the sources are absent (the Docker image) nothing
 *
 * The bundle keeps every package external (node_modules ships beside it, better-sqlite3 is native)
 * and sits two folders below the root, like the sources, so paths found from import.meta.url
 * (../../migrations, ../../web/dist, ../../package.json) resolve the same from either.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const OUT = join(ROOT, 'dist', 'server')
const STAMP = join(OUT, '.built')

/** Entry points: the server and the command-line tools (npm run token/backup/restore/reprocess). */
const ENTRIES = {
  main: 'server/main.ts',
  backup: 'server/db/backup-cli.ts',
  token: 'server/access/cli.ts',
  reprocess: 'server/ci/reprocess-cli.ts',
  'web-build': 'server/http/web-build.ts',
}

function newestMtime(path) {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return /\.test\.ts$/.test(path) ? 0 : st.mtimeMs
  let newest = st.mtimeMs
  for (const e of readdirSync(path)) if (e !== 'test') newest = Math.max(newest, newestMtime(join(path, e)))
  return newest
}

export function serverBuildIsStale() {
  if (!existsSync(STAMP)) return true
  const sources = Math.max(...['server', 'package.json', 'scripts/build.mjs'].map((p) => newestMtime(join(ROOT, p))))
  return sources > statSync(STAMP).mtimeMs
}

export async function buildServer() {
  // esbuild is a devDependency: loaded only when a build is needed.
  const { build } = await import('esbuild')
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: OUT,
    bundle: true,
    splitting: true,
    chunkNames: '[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    logLevel: 'warning',
    plugins: [
      {
        // The dashboard build (vite) runs from the sources, never from the bundle: keep it out.
        name: 'web-build-external',
        setup(b) {
          b.onResolve({ filter: /\/web\/build\.ts$/ }, (a) => ({ path: a.path, external: true }))
        },
      },
    ],
  })
  writeFileSync(STAMP, `${new Date().toISOString()}\n`)
}

/** Runs web/build.ts (vite) in its own process, through tsx: a development-time tool. */
function buildWeb() {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'web/build.ts'], { cwd: ROOT, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`the dashboard build failed (exit ${r.status})`)
}

async function main(ifStale) {
  if (!existsSync(join(ROOT, 'server'))) return
  if (!ifStale || serverBuildIsStale()) {
    if (ifStale)
      process.stderr.write('radiator: compiling the server (its bundle is missing or older than its sources)\n')
    await buildServer()
  }
  if (!existsSync(join(ROOT, 'web', 'src'))) return
  const { webBuildIsStale } = await import(join(OUT, 'web-build.js'))
  if (!ifStale || webBuildIsStale()) {
    if (ifStale)
      process.stderr.write('radiator: building the dashboard (its build is missing or older than its sources)\n')
    buildWeb()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.includes('--if-stale')).catch((e) => {
    process.stderr.write(`radiator: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  })
}
