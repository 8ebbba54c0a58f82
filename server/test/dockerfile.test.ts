/**
 * The Dockerfile, read and checked instruction by instruction (there is no Docker engine here):
 * what the image must do to run Radiator in production.
 */
import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../http/web-build.ts'

/** Node's current LTS line (24 "Krypton", LTS since October 2025). */
const NODE_LTS = 24

interface Instruction {
  op: string
  args: string
}
interface Stage {
  from: string
  name: string | null
  body: Instruction[]
}

/** Instructions in order, continuation lines joined, comments and the parser directive dropped. */
export function parseDockerfile(text: string): Stage[] {
  const lines: string[] = []
  let cur = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!cur && (line.startsWith('#') || !line)) continue
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `
      continue
    }
    lines.push((cur + line).trim())
    cur = ''
  }
  const stages: Stage[] = []
  for (const l of lines) {
    const [, op, args] = /^(\S+)\s+([\s\S]*)$/.exec(l)!
    if (op!.toUpperCase() === 'FROM') {
      const [, from, name] = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!.trim())!
      stages.push({ from: from!, name: name ?? null, body: [] })
    } else stages.at(-1)!.body.push({ op: op!.toUpperCase(), args: args!.trim() })
  }
  return stages
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const stages = parseDockerfile(dockerfile)
const runtime = stages.at(-1)!
const all = (s: Stage, op: string) => s.body.filter((i) => i.op === op)
const one = (s: Stage, op: string) => {
  const found = all(s, op)
  expect(found, `one ${op} in the runtime stage`).toHaveLength(1)
  return found[0]!.args
}
const envOf = (s: Stage) =>
  Object.fromEntries(
    all(s, 'ENV').flatMap((i) =>
      [...i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1], m[2]!.replace(/^"|"$/g, '')])
    )
  )
/** `COPY [--from=x] [--chown=..] src... dest` → { from, sources, dest }. */
const copies = (s: Stage) =>
  all(s, 'COPY').map((i) => {
    const words = i.args.split(/\s+/)
    const from = words.find((w) => w.startsWith('--from='))?.slice(7) ?? null
    const paths = words.filter((w) => !w.startsWith('--'))
    return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! }
  })

describe('the Dockerfile', () => {
  it('builds on the current Node LTS, pinned by major version, in a build stage and a runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    for (const s of stages) expect(s.from, s.name ?? '').toMatch(new RegExp(`^node:${NODE_LTS}(-[a-z0-9]+)*$`))
    expect(runtime.from).toMatch(/-slim$/)
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)))
    expect(build, 'a stage that runs npm run build').toBeDefined()
    expect(build).not.toBe(runtime)
    // `npm run build` is what compiles the server bundle the runtime stage runs.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.build).toBe('node scripts/build.mjs')
  })

  it('ships only production dependencies, installed with npm ci --omit=dev', () => {
    const nodeModules = copies(runtime).filter((c) => c.sources.some((p) => /node_modules\/?$/.test(p)))
    expect(nodeModules).toHaveLength(1)
    const source = stages.find((s) => s.name === nodeModules[0]!.from)
    expect(source, 'node_modules copied from a named stage').toBeDefined()
    const installs = all(source!, 'RUN').filter((r) => /\bnpm (ci|install)\b/.test(r.args))
    expect(installs.map((r) => r.args)).toEqual([expect.stringMatching(/^npm ci --omit=dev\b/)])
    expect(all(runtime, 'RUN').some((r) => /\bnpm (ci|install|i)\b/.test(r.args) && !/--omit=dev/.test(r.args))).toBe(
      false
    )
  })

  it('runs the compiled server with node as PID 1, not TypeScript through tsx', () => {
    const cmd = JSON.parse(one(runtime, 'CMD')) as string[]
    expect(all(runtime, 'ENTRYPOINT')).toEqual([])
    // Exec form: node itself is PID 1 and receives SIGTERM (main.ts handles it; the production
    // build test checks the compiled server exits 0 on it). A shell form would put sh in between.
    expect(cmd).toEqual(['node', 'dist/server/main.js'])
    const built = copies(runtime).find((c) => c.sources.includes('/app/dist/server'))
    expect(built?.dest).toBe('./dist/server')
    expect(dockerfile).not.toMatch(/--import\s+tsx|\btsx\s+server\//)
    // What the bundle reads at run time, from the same places as the sources do.
    const dests = copies(runtime).map((c) => c.dest)
    expect(dests).toEqual(expect.arrayContaining(['./migrations', './web/dist', './']))
    expect(copies(runtime).find((c) => c.dest === './')?.sources).toContain('package.json')
  })

  it('stops on SIGTERM, runs as a non-root user, keeps the database in a volume, exposes the port and has a HEALTHCHECK', () => {
    expect(one(runtime, 'STOPSIGNAL')).toBe('SIGTERM')
    const user = one(runtime, 'USER')
    expect(user).not.toMatch(/^(root|0)(:|$)/)
    const env = envOf(runtime)
    expect(env.DATA_DIR).toBe('/data')
    expect(
      one(runtime, 'VOLUME')
        .replace(/[[\]"]/g, '')
        .split(/[\s,]+/)
    ).toContain(env.DATA_DIR)
    // The volume's mount point must be writable by that user.
    expect(
      all(runtime, 'RUN').some((r) => new RegExp(`chown\\s+${user}(:\\S+)?\\s+${env.DATA_DIR}\\b`).test(r.args))
    ).toBe(true)
    expect(one(runtime, 'EXPOSE')).toBe(env.PORT)
    expect(env.HOST).toBe('0.0.0.0')
    const health = one(runtime, 'HEALTHCHECK')
    expect(health).toMatch(/^(--\S+\s+)*CMD\s/)
    expect(health).toMatch(/\/healthz/)
    expect(health).toMatch(/--interval=\d+s/)
  })

  it('keeps local builds, data, secrets and the demo out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
    // The demo is a development tool (npm run demo, through tsx): not part of what the image runs.
    for (const p of ['node_modules', 'dist', 'web/dist', 'data', '.git', 'demo']) expect(ignored, p).toContain(p)
    expect(existsSync(join(ROOT, 'demo', 'main.ts'))).toBe(true)
    expect(dockerfile).not.toMatch(/\bdemo\b/)
    expect(existsSync(join(ROOT, 'scripts', 'build.mjs'))).toBe(true)
  })
})
