/**
 * @module The whole database schema. Migrations in /migrations are generated from this file with
 * `npm run db:generate`; times are integer ms since the epoch (UTC) unless a name says otherwise.
 */
import { sql } from 'drizzle-orm'
import { sqliteTable, text, integer, index, primaryKey, blob, real, uniqueIndex } from 'drizzle-orm/sqlite-core'
import { REPORTED_AGAIN } from '../../contract/metrics.ts'
import {
  BUILD_STATUSES,
  DELIVERY_OUTCOMES,
  DEVICES,
  HIT_KINDS,
  RATINGS,
  ROLES,
  SESSION_KINDS,
  SESSION_ROLES,
  TOKEN_KINDS,
} from '../../contract/vocabularies.ts'

/** Small named values that must survive restarts (the event id high-water mark, trim marks). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

/**
 * Live events worth replaying after the fact (build events). Ids are assigned by the hub from a
 * persisted high-water mark, not by SQLite, so transient events share the same increasing sequence.
 */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey(),
    type: text('type').notNull(),
    at: integer('at').notNull(),
    data: text('data').notNull(),
  },
  (t) => [index('events_at_idx').on(t.at)]
)

// ---------------------------------------------------------------------------------------------
// CI builds (server/ci)

/** One tile: (provider, project, pipeline, branch), with what the board needs without a scan. */
export const pipelines = sqliteTable(
  'pipelines',
  {
    id: text('id').primaryKey(),
    provider: text('provider').notNull(),
    project: text('project').notNull(),
    pipeline: text('pipeline').notNull(),
    branch: text('branch').notNull(),
    latestBuildId: text('latest_build_id'),
    /** success | failure of the last build that finished either way (canceled/skipped don't count). */
    lastResult: text('last_result', { enum: ['success', 'failure'] }),
    lastSuccessAt: integer('last_success_at'),
    lastFailureAt: integer('last_failure_at'),
    brokenSince: integer('broken_since'),
    brokenBy: text('broken_by'),
    brokenBuildId: text('broken_build_id'),
    fixedBy: text('fixed_by'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('pipelines_project_idx').on(t.project, t.branch)]
)

/** The rows `builds_running_idx` holds; a query must repeat it for SQLite to use the index. */
export const BUILD_RUNNING = `status IN ('queued', 'running')`

export const builds = sqliteTable(
  'builds',
  {
    /** `<provider>:<externalId>`: stable across re-runs; an attempt is a new state of the same build. */
    id: text('id').primaryKey(),
    pipelineId: text('pipeline_id')
      .notNull()
      .references(() => pipelines.id),
    provider: text('provider').notNull(),
    externalId: text('external_id').notNull(),
    project: text('project').notNull(),
    pipeline: text('pipeline').notNull(),
    branch: text('branch').notNull(),
    tag: text('tag'),
    pullRequest: integer('pull_request'),
    number: integer('number'),
    attempt: integer('attempt').notNull(),
    status: text('status', { enum: BUILD_STATUSES }).notNull(),
    commitSha: text('commit_sha'),
    commitSubject: text('commit_subject'),
    commitAuthor: text('commit_author'),
    actor: text('actor'),
    url: text('url'),
    trigger: text('trigger'),
    queuedAt: integer('queued_at'),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    durationMs: integer('duration_ms'),
    /** The provider's time of the state we hold: later deliveries are ordered by it, not by arrival. */
    eventTime: integer('event_time'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    // Tile history, medians and success rates read the newest builds of one tile.
    index('builds_pipeline_created_idx').on(t.pipelineId, t.createdAt),
    // A tile's running build is looked up on every delivery and for every tile of a snapshot;
    // through the index above that walked the pipeline's whole history (getTile: 95 µs at 100
    // builds, 5.4 ms at 20,000), through this one it is 73 µs at 20,000 (bench/ingest profile).
    index('builds_running_idx').on(t.pipelineId, t.createdAt).where(sql.raw(BUILD_RUNNING)),
    // GET /api/builds lists newest first across everything.
    index('builds_updated_idx').on(t.updatedAt, t.id),
  ]
)

export const jobs = sqliteTable(
  'jobs',
  {
    buildId: text('build_id')
      .notNull()
      .references(() => builds.id, { onDelete: 'cascade' }),
    jobId: text('job_id').notNull(),
    name: text('name').notNull(),
    status: text('status', { enum: BUILD_STATUSES }).notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    url: text('url'),
  },
  (t) => [primaryKey({ columns: [t.buildId, t.jobId] })]
)

/**
 * Job events that came before their build (GitLab job hooks, GitHub workflow_job): kept by the
 * build's id and attached in the build's own transaction when it arrives; dropped after a day.
 * `key` tells one job state from another (attempt, job ids and statuses), so a retry replaces it.
 */
export const waitingJobs = sqliteTable(
  'waiting_jobs',
  {
    buildId: text('build_id').notNull(),
    key: text('key').notNull(),
    at: integer('at').notNull(),
    /** The normalized BuildUpdate, as JSON. */
    update: text('update').notNull(),
  },
  (t) => [primaryKey({ columns: [t.buildId, t.key] }), index('waiting_jobs_at_idx').on(t.at)]
)

/** Every delivery received, whatever became of it: the webhook log behind GET /api/deliveries. */
export const deliveries = sqliteTable(
  'deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    provider: text('provider').notNull(),
    event: text('event'),
    deliveryId: text('delivery_id'),
    receivedAt: integer('received_at').notNull(),
    outcome: text('outcome', { enum: DELIVERY_OUTCOMES }).notNull(),
    reason: text('reason'),
    size: integer('size').notNull(),
    buildId: text('build_id'),
  },
  (t) => [
    index('deliveries_received_idx').on(t.receivedAt),
    index('deliveries_provider_idx').on(t.provider, t.receivedAt),
  ]
)

/** Delivery ids already applied: inserted in the same transaction as the build, so a retry is a no-op. */
export const deliveryKeys = sqliteTable(
  'delivery_keys',
  {
    provider: text('provider').notNull(),
    deliveryId: text('delivery_id').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.deliveryId] }), index('delivery_keys_received_idx').on(t.receivedAt)]
)

