/**
 * @module A cluster for one test file: a fresh PostgreSQL database and a JetStream stream name of its
 * own, as the environment every member is started with (DATABASE_URL, LIVE_BUS_URL,
 * LIVE_STREAM_NAME); `drop()` deletes both. Members are ordinary test servers (harness.ts) or
 * processes (cluster-node.ts) given this environment.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { ConfigVar } from '../config.ts'
import { freshDatabase, NATS_URL, uniqueName } from './services.ts'

export interface TestCluster {
  env: Partial<Record<ConfigVar, string>>
  databaseUrl: string
  stream: string
  drop(): Promise<void>
}

export async function testCluster(): Promise<TestCluster> {
  const db = await freshDatabase()
  const stream = uniqueName('radiator_t')
  return {
    env: { DATABASE_URL: db.url, LIVE_BUS_URL: NATS_URL, LIVE_STREAM_NAME: stream },
    databaseUrl: db.url,
    stream,
    async drop() {
      const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') })
      try {
        const jsm = await jetstreamManager(nc)
        await jsm.streams.delete(stream).catch(() => {})
      } finally {
        await nc.close()
      }
      await db.drop()
    },
  }
}
