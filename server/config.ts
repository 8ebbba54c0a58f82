/**
 * @module All configuration, from environment variables, validated once at start-up. Every other
 * module receives the parsed `Config`; nothing else reads `process.env`. The README table is
 * checked against `CONFIG_DOCS` by a test, so a variable can't be added without documenting it.
 */
import { z } from 'zod'
import { TRANSPORTS } from '../contract/vocabularies.ts'
import type { Provider } from './ci/provider.ts'
import { PROVIDERS, secretVars } from './ci/registry.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from './time.ts'

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max)
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')
/** Comma-separated list; empty entries dropped so a trailing comma is harmless. */
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
)

/** One SITE_DEPLOYS entry: `site=project[:pipeline][@branch]`; `,` `=` `:` `@` are the separators. */
const DEPLOY_SOURCE =
  /^\s*([a-z0-9.-]+)\s*=\s*([^:@=]*[^:@=\s])\s*(?::\s*([^:@=]*[^:@=\s])\s*)?(?:@\s*([^:@=]*[^:@=\s])\s*)?$/i
export interface DeploySource {
  site: string
  project: string
  /** null: any pipeline of the project. */
  pipeline: string | null
  /** null: the pipeline's default branch. */
  branch: string | null
}
function deploySource(entry: string): DeploySource {
  const [, site, project, pipeline, branch] = DEPLOY_SOURCE.exec(entry)!
  return { site: site!.toLowerCase(), project: project!, pipeline: pipeline ?? null, branch: branch ?? null }
}

