/** @module Lengths of time in ms, stated once for the server (UTC days: no daylight saving). */
export const MINUTE_MS = 60_000
export const HOUR_MS = 60 * MINUTE_MS
export const DAY_MS = 24 * HOUR_MS

/** Start of the UTC day `t` falls in. */
export const utcDay = (t: number) => Math.floor(t / DAY_MS) * DAY_MS