/** Raw bodies of stored deliveries, kept RAW_RETENTION_DAYS so `npm run reprocess` can re-normalize. */
export const rawBodies = sqliteTable(
  'raw_bodies',
  {
    deliveryRowId: integer('delivery_row_id')
      .primaryKey()
      .references(() => deliveries.id, { onDelete: 'cascade' }),
    /** Non-secret headers only (event type, delivery id); signatures and tokens are never stored. */
    headers: text('headers').notNull(),
    body: blob('body', { mode: 'buffer' }).notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [index('raw_bodies_received_idx').on(t.receivedAt)]
)

// ---------------------------------------------------------------------------------------------
// Site metrics (server/metrics)

export const ROLLUP_GRANS = ['m', 'h', 'd'] as const

/** Sites accepted by /api/collect; `source = 'config'` rows follow SITES at every start. */
export const sites = sqliteTable('sites', {
  domain: text('domain').primaryKey(),
  source: text('source', { enum: ['config'] }).notNull(),
  createdAt: integer('created_at').notNull(),
})

/** Daily random salts for visitor ids; the previous day's is kept, older ones deleted (48 h). */
export const siteSalts = sqliteTable('site_salts', {
  /** Start of the UTC day the salt is for. */
  day: integer('day').primaryKey(),
  salt: blob('salt', { mode: 'buffer' }).notNull(),
})

/**
 * Page views, heartbeats and leaves, kept RAW_RETENTION_DAYS. `visitor` is the salted hash, never
 * an IP. AUTOINCREMENT because the rollup job reads by id watermark: ids must never be reused.
 */
export const siteHits = sqliteTable(
  'site_hits',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    site: text('site').notNull(),
    visitor: text('visitor').notNull(),
    kind: text('kind', { enum: HIT_KINDS }).notNull(),
    path: text('path').notNull(),
    device: text('device', { enum: DEVICES }).notNull(),
    at: integer('at').notNull(),
  },
  // Retention deletes by age and presence is rebuilt from the last hour at start.
  (t) => [index('site_hits_at_idx').on(t.at)]
)

/** The rows `site_samples_vid_idx` holds; a query must repeat it for SQLite to use the index. */
export const SAMPLE_ID_INDEXED = `metric IN (${REPORTED_AGAIN.map((m) => `'${m}'`).join(', ')})`

