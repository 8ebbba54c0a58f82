/**
 * @module Site metrics as they cross a boundary: what the beacon sends, what teams push, and the
 * answers and live payloads the dashboard reads. zod schemas that are also the types (the snippet and
 * the web import them type-only); the database schema takes its enums from here. Every string and
 * number that arrives is bounded.
 */
import { z } from 'zod'
import {
  DEVICES,
  DROP_REASONS,
  type DropReason,
  HIT_KINDS,
  NAVIGATION_TYPES,
  type Rating,
  RATINGS,
  VITAL_NAMES,
  type VitalName,
  WINDOWS,
} from './vocabularies.ts'

export {
  DEVICES,
  type Device,
  HIT_KINDS,
  type HitKind,
  LIVE_WINDOW,
  NAVIGATION_TYPES,
  type Rating,
  RATINGS,
  type SummaryWindow,
  VITAL_NAMES,
  type VitalName,
  WINDOWS,
} from './vocabularies.ts'

/**
 * The metrics web-vitals may report again under the same id (each time the page is hidden after
 * the value grew). LCP, FCP and TTFB are reported once per id (`report(true)`; a bfcache restore
 * makes a new id), so only these two are ever looked up for replacement, and only these two are
 * indexed by id: ids arrive in random order, so every lookup and every index entry lands on a page
 * of its own, and those were the largest cost of a vitals flush.
 */
export const REPORTED_AGAIN: readonly VitalName[] = ['CLS', 'INP']
export const reportedAgain = (name: VitalName) => REPORTED_AGAIN.includes(name)

/** web-vitals' thresholds: good ≤ [0], needs improvement ≤ [1], poor above. */
export const THRESHOLDS: Record<VitalName, readonly [number, number]> = {
  LCP: [2500, 4000],
  INP: [200, 500],
  CLS: [0.1, 0.25],
  FCP: [1800, 3000],
  TTFB: [800, 1800],
}

/** Sanity caps (Umami uses 60 s for timings): anything above is a broken client, not a slow page. */
const MAX_VALUE: Record<VitalName, number> = { LCP: 60_000, INP: 60_000, CLS: 100, FCP: 60_000, TTFB: 60_000 }

export function rate(name: VitalName, value: number): Rating {
  const [good, ni] = THRESHOLDS[name]
  return value <= good ? 'good' : value <= ni ? 'needs-improvement' : 'poor'
}

/** A page path as sent (location.pathname); the query string and fragment are never kept. */
const path = z
  .string()
  .min(1)
  .max(1024)
  .transform((p) => {
    const q = p.indexOf('?')
    const h = p.indexOf('#')
    const end = q < 0 ? h : h < 0 ? q : Math.min(q, h)
    return (end < 0 ? p : p.slice(0, end)).slice(0, 512) || '/'
  })

const vital = z
  .object({
    type: z.literal('vital'),
    path,
    name: z.enum(VITAL_NAMES),
    value: z.number().min(0),
    /** web-vitals' metric id: a later report with the same id replaces the earlier one. */
    id: z.string().min(1).max(100),
    nav: z.enum(NAVIGATION_TYPES).optional(),
  })
  .refine((v) => v.value <= MAX_VALUE[v.name], { message: 'value out of range for its metric', path: ['value'] })

export const beaconEvent = z.discriminatedUnion('type', [z.object({ type: z.enum(HIT_KINDS), path }), vital])
export type BeaconEvent = z.input<typeof beaconEvent>
export type CollectEvent = z.output<typeof beaconEvent>

export const collectBody = z.object({
  site: z.string().min(1).max(253),
  /** The viewport width in CSS pixels: the device class is derived from it. */
  width: z.number().int().min(0).max(100_000).optional(),
  events: z.array(beaconEvent).min(1).max(50),
})
export type CollectBody = z.output<typeof collectBody>

// ---------------------------------------------------------------------------------------------
// Custom metrics (POST /api/metrics)

const printable = /^[^\u0000-\u001f\u007f]+$/u

export const customMetric = z.object({
  name: z.string().min(1).max(100).regex(printable, 'must be printable text'),
  value: z.number().min(-1e15).max(1e15),
  unit: z.string().min(1).max(32).regex(printable, 'must be printable text').optional(),
  tags: z
    .record(z.string().min(1).max(64), z.string().max(256))
    .refine((t) => Object.keys(t).length <= 20, 'at most 20 tags')
    .optional(),
  /**
   * Optional thresholds that colour the value on the wall: past `warn` amber, past `crit` red.
   * `warn` above `crit` means lower is worse (free disk, success rate).
   */
  warn: z.number().min(-1e15).max(1e15).optional(),
  crit: z.number().min(-1e15).max(1e15).optional(),
})
export const customMetricsBody = z.union([customMetric, z.array(customMetric).min(1).max(100)])
export type CustomMetricInput = z.output<typeof customMetric>

