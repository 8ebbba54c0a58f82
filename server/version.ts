/** @module The running version: package version plus a hash of the built page, so a new build reads as an upgrade. */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, WEB_DIST } from './http/web-build.ts'

export function currentVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const index = join(WEB_DIST, 'index.html')
  if (!existsSync(index)) return pkg.version
  const h = createHash('sha256').update(readFileSync(index)).digest('hex').slice(0, 8)
  return `${pkg.version}+${h}`
}