/** Raw Web Vitals samples, kept RAW_RETENTION_DAYS; the latest report per web-vitals id wins. */
export const siteSamples = sqliteTable(
  'site_samples',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    site: text('site').notNull(),
    path: text('path').notNull(),
    metric: text('metric').notNull(),
    value: real('value').notNull(),
    rating: text('rating', { enum: RATINGS }).notNull(),
    nav: text('nav'),
    device: text('device', { enum: DEVICES }).notNull(),
    /** web-vitals' metric id. */
    vid: text('vid').notNull(),
    /** The value the rollups counted for this id before it was replaced (null: none). */
    prev: real('prev'),
    at: integer('at').notNull(),
  },
  (t) => [
    index('site_samples_at_idx').on(t.at),
    // A repeated report (CLS, INP grow after the first flush) finds the row it replaces. Only the
    // metrics that are ever reported again are indexed (see REPORTED_AGAIN).
    index('site_samples_vid_idx').on(t.vid).where(sql.raw(SAMPLE_ID_INDEXED)),
  ]
)

/**
 * Minute, hour and day rollups of samples and page views, kept ROLLUP_RETENTION_DAYS. `path = '*'`
 * is the whole site; `metric = 'PV'` counts page views (no histogram). `hist` is the sparse
 * histogram of server/metrics/histogram.ts.
 */
export const siteRollups = sqliteTable(
  'site_rollups',
  {
    site: text('site').notNull(),
    gran: text('gran', { enum: ROLLUP_GRANS }).notNull(),
    period: integer('period').notNull(),
    path: text('path').notNull(),
    metric: text('metric').notNull(),
    device: text('device', { enum: DEVICES }).notNull(),
    n: integer('n').notNull(),
    good: integer('good').notNull(),
    ni: integer('ni').notNull(),
    poor: integer('poor').notNull(),
    hist: blob('hist', { mode: 'buffer' }),
  },
  // Period before path: a summary reads one period range of one site, every path at once.
  (t) => [primaryKey({ columns: [t.site, t.gran, t.period, t.path, t.metric, t.device] })]
)

/** Numbers teams push to the wall (POST /api/metrics), kept ROLLUP_RETENTION_DAYS. */
export const customMetrics = sqliteTable(
  'custom_metrics',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    value: real('value').notNull(),
    unit: text('unit'),
    /** JSON object of string tags, or null. */
    tags: text('tags'),
    at: integer('at').notNull(),
  },
  (t) => [index('custom_metrics_name_at_idx').on(t.name, t.at), index('custom_metrics_at_idx').on(t.at)]
)

// ---------------------------------------------------------------------------------------------
// Access (server/access): only hashes of tokens and session ids are stored, never the secrets.

/**
 * API tokens (named, with a role), one-time sign-in links (`kind = 'signin'`) and one-time screen
 * share links (`kind = 'screen-link'`: `name` and `view` are the screen's to be).
 */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: TOKEN_KINDS }).notNull(),
    name: text('name').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    hash: text('hash').notNull(),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    /** For a screen share link: what the screen will show. */
    view: text('view'),
    /** Sign-in links expire; API tokens live until revoked. */
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_idx').on(t.hash)]
)

/**
 * Signed-in browsers and paired screens behind the session cookie. A browser's session slides
 * while it is used; a screen's has no expiry (a wall TV signs in once), only revocation.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    hash: text('hash').notNull(),
    kind: text('kind', { enum: SESSION_KINDS }).notNull(),
    role: text('role', { enum: SESSION_ROLES }).notNull(),
    /** Who: an e-mail from SSO, "sign-in link", a token's name, a screen's name. */
    subject: text('subject').notNull(),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    userAgent: text('user_agent'),
    address: text('address'),
    /** The API token a browser signed in with: revoking the token ends these sessions too. */
    fromToken: text('from_token'),
  },
  (t) => [uniqueIndex('sessions_hash_idx').on(t.hash)]
)

/** Paired wall screens, one per screen session. What a screen shows is kept here, so it survives a power cut. */
export const screens = sqliteTable('screens', {
  id: text('id').primaryKey(),
  sessionId: text('session_id')
    .notNull()
    .references(() => sessions.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  /** The path and query the screen shows, e.g. `/tv?project=acme/shop`. */
  view: text('view').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})