/** A custom metric's latest point: the `metric` live event, the snapshot's `metrics`, the API's series. */
export const customMetricPoint = z.object({
  name: z.string(),
  value: z.number(),
  unit: z.string().nullable(),
  tags: z.record(z.string(), z.string()).nullable(),
  at: z.string(),
  /** Present only when the latest push gave them (kept in memory, not stored with the series). */
  warn: z.number().optional(),
  crit: z.number().optional(),
})
export type CustomMetricPoint = z.infer<typeof customMetricPoint>

// ---------------------------------------------------------------------------------------------
// Answers (GET /api/sites/:site/summary, the `vitals` event, the snapshot's `sites`)

const vitalSummary = z.object({
  p50: z.number().nullable(),
  p75: z.number().nullable(),
  p95: z.number().nullable(),
  /** The rating of p75 (null without samples). */
  rating: z.enum(RATINGS).nullable(),
  /** Fractions 0–1 of samples rated good / needs improvement / poor. */
  shares: z.object({ good: z.number(), ni: z.number(), poor: z.number() }),
  samples: z.number().int(),
})
export type VitalSummary = z.infer<typeof vitalSummary>

function vitalFields<T extends z.ZodType>(t: T) {
  return Object.fromEntries(VITAL_NAMES.map((n) => [n, t])) as Record<VitalName, T>
}

const visitorCounts = z.object({ live: z.number().int(), last5m: z.number().int() })

/** The `visitors` live event: who is on a site now and in the last five minutes. */
export const visitorsEvent = visitorCounts.extend({ site: z.string() })
export type VisitorsEvent = z.infer<typeof visitorsEvent>
const pageP75 = z.object({ path: z.string(), p75: z.number(), samples: z.number().int() })

export const summarySchema = z.object({
  site: z.string(),
  window: z.enum(WINDOWS),
  device: z.enum([...DEVICES, 'all']),
  /** Start of the window (ISO): whole periods ending with the current one. */
  from: z.string(),
  visitors: visitorCounts,
  pageviews: z.number().int(),
  vitals: z.object(vitalFields(vitalSummary)),
  topPages: z.object({
    byViews: z.array(z.object({ path: z.string(), views: z.number().int() })),
    byLcp: z.array(pageP75),
    byInp: z.array(pageP75),
  }),
  /** Per minute, the last 60 minutes, oldest first; `t` is the minute's start (ISO). */
  series: z.array(z.object({ t: z.string(), visitors: z.number().int(), pageviews: z.number().int() })),
  /**
   * p75 of each vital per period of the window (minutes for 5m/1h, hours for 24h, days for 7d/28d),
   * oldest first, every period present (null without samples): the vitals charts with deploys.
   */
  trend: z.array(z.object({ t: z.string(), ...vitalFields(z.number().nullable()) })),
})
export type Summary = z.infer<typeof summarySchema>

export const siteEntry = z.object({
  site: z.string(),
  live: z.number().int(),
  last5m: z.number().int(),
  /** The pipelines whose successful builds are this site's deploys (SITE_DEPLOYS; branch null: the default). */
  deploys: z.array(z.object({ project: z.string(), pipeline: z.string().nullable(), branch: z.string().nullable() })),
  /** The 24h summary over all devices, as last pushed (null until one could be made). */
  summary: summarySchema.nullable(),
})
export type SiteEntry = z.infer<typeof siteEntry>

/** Beacons accepted and dropped per reason since start. */
export const ingestStats = z.object({
  accepted: z.number().int(),
  dropped: z.object(
    Object.fromEntries(DROP_REASONS.map((r) => [r, z.number().int()])) as Record<DropReason, z.ZodNumber>
  ),
})
export type IngestStats = z.infer<typeof ingestStats>

/** GET /api/sites: every configured site with who is on it, and the collector's counts. */
export const sitesAnswer = z.object({
  sites: z.array(visitorsEvent),
  collect: ingestStats,
})
export type SitesAnswer = z.infer<typeof sitesAnswer>