/** Variable → [schema, what it accepts (for errors and the README), default shown in docs]. */
const vars = {
  PORT: [int(0, 65535).default(8080), 'an integer 0–65535', '8080'],
  HOST: [z.string().min(1).default('0.0.0.0'), 'a hostname or IP address to listen on', '0.0.0.0'],
  PUBLIC_URL: [
    z.url().optional(),
    'an absolute http(s) URL under which Radiator is reached (used in printed URLs and cctray links)',
    '(derived from HOST and PORT)',
  ],
  DATA_DIR: [z.string().min(1).default('./data'), 'a directory path (created if missing)', './data'],
  DATABASE_URL: [
    z.string().min(1).optional(),
    'a postgres://user:password@host:5432/database URL: the store on PostgreSQL, shared by every instance (needs LIVE_BUS_URL too)',
    '(unset: SQLite in DATA_DIR)',
  ],
  LIVE_BUS_URL: [
    z
      .string()
      .regex(/^(nats|tls):\/\/[^\s]+$/)
      .optional(),
    'a nats://host:4222 URL (comma-separated for several servers) of NATS with JetStream: the live stream shared by every instance (needs DATABASE_URL too)',
    '(unset: the live stream stays in this process)',
  ],
  LIVE_STREAM_NAME: [
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('radiator'),
    'letters, digits, - and _ (up to 64): the JetStream stream and the subject prefix this cluster uses (one per Radiator cluster on a shared NATS)',
    'radiator',
  ],
  DB_CACHE_MB: [
    int(1, 65_536).default(64),
    'an integer 1–65536: MB of SQLite page cache (the vitals id index is looked up on every CLS/INP report)',
    '64',
  ],
  BACKUP_DIR: [
    z.string().min(1).optional(),
    'a directory path: scheduled backups are written there (created if missing), as radiator-<UTC time>.db',
    '(unset: no scheduled backups)',
  ],
  BACKUP_EVERY: [
    z
      .string()
      .regex(/^\d+[smhd]$/)
      .transform(
        (v) =>
          Number(v.slice(0, -1)) * { s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }[v.at(-1) as 's' | 'm' | 'h' | 'd']
      )
      .pipe(
        z
          .number()
          .min(1000)
          .max(24 * DAY_MS)
      )
      .default(6 * HOUR_MS),
    'a number and s, m, h or d (30m, 6h, 1d), 1s–24d: time between scheduled backups',
    '6h',
  ],
  BACKUP_KEEP: [
    int(1, 10_000).default(7),
    'an integer 1–10000: scheduled backups kept in BACKUP_DIR (older ones are deleted)',
    '7',
  ],
  LOG_LEVEL: [
    z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    'one of debug, info, warn, error, silent',
    'info',
  ],
  LOG_SUCCESS_PER_SECOND: [
    int(0, 1_000_000).default(20),
    'an integer 0–1000000: successful requests logged in full per second; past that, LOG_SAMPLE_SUCCESS of them (errors are always logged)',
    '20',
  ],
  LOG_SAMPLE_SUCCESS: [
    z.coerce.number().min(0).max(1).default(0.01),
    'a number 0–1: the share of successful requests logged once LOG_SUCCESS_PER_SECOND is reached in a second',
    '0.01',
  ],
  TRUST_PROXY: [
    bool.default(false),
    'true or false: believe X-Forwarded-For / X-Forwarded-Proto from a reverse proxy',
    'false',
  ],
  // Access (server/access)
  PUBLIC_DASHBOARD: [
    bool.default(false),
    'true or false: open the dashboard, read APIs, live stream and feeds to anyone without signing in (for a trusted LAN only)',
    'false',
  ],
  PUBLIC_FEEDS: [
    bool.default(false),
    'true or false: open /cctray.xml and the badges to anyone (README badges are often public)',
    'false',
  ],
  ADMIN_TOKEN: [
    list.default([]),
    'comma-separated admin bearer tokens (else a one-time sign-in link is printed while no admin exists)',
    '(unset)',
  ],
  AUTH_PROXY_HEADER: [
    z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .transform((h) => h.toLowerCase())
      .optional(),
    'a header name carrying the signed-in user from a trusted auth proxy (oauth2-proxy: X-Forwarded-Email)',
    '(unset: off)',
  ],
  AUTH_PROXY_TRUSTED: [
    list.default([]),
    'comma-separated IP addresses of the auth proxy; the header is believed only from these peers',
    '(none)',
  ],
  AUTH_PROXY_ADMINS: [
    list.transform((l) => l.map((u) => u.toLowerCase())).default([]),
    'comma-separated users (as the proxy names them) who get the admin role; everyone else the proxy lets in is a viewer',
    '(none)',
  ],
  OIDC_ISSUER: [
    z.url().optional(),
    'the OpenID Connect issuer URL for single sign-on (https; http only on loopback, for tests)',
    '(unset: off)',
  ],
  OIDC_CLIENT_ID: [z.string().min(1).optional(), 'the client id registered with the issuer', '(unset)'],
  OIDC_CLIENT_SECRET: [z.string().min(1).optional(), 'the client secret registered with the issuer', '(unset)'],
  OIDC_ALLOWED_DOMAINS: [
    list.transform((l) => l.map((d) => d.toLowerCase())).default([]),
    'comma-separated e-mail domains whose verified users may sign in as viewers',
    '(none)',
  ],
  OIDC_GROUPS_CLAIM: [z.string().min(1).default('groups'), "the claim that lists a user's groups", 'groups'],
  OIDC_VIEWER_GROUPS: [list.default([]), 'comma-separated groups whose members may sign in as viewers', '(none)'],
  OIDC_ADMIN_GROUPS: [list.default([]), 'comma-separated groups whose members sign in as admins', '(none)'],
  FRAME_ANCESTORS: [
    z
      .string()
      .transform((s) => s.split(/[\s,]+/).filter(Boolean))
      .pipe(z.array(z.string().regex(/^('self'|'none'|https?:\/\/(\*\.)?[a-z0-9.-]+(:\d{1,5})?)$/i)).min(1))
      .default(["'self'"]),
    "who may embed the dashboard in a frame (CSP frame-ancestors): 'self', 'none' or origins like https://wall.example.com, space-separated",
    "'self'",
  ],
  // Live channel
  LIVE_TRANSPORTS: [
    list.pipe(z.array(z.enum(TRANSPORTS)).min(1)).default([...TRANSPORTS]),
    'a comma-separated subset of ws, sse, poll (the transports served)',
    'ws,sse,poll',
  ],
  LIVE_MAX_CLIENTS: [
    int(1, 100_000).default(1000),
    'an integer 1–100000: open live connections, all transports',
    '1000',
  ],
  LIVE_MAX_CLIENTS_PER_ADDRESS: [
    int(1, 100_000).default(100),
    'an integer 1–100000: open live connections from one client address (a long poll counts while it is held)',
    '100',
  ],
  LIVE_CLIENT_BUFFER_BYTES: [
    int(16_384, 64 * 1024 * 1024).default(1024 * 1024),
    'an integer 16384–67108864: bytes queued for one live client before it is cut off (WebSocket code 1013)',
    '1048576',
  ],
  LIVE_HEARTBEAT_MS: [
    int(1000, 300_000).default(15_000),
    'an integer 1000–300000 (ms between heartbeats and WebSocket pings)',
    '15000',
  ],
  LIVE_POLL_TIMEOUT_MS: [
    int(100, 120_000).default(25_000),
    'an integer 100–120000 (ms a long poll is held open)',
    '25000',
  ],
  LIVE_REPLAY_BUFFER: [
    int(100, 1_000_000).default(10_000),
    'an integer 100–1000000: recent events kept in memory for resuming clients',
    '10000',
  ],
  EVENT_RETENTION_DAYS: [
    int(1, 3650).default(7),
    'an integer 1–3650: days persisted live events are kept for replay',
    '7',
  ],
  // CI webhooks: each provider's secret variables, as its file declares them (server/ci/registry.ts)
  ...secretVars(PROVIDERS),
  HOOK_AUTH_FAILURES_PER_MINUTE: [
    int(1, 100_000).default(30),
    'an integer 1–100000: failed webhook authentications accepted per client address per minute before 429 (valid deliveries are never limited)',
    '30',
  ],
  RAW_RETENTION_DAYS: [
    int(1, 3650).default(30),
    'an integer 1–3650: days raw webhook bodies and raw beacon samples are kept',
    '30',
  ],
  // Site metrics
  SITES: [
    list
      .transform((l) => l.map((d) => d.toLowerCase()))
      .pipe(z.array(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/)))
      .default([]),
    'comma-separated site domains accepted by /api/collect (e.g. shop.example.com, no scheme or port)',
    '(none)',
  ],
  SITES_ALLOW_SUBDOMAINS: [bool.default(true), 'true or false: accept beacons from subdomains of a site', 'true'],
  SITE_DEPLOYS: [
    list
      .pipe(z.array(z.string().regex(DEPLOY_SOURCE)))
      .transform((l) => l.map(deploySource))
      .default([]),
    "comma-separated site=project[:pipeline][@branch] (e.g. shop.example.com=acme/shop:deploy@main): the pipelines whose successful builds are drawn as deploys on that site's charts (without @branch, its default branch); a site with none shows no deploy markers",
    '(none)',
  ],
  ROLLUP_RETENTION_DAYS: [
    int(1, 3650).default(400),
    'an integer 1–3650: days minute/hour/day rollups and custom metric points are kept',
    '400',
  ],
  COLLECT_PER_MINUTE: [
    int(0, 10_000_000).default(1200),
    "an integer 0–10000000: beacons /api/collect takes per client address per minute (a burst of that many, refilled evenly) before 429; 0 turns the limit off. Behind a reverse proxy it needs TRUST_PROXY, or every visitor shares the proxy's address",
    '1200',
  ],
  METRICS_TOKEN: [list.default([]), 'comma-separated bearer tokens for POST /api/metrics', '(unset: 401)'],
  METRICS_SCRAPE_TOKEN: [
    list.default([]),
    'comma-separated bearer tokens that may read GET /metrics (Prometheus) and nothing else; viewers may read it too',
    '(unset: viewers only)',
  ],
} as const

