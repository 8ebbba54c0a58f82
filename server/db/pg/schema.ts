/**
 * @module The PostgreSQL schema: every table of server/db/schema.ts in its PostgreSQL form (rules in
 * derive.ts), under the same export names, so a query built on `pgSchema.builds` means what the same
 * query on `schema.builds` means. Migrations in /migrations/pg are generated from this file with
 * `npm run db:generate:pg`. A table added to schema.ts needs its line here (schema.test.ts fails until
 * it has one); referenced tables come before the tables that reference them.
 */
import * as s from '../schema.ts'
import { pgMirror } from './derive.ts'

export const meta = pgMirror(s.meta)
export const events = pgMirror(s.events)

export const pipelines = pgMirror(s.pipelines)
export const builds = pgMirror(s.builds)
export const jobs = pgMirror(s.jobs)
export const waitingJobs = pgMirror(s.waitingJobs)
export const deliveries = pgMirror(s.deliveries)
export const deliveryKeys = pgMirror(s.deliveryKeys)
export const rawBodies = pgMirror(s.rawBodies)

export const sites = pgMirror(s.sites)
export const siteSalts = pgMirror(s.siteSalts)
export const siteHits = pgMirror(s.siteHits)
export const siteSamples = pgMirror(s.siteSamples)
export const siteRollups = pgMirror(s.siteRollups)
export const customMetrics = pgMirror(s.customMetrics)

export const apiTokens = pgMirror(s.apiTokens)
export const sessions = pgMirror(s.sessions)
export const screens = pgMirror(s.screens)
