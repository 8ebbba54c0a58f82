/**
 * @module Real reverse proxies for tests: nginx and Caddy (Debian packages) started as the current
 * user on a free loopback port, in front of a test Radiator, with configs made from the files in
 * `deploy/` (only the listen address and the upstream port changed), plain HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { ROOT } from '../http/web-build.ts'
import { tempDir } from './harness.ts'

export const DEPLOY = join(ROOT, 'deploy')

function which(name: string, env: string): string | null {
  const given = process.env[env]
  if (given) return existsSync(given) ? given : null
  // nginx lives in /usr/sbin, which a non-root PATH often lacks.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name)
  return null
}

export const NGINX = which('nginx', 'NGINX_PATH')
export const CADDY = which('caddy', 'CADDY_PATH')

for (const [name, bin] of [
  ['nginx', NGINX],
  ['caddy', CADDY],
] as const)
  if (!bin)
    console.warn(
      `\n*** Radiator reverse-proxy tests for ${name} SKIPPED: ${name} not found. Install it with \`apt-get install ${name}\` to run them. ***\n`
    )

export type ProxyKind = 'nginx' | 'caddy'

export interface RunningProxy {
  kind: ProxyKind
  /** http://127.0.0.1:<port> */
  url: string
  port: number
  /** The config the proxy runs (after substitution and any mutation). */
  config: string
  /** The proxy's own error log so far (nginx's error.log, Caddy's stderr). */
  log(): string
  stop(): Promise<void>
}

export interface ProxyOptions {
  /** Edits the generated site config: tests break it on purpose to show what they detect. */
  mutate?: (config: string) => string
  /** The site config for the proxy's port, instead of deploy/'s single-upstream one (a cluster's). */
  site?: (port: number) => string
}

/** Replaces `from` in `text`, failing when the template no longer contains it. */
function replaceOrFail(text: string, from: string | RegExp, to: string, what: string): string {
  const out = text.replace(from, to)
  if (out === text) throw new Error(`deploy template changed: could not find ${what} (${String(from)})`)
  return out
}

/** deploy/nginx.conf, listening on plain HTTP on 127.0.0.1:`port`, in front of 127.0.0.1:`upstream`. */
export function nginxSiteConfig(port: number, upstream: number): string {
  let c = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8')
  c = replaceOrFail(c, /^\s*listen 443 ssl http2;$/m, `    listen 127.0.0.1:${port};`, 'the IPv4 TLS listen line')
  c = replaceOrFail(c, /^\s*listen \[::\]:443 ssl http2;\n/m, '', 'the IPv6 TLS listen line')
  c = replaceOrFail(c, /^\s*ssl_certificate .*\n/m, '', 'ssl_certificate')
  c = replaceOrFail(c, /^\s*ssl_certificate_key .*\n/m, '', 'ssl_certificate_key')
  c = replaceOrFail(c, 'server 127.0.0.1:8080;', `server 127.0.0.1:${upstream};`, 'the upstream')
  return c
}

/** deploy/cluster/nginx.conf on 127.0.0.1:`port`, in front of three instances on 127.0.0.1:`upstreams`. */
export function clusterNginxConfig(port: number, upstreams: readonly number[]): string {
  let c = readFileSync(join(DEPLOY, 'cluster', 'nginx.conf'), 'utf8')
  c = replaceOrFail(c, /^\s*listen 80;$/m, `    listen 127.0.0.1:${port};`, 'the listen line')
  upstreams.forEach((p, i) => {
    c = replaceOrFail(c, `server radiator-${i + 1}:8080 `, `server 127.0.0.1:${p} `, `upstream radiator-${i + 1}`)
  })
  return c
}

