/**
 * @module The long-polling transport: each answer is one JSON object `{"events":[…]}` — the snapshot
 * when asked for, one page of replay, or the events of the first turn that has any, held until then
 * or LIVE_POLL_TIMEOUT_MS. The client asks again at once from the last id it got.
 */
import type { ClientMeta, LiveClient } from './clients.ts'
import type { Frame } from './frame.ts'
import { DEFLATE_MIN_BYTES, gzipAround } from './deflate.ts'
import type { Hub } from './hub.ts'
import { REPLAY_PAGE_EVENTS, type ReplayPage } from './replay.ts'
import type { Topics } from './topics.ts'

export interface PollRequest {
  /** The resume point (`since` or Last-Event-ID), null for a fresh client. */
  since: number | null
  topics: Topics
  /** `?snapshot=1`: the page asks for a snapshot before its replay. */
  wantsSnapshot: boolean
  principal: string | null
  meta: ClientMeta
  timeoutMs: number
  /**
   * Calls `f` when the client goes away (ends its held poll); returns what stops listening. Routes
   * listen on the socket's close rather than the request's AbortSignal, which the adapter creates
   * on first read: a held poll then carries no AbortController of its own.
   */
  whenGone(f: () => void): () => void
  /** The client takes a gzipped answer (Accept-Encoding). */
  gzip: boolean
}

/** One poll's answer, for the transport to send with its headers (JSON_HEADERS, and gzip's). */
export interface PollAnswer {
  body: Uint8Array<ArrayBuffer>
  /** `body` is gzipped (content-encoding: gzip, vary: accept-encoding). */
  gzip: boolean
}

export async function answerPoll(hub: Hub, req: PollRequest): Promise<PollAnswer> {
  const { since, topics } = req
  // A screen between two polls may have been sent a control message (identify, reload, …).
  const held = hub.takeControls(req.principal)
  if (held.length) return answerOf(held)
  const behind = hub.reach(since)
  if (behind) await behind
  const conn = hub.open(since)
  const reset = conn.resumeAfter === null && since !== null
  const first = since === null || req.wantsSnapshot || reset ? [conn.snapshot] : []
  if (conn.resumeAfter === null) return answerOf(first, req.gzip)
  // One page per answer: the client asks again from the last id it got, at once.
  const page = await nextPage(hub, conn.resumeAfter, topics)
  if (page === null) return answerOf([hub.open(null).snapshot], req.gzip)
  if (first.length + page.frames.length > 0) return answerOf([...first, ...page.frames], req.gzip)
  // From here to subscribing is one synchronous run, so nothing published after the last look
  // can be missed: first anything that came while nextPage awaited, else wait for the next.
  const tail = hub.replaySince(page.through, topics)
  if (tail === null) return answerOf([hub.open(null).snapshot], req.gzip)
  if (tail.length) return answerOf(tail.slice(0, REPLAY_PAGE_EVENTS))
  return answerOf(await waitForFrames(hub, req))
}

/**
 * The first page after `since` that has frames for these topics, or an empty page through the head
 * when there are none; null when `since` can no longer be resumed from. Each SQLite page read is a
 * turn of its own.
 */
async function nextPage(hub: Hub, since: number, topics: Topics): Promise<ReplayPage | null> {
  let at = since
  while (at < hub.head) {
    let page = hub.replayPage(at, topics)
    if (page instanceof Promise) page = await page
    if (!page || page.frames.length) return page
    at = page.through
    await new Promise((r) => setImmediate(r))
  }
  return { frames: [], through: at }
}

/**
 * The frames' shared JSON strings joined: no re-serialization per poller. An answer of one frame —
 * what every poll held at the same point gets when a change comes — is encoded once and the same
 * bytes go to each of them. An answer that opens with a fresh snapshot is gzipped when the client
 * takes it (browsers do), the snapshot's shared state compressed once per head for every poller
 * (deflate.ts).
 */
function answerOf(frames: Frame[], gzip = false): PollAnswer {
  const first = frames[0]
  if (gzip && first?.sharedTail && first.json.length >= DEFLATE_MIN_BYTES) {
    const head = `{"events":[${first.json.slice(0, first.json.length - first.sharedTail.json.length)}`
    return { body: gzipAround(head, first.sharedTail, `${joinRest(frames)}]}`), gzip: true }
  }
  if (frames.length === 1) return { body: first!.encoded(oneFrameAnswer), gzip: false }
  return { body: Buffer.from(`{"events":[${first ? first.json : ''}${joinRest(frames)}]}`), gzip: false }
}

const joinRest = (frames: Frame[]) =>
  frames
    .slice(1)
    .map((f) => `,${f.json}`)
    .join('')

/** The answer that holds one frame, as bytes: made once per frame, shared by every poll it answers. */
const oneFrameAnswer = (frame: Frame): Uint8Array<ArrayBuffer> => Buffer.from(`{"events":[${frame.json}]}`)

/** Every poll answer's own headers; a gzipped one adds GZIP_HEADERS. */
export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
export const GZIP_HEADERS = { 'content-encoding': 'gzip', vary: 'accept-encoding' }

/** Whether an Accept-Encoding header takes gzip (named, or `*`, without q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false
  for (const part of header.toLowerCase().split(',')) {
    const [coding, ...params] = part.split(';').map((x) => x.trim())
    if (coding !== 'gzip' && coding !== '*') continue
    const q = params.find((p) => p.startsWith('q='))
    if (!q || Number(q.slice(2)) > 0) return true
  }
  return false
}

/** Holds a poll until an event arrives (plus the rest of that turn's events) or the timeout. */
function waitForFrames(hub: Hub, req: PollRequest): Promise<Frame[]> {
  return new Promise((resolve) => {
    const frames: Frame[] = []
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      hub.disconnect(client)
      stopListening()
      resolve(frames)
    }
    const client: LiveClient = {
      topics: req.topics,
      principal: req.principal,
      meta: req.meta,
      send(f) {
        frames.push(f)
        if (frames.length === 1) setImmediate(finish)
      },
      close: finish,
    }
    const timer = setTimeout(finish, req.timeoutMs)
    const stopListening = req.whenGone(finish)
    hub.subscribe(client)
  })
}