export type ConfigVar = keyof typeof vars
export const CONFIG_DOCS = Object.entries(vars).map(([name, [, accepts, def]]) => ({
  name,
  accepts,
  default: def,
}))

const schema = z.object(
  Object.fromEntries(Object.entries(vars).map(([k, [s]]) => [k, s])) as {
    [K in ConfigVar]: (typeof vars)[K][0]
  }
)

export type Config = z.infer<typeof schema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Entry = readonly [schema: z.ZodType, accepts: string, shown: string]

/** The variables and their schema; another provider list's secrets replace the registry's (a test's throwaway provider). */
function forProviders(providers: readonly Provider[]) {
  if (providers === PROVIDERS) return { known: vars as Readonly<Record<string, Entry>>, parser: schema }
  const registrySecrets = new Set(Object.keys(secretVars(PROVIDERS)))
  const others = Object.entries(vars).filter(([k]) => !registrySecrets.has(k))
  const secrets = secretVars(providers)
  const clash = others.find(([k]) => Object.hasOwn(secrets, k))
  if (clash) throw new ConfigError(`${clash[0]} is declared by a CI provider and by config.ts`)
  const known: Record<string, Entry> = { ...Object.fromEntries(others), ...secrets }
  // A Config: every other variable as in `vars`, and each secret a list like the registry's (hooks.ts reads them by name).
  const parser = z.object(
    Object.fromEntries(Object.entries(known).map(([k, [s]]) => [k, s]))
  ) as z.ZodType as typeof schema
  return { known, parser }
}