/** deploy/Caddyfile, served on plain HTTP on 127.0.0.1:`port`, in front of 127.0.0.1:`upstream`. */
export function caddySiteConfig(port: number, upstream: number): string {
  let c = readFileSync(join(DEPLOY, 'Caddyfile'), 'utf8')
  c = replaceOrFail(
    c,
    /^radiator\.example\.com \{$/m,
    `http://127.0.0.1:${port} {\n\tbind 127.0.0.1`,
    'the site address'
  )
  c = replaceOrFail(c, 'reverse_proxy 127.0.0.1:8080 {', `reverse_proxy 127.0.0.1:${upstream} {`, 'the upstream')
  return c
}

/** A free TCP port on loopback (free a moment ago: the proxy binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port })
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => resolve(false))
  })
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()))
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  p.kill('SIGTERM')
  const gone = await Promise.race([
    exited(p).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
  ])
  if (!gone) {
    p.kill('SIGKILL')
    await exited(p)
  }
}

/** Starts nginx or Caddy in front of `upstream` (a Radiator on 127.0.0.1) and waits until it accepts connections. */
export async function startProxy(
  kind: ProxyKind,
  upstream: { port: number },
  opts: ProxyOptions = {}
): Promise<RunningProxy> {
  const bin = kind === 'nginx' ? NGINX : CADDY
  if (!bin) throw new Error(`${kind} is not installed`)
  const dir = tempDir(`radiator-${kind}-`)
  const port = await freePort()
  const site = (opts.mutate ?? ((c) => c))(
    opts.site?.(port) ??
      (kind === 'nginx' ? nginxSiteConfig(port, upstream.port) : caddySiteConfig(port, upstream.port))
  )
  let args: string[]
  let env: NodeJS.ProcessEnv = process.env
  const errorLog = join(dir, 'error.log')
  if (kind === 'nginx') {
    writeFileSync(join(dir, 'radiator.conf'), site)
    for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t))
    // The site file goes inside http {}, as /etc/nginx/conf.d/*.conf does; everything else in the prefix.
    const main = [
      // As root, nginx's workers would switch to nobody, who cannot write the temp directories.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} info;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${join(dir, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
      `  include ${join(dir, 'radiator.conf')};`,
      '}',
    ].join('\n')
    writeFileSync(join(dir, 'nginx.conf'), main)
    args = ['-p', dir, '-e', errorLog, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']
  } else {
    // Admin API off, no automatic HTTPS (the site address is http://), state in the temp dir, and
    // a short grace period: on stop Caddy would otherwise wait for open live streams to end.
    writeFileSync(join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https off\n\tgrace_period 1s\n}\n\n${site}`)
    args = ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile']
    env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }
  }
  const child = spawn(bin, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
  // A test process that ends without stopping its proxy (a crash, a timeout) must not leave it running.
  const orphanGuard = () => {
    child.kill('SIGTERM') // not SIGKILL: nginx's master then takes its workers down with it
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', orphanGuard)
  child.once('exit', () => process.off('exit', orphanGuard))
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += String(d)))
  const log = () => (kind === 'nginx' && existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '') + stderr
  const stop = async () => {
    await stopProcess(child)
    rmSync(dir, { recursive: true, force: true })
  }
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break
    if (await canConnect(port)) return { kind, url: `http://127.0.0.1:${port}`, port, config: site, log, stop }
    await new Promise((r) => setTimeout(r, 50))
  }
  const why = log()
  await stop()
  throw new Error(`${kind} did not start on 127.0.0.1:${port}:\n${why}`)
}

/**
 * The site config with WebSocket upgrades answered 403 by the proxy, as some corporate proxies do:
 * the page then has to go live over SSE.
 */
export function refuseUpgrades(kind: ProxyKind): (config: string) => string {
  return kind === 'nginx'
    ? (c) =>
        replaceOrFail(
          c,
          /^(\s*)location \/live \{\n/m,
          '$&$1    if ($http_upgrade) { return 403; }\n',
          'location /live'
        )
    : (c) =>
        replaceOrFail(
          c,
          /^(\t)reverse_proxy /m,
          '$1@upgrade header Connection *Upgrade*\n$1respond @upgrade 403\n\n$&',
          'reverse_proxy'
        )
}
