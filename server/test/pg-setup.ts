/** Setup file of the PostgreSQL pass (vitest.config.ts): drops what servers closed without `destroy()` left behind. */
import { afterAll } from 'vitest'
import { dropTestClusters } from './harness.ts'

afterAll(dropTestClusters)