/**
 * Parses the environment; throws a ConfigError with one line naming the variable and what it accepts.
 * `providers`: whose secret variables are read; the registry's unless a test serves its own list.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  providers: readonly Provider[] = PROVIDERS
): Config {
  const { known, parser } = forProviders(providers)
  const input: Record<string, string> = {}
  for (const k of Object.keys(known)) {
    const v = env[k]
    // An empty variable means "unset", as in most shells' `FOO= cmd` usage.
    if (v !== undefined && v !== '') input[k] = v
  }
  const r = parser.safeParse(input)
  if (r.success) return checkTogether(r.data)
  const issue = r.error.issues[0]!
  const name = String(issue.path[0])
  const shown = JSON.stringify(input[name] ?? '')
  throw new ConfigError(`Invalid ${name}=${shown}: expected ${known[name]![1]}`)
}

/** Rules between variables, each broken one named in one line like any bad value. */
function checkTogether(c: Config): Config {
  const unknownSite = c.SITE_DEPLOYS.find((d) => !c.SITES.includes(d.site))
  if (unknownSite)
    throw new ConfigError(
      `Invalid SITE_DEPLOYS: ${unknownSite.site} is not in SITES (${c.SITES.join(', ') || 'empty'})`
    )
  // One without the other would split the cluster's truth: instances sharing a database but each with
  // its own live stream (or the reverse) would show different screens.
  if (!!c.DATABASE_URL !== !!c.LIVE_BUS_URL)
    throw new ConfigError(
      `${c.DATABASE_URL ? 'DATABASE_URL' : 'LIVE_BUS_URL'} is set: set ${c.DATABASE_URL ? 'LIVE_BUS_URL' : 'DATABASE_URL'} too (several instances share both the store and the live stream)`
    )
  if (c.OIDC_ISSUER) {
    if (!c.OIDC_CLIENT_ID || !c.OIDC_CLIENT_SECRET)
      throw new ConfigError('OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too')
    // An issuer like Google lets anyone with an account sign in: say who may.
    if (!c.OIDC_ALLOWED_DOMAINS.length && !c.OIDC_VIEWER_GROUPS.length && !c.OIDC_ADMIN_GROUPS.length)
      throw new ConfigError(
        'OIDC_ISSUER is set: say who may sign in with OIDC_ALLOWED_DOMAINS and/or OIDC_VIEWER_GROUPS / OIDC_ADMIN_GROUPS'
      )
    const u = new URL(c.OIDC_ISSUER)
    if (u.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
      throw new ConfigError(
        `Invalid OIDC_ISSUER=${JSON.stringify(c.OIDC_ISSUER)}: expected https (http only on loopback)`
      )
  }
  return c
}

/** Test and tool helper: the defaults with a few overrides, parsed the same way as at start-up. */
export function configFrom(overrides: Partial<Record<ConfigVar, string>> = {}): Config {
  return loadConfig(overrides)
}
