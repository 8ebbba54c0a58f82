/**
 * @module One message as the hub hands it to clients: serialized once, and encoded once per transport
 * (sse.ts, ws.ts, poll.ts frame it), so every client of a transport gets the same bytes.
 */

/**
 * An event with an id as the hub carries it. `type` is any string here: contract/live.ts types what
 * the product publishes (`hub.publish`/`hub.persist` take its `EventType`).
 */
export interface LiveEvent<D = unknown> {
  id: number
  type: string
  at: string
  data: D
}

/** Builds a transport's encoding of a frame; the function itself is the cache key. */
export type Encoding<T> = (frame: Frame) => T

/** An event of the stream serialized once; every client gets the same string / bytes. */
export class Frame {
  readonly json: string
  private utf8Bytes: Buffer | undefined
  private encodings: Map<Encoding<unknown>, unknown> | undefined
  /** `json` when the caller already has the serialized form (a stored row, a cached snapshot). */
  constructor(
    readonly event: LiveEvent,
    json?: string
  ) {
    this.json = json ?? JSON.stringify(event)
  }

  /** False for messages outside the event stream (control, heartbeat): they carry no id on the wire. */
  get inStream(): boolean {
    return true
  }

  /**
   * `json` encoded once, for every client: sending the string made `ws` encode it again per client
   * (writeUtf8String was 5.4 % of the fan-out profile at 5,000 clients).
   */
  get utf8(): Buffer {
    return (this.utf8Bytes ??= Buffer.from(this.json))
  }

  /** UTF-8 length of `json`: what a page of replay and a client's send budget count. */
  get bytes(): number {
    return this.utf8.length
  }

  /** `encoding(this)`, made by the first client that needs it and shared by every other. */
  encoded<T>(encoding: Encoding<T>): T {
    const map = (this.encodings ??= new Map())
    let v = map.get(encoding) as T | undefined
    if (v === undefined) map.set(encoding, (v = encoding(this)))
    return v
  }
}

/**
 * A message for particular screens (identify, reload, show…), outside the event stream: no id, so
 * it never moves a client's resume point and is never replayed.
 */
export class ControlFrame extends Frame {
  constructor(at: string, data: Record<string, unknown>) {
    super({ id: 0, type: 'control', at, data }, JSON.stringify({ type: 'control', at, data }))
  }
  override get inStream(): boolean {
    return false
  }
}

/** Not an event of the stream (no id): tells clients and proxies the connection is alive. */
export class Heartbeat extends Frame {
  constructor(at: string) {
    super({ id: 0, type: 'heartbeat', at, data: undefined }, JSON.stringify({ type: 'heartbeat', at }))
  }
  override get inStream(): boolean {
    return false
  }
}
