/**
 * @module The live stream's wire: every event type with its payload, the snapshot that opens a
 * connection, and the frames outside the stream (heartbeat, control). One discriminated union, so the
 * server's `publish` is typed by event type and the dashboard's handling is exhaustive: a new event
 * type fails the type-check until the web handles it.
 */
import { z } from 'zod'
import { type ControlMessage, controlMessage } from './access.ts'
import { buildSchema, pipelineTileSchema, TRANSITIONS } from './builds.ts'
import { customMetricPoint, siteEntry, summarySchema, visitorsEvent } from './metrics.ts'

export { TRANSPORTS, type Transport } from './vocabularies.ts'

/**
 * A build changed. One message per change: `build.finished` alone when it reached a final state,
 * else `build.updated`; both carry the tile the board paints (which embeds the build as latest or
 * running) and the build itself.
 */
export const buildUpdatedData = z.object({ build: buildSchema, pipeline: pipelineTileSchema })
export const buildFinishedData = buildUpdatedData.extend({ transition: z.enum(TRANSITIONS) })
export type BuildUpdatedData = z.infer<typeof buildUpdatedData>
export type BuildFinishedData = z.infer<typeof buildFinishedData>

/** Every event that carries an id: persisted ones (builds) and transient latest-per-key values. */
export const EVENT_DATA = {
  'build.updated': buildUpdatedData,
  'build.finished': buildFinishedData,
  visitors: visitorsEvent,
  vitals: summarySchema,
  metric: customMetricPoint,
} as const
export type EventType = keyof typeof EVENT_DATA
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[]

/** The first frame of every connection: the connection's facts and, unless resuming, the state. */
export const snapshotData = z.object({
  version: z.string(),
  serverTime: z.string(),
  /** The id of the newest event sent: the resume point this snapshot stands for. */
  head: z.number().int(),
  /** The client's resume point could not be served (trimmed, or never issued): state replaced. */
  reset: z.boolean(),
  /** The client resumes: no state follows, the replay does. */
  resumed: z.boolean(),
  heartbeatMs: z.number().int(),
  pollTimeoutMs: z.number().int(),
  /** Present when the CI capability runs (absent when resumed). */
  pipelines: z.array(pipelineTileSchema).optional(),
  /** Present when the site-metrics capability runs (absent when resumed). */
  sites: z.array(siteEntry).optional(),
  /** The latest point of every custom metric, by name. */
  metrics: z.record(z.string(), customMetricPoint).optional(),
})
export type SnapshotData = z.infer<typeof snapshotData>
/** The state a capability contributes to the snapshot, by name. */
export type SnapshotState = Pick<SnapshotData, 'pipelines' | 'sites' | 'metrics'>

const envelope = { id: z.number().int().nonnegative(), at: z.string() }
const eventSchemas = (Object.keys(EVENT_DATA) as EventType[]).map((type) =>
  z.object({ ...envelope, type: z.literal(type), data: EVENT_DATA[type] })
)

/** A message on the stream, as every transport delivers it (one JSON object). */
export const liveMessage = z.discriminatedUnion('type', [
  z.object({ ...envelope, type: z.literal('snapshot'), data: snapshotData }),
  ...(eventSchemas as [(typeof eventSchemas)[number], ...(typeof eventSchemas)[number][]]),
  /** Keep-alive: no id, no data. */
  z.object({ type: z.literal('heartbeat'), at: z.string() }),
  /** For this screen alone (an admin's identify, reload, show): no id, outside the stream. */
  z.object({ type: z.literal('control'), at: z.string(), data: controlMessage }),
])

/** An event with an id, typed by its type: what `onEvent` receives, narrowed with `switch (ev.type)`. */
export type LiveEvent = { [T in EventType]: { id: number; type: T; at: string; data: EventData<T> } }[EventType]
export type SnapshotEvent = { id: number; type: 'snapshot'; at: string; data: SnapshotData }
export type StreamEvent = SnapshotEvent | LiveEvent
export type HeartbeatMessage = { type: 'heartbeat'; at: string }
export type ControlFrameMessage = { type: 'control'; at: string; data: ControlMessage }
/** Everything a transport delivers (the union `liveMessage` parses, with each type tied to its data). */
export type LiveMessage = StreamEvent | HeartbeatMessage | ControlFrameMessage
