/**
 * @module The whole database schema. Migrations in /migrations are generated from this file with
 * `npm run db:generate`; times are integer ms since the epoch (UTC) unless a name says otherwise.
 */
import { sqliteTable, text, integer, index, primaryKey, blob } from 'drizzle-orm/sqlite-core'

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

export const BUILD_STATUS_VALUES = ['queued', 'running', 'success', 'failure', 'canceled', 'skipped'] as const
export const DELIVERY_OUTCOMES = ['stored', 'duplicate', 'ignored', 'ping', 'rejected', 'superseded'] as const

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
    status: text('status', { enum: BUILD_STATUS_VALUES }).notNull(),
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
    status: text('status', { enum: BUILD_STATUS_VALUES }).notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    url: text('url'),
  },
  (t) => [primaryKey({ columns: [t.buildId, t.jobId] })]
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
  (t) => [index('deliveries_received_idx').on(t.receivedAt), index('deliveries_provider_idx').on(t.provider, t.receivedAt)]
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
