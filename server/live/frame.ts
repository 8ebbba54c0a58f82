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

/** A JSON text serialized once, with each transport's encoding of it made once and shared. */
export class Serialized {
  private utf8Bytes: Buffer | undefined
  private byteLength: number | undefined
  /** Each transport's encoding, keyed by the function that builds it. */
  private encodings: Map<(text: never) => unknown, unknown> | undefined
  constructor(readonly json: string) {}

  /** `json` encoded once, for every client that needs its bytes as they are. */
  get utf8(): Buffer {
    return (this.utf8Bytes ??= Buffer.from(this.json))
  }

  /** UTF-8 length of `json`: what a page of replay counts (without encoding it). */
  get bytes(): number {
    return (this.byteLength ??= this.utf8Bytes?.length ?? Buffer.byteLength(this.json))
  }

  /** `encoding(this)`, made by the first client that needs it and shared by every other. */
  encoded<T>(encoding: (text: this) => T): T {
    const map = (this.encodings ??= new Map())
    let v = map.get(encoding) as T | undefined
    if (v === undefined) map.set(encoding, (v = encoding(this)))
    return v
  }
}

/** An event of the stream serialized once; every client gets the same string / bytes. */
export class Frame extends Serialized {
  /**
   * `json` when the caller already has the serialized form (a stored row). `sharedTail`: the end of
   * `json`, when it is shared by many frames (a snapshot's state after its per-connection facts), so
   * a transport that compresses can compress it once for all of them.
   */
  constructor(
    readonly event: LiveEvent,
    json?: string,
    readonly sharedTail?: Serialized
  ) {
    super(json ?? JSON.stringify(event))
  }

  /** False for messages outside the event stream (control, heartbeat): they carry no id on the wire. */
  get inStream(): boolean {
    return true
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
