/**
 * `npm run bench`: every benchmark, each reported against a baseline measured in the same run on
 * the same machine. Parts: `npm run bench:writer`, `npm run bench:collect [throughput|summary]`.
 */
import { benchCollect, benchSummary } from './collect.ts'
import { benchWriter } from './writer.ts'

console.log(await benchWriter())
console.log(await benchCollect())
console.log(await benchSummary())
