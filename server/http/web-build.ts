/**
 * @module Builds the dashboard when its build is missing or older than its sources, so a fresh
 * clone's `npm start` serves a current page. Vite is loaded only when a build is needed: the
 * production image ships the built files without vite.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from '../log.ts'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const WEB_DIST = join(ROOT, 'web', 'dist')

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)))
  return newest
}

/** The files a build depends on; a change to any of them makes the build stale. */
const SOURCES = [
  'web/src',
  'web/beacon',
  'web/index.html',
  'web/vite.config.ts',
  'web/vite.beacon.config.ts',
  'web/build.ts',
  'package-lock.json',
]

export function webBuildIsStale(): boolean {
  const built = join(WEB_DIST, 'index.html')
  if (!existsSync(built)) return true
  const builtAt = Math.min(statSync(built).mtimeMs, newestMtime(join(WEB_DIST, 'beacon.js')) || Infinity)
  const sourcesAt = Math.max(...SOURCES.map((s) => newestMtime(join(ROOT, s))))
  return sourcesAt > builtAt
}

export async function ensureWebBuild(log: Logger): Promise<void> {
  if (!existsSync(join(ROOT, 'web', 'src'))) return
  if (!webBuildIsStale()) return
  log.info('building the dashboard (its build is missing or older than its sources)')
  const { buildWeb } = await import('../../web/build.ts')
  await buildWeb()
}
