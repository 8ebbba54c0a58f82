import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Column, getTableColumns, getTableName, is, type SQL, Table } from 'drizzle-orm'
import {
  bigint,
  doublePrecision,
  getTableConfig as pgConfig,
  index as pgIndex,
  PgDialect,
  PgTable,
  pgTable,
  text as pgText,
} from 'drizzle-orm/pg-core'
import {
  integer,
  getTableConfig as sqliteConfig,
  index,
  real,
  type SQLiteTable,
  SQLiteSyncDialect,
  sqliteTable,
  text,
} from 'drizzle-orm/sqlite-core'
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api'
import { describe, expect, it } from 'vitest'
import * as sqliteSchema from '../schema.ts'
import { PG_MIGRATIONS_DIR } from './client.ts'
import { bytea } from './derive.ts'
import * as pgSchema from './schema.ts'

/** A column's type as both dialects must agree on it; a SQLite type with no entry here fails the test. */
const FAMILY: Record<string, string> = {
  SQLiteText: 'text',
  SQLiteInteger: 'integer',
  SQLiteReal: 'float',
  SQLiteBlobBuffer: 'bytes',
  PgText: 'text',
  PgBigInt53: 'integer',
  PgDoublePrecision: 'float',
  'PgCustomColumn:bytea': 'bytes',
}

function family(c: Column): string {
  const key = c.columnType === 'PgCustomColumn' ? `${c.columnType}:${c.getSQLType()}` : c.columnType
  return FAMILY[key] ?? `unmapped ${key}`
}

/**
 * An integer primary key without AUTOINCREMENT is SQLite's rowid, which drizzle marks as having a
 * default (the engine numbers it when omitted). The PostgreSQL form has none: these keys are values
 * the app always gives (derive.ts), so the parity compares them as having no default.
 */
function rowidAlias(c: Column): boolean {
  return c.columnType === 'SQLiteInteger' && c.primary && !(c as unknown as { autoIncrement: boolean }).autoIncrement
}

const sqliteSql = new SQLiteSyncDialect()
const pgSql = new PgDialect()

/** Everything the two dialects must state alike about a table, in one comparable shape. */
function describeTable(table: SQLiteTable | PgTable) {
  const isPg = is(table, PgTable)
  const cfg = isPg ? pgConfig(table) : sqliteConfig(table as SQLiteTable)
  const render = (s: SQL | undefined) => (s === undefined ? null : (isPg ? pgSql : sqliteSql).sqlToQuery(s).sql)
  const keyOf = Object.fromEntries(Object.entries(getTableColumns(table)).map(([k, c]) => [c.name, k]))
  return {
    name: cfg.name,
    columns: Object.entries(getTableColumns(table)).map(([key, c]) => ({
      key,
      name: c.name,
      family: family(c),
      notNull: c.notNull,
      primary: c.primary,
      hasDefault: c.hasDefault && !rowidAlias(c),
      default: c.default ?? null,
      enum: c.enumValues ?? null,
    })),
    primaryKey: cfg.primaryKeys.map((pk) => ({ name: pk.getName(), columns: pk.columns.map((c) => c.name) })),
    indexes: cfg.indexes
      .map((i) => ({
        name: i.config.name,
        unique: i.config.unique,
        columns: (i.config.columns as Column[]).map((c) => keyOf[c.name]),
        where: render(i.config.where),
      }))
      .sort((a, b) => a.name!.localeCompare(b.name!)),
    foreignKeys: cfg.foreignKeys.map((fk) => {
      const r = fk.reference()
      return {
        name: fk.getName(),
        columns: r.columns.map((c) => c.name),
        to: r.foreignColumns.map((c) => `${getTableName(c.table)}.${c.name}`),
        onDelete: fk.onDelete ?? 'no action',
        onUpdate: fk.onUpdate ?? 'no action',
      }
    }),
  }
}

const tablesOf = (mod: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(mod).filter(([, v]) => is(v, Table))) as Record<string, Table>
const sqliteTables = tablesOf(sqliteSchema) as Record<string, SQLiteTable>
const pgTables = tablesOf(pgSchema) as Record<string, PgTable>

describe('the PostgreSQL schema', () => {
  it('has every table of server/db/schema.ts under the same export name, and no other', () => {
    expect(Object.keys(pgTables).sort()).toEqual(Object.keys(sqliteTables).sort())
    expect(Object.keys(pgTables)).toHaveLength(18)
  })

  it.each(Object.keys(sqliteTables))('states %s as SQLite does: columns, keys, indexes, foreign keys', (name) => {
    const pg = describeTable(pgTables[name]!)
    const lite = describeTable(sqliteTables[name]!)
    expect(pg.columns.map((c) => c.family)).not.toContain(expect.stringMatching(/^unmapped/))
    expect(pg).toEqual(lite)
  })

  it('gives no engine default to exactly the integer keys the app assigns (rowid aliases in SQLite)', () => {
    const aliases = Object.values(sqliteTables).flatMap((t) =>
      Object.values(getTableColumns(t))
        .filter(rowidAlias)
        .map((c) => `${getTableName(t)}.${c.name}`)
    )
    expect(aliases.sort()).toEqual(['events.id', 'raw_bodies.delivery_row_id', 'site_salts.day'])
  })

  it('keeps every integer a JS number, including the identity ids the engine assigns', () => {
    for (const t of Object.values(pgTables))
      for (const c of Object.values(getTableColumns(t)))
        if (c.columnType === 'PgBigInt53') expect(c.getSQLType(), `${c.name}`).toBe('bigint')
    expect(getTableColumns(pgSchema.deliveries).id.generatedIdentity?.type).toBe('byDefault')
    // Assigned by the hub from its high-water mark, never by the engine.
    expect(getTableColumns(pgSchema.events).id.generatedIdentity).toBeUndefined()
  })

  it('has a generated migration for every change to the schema (else: npm run db:generate:pg)', async () => {
    const snapshots = readdirSync(join(PG_MIGRATIONS_DIR, 'meta'))
      .filter((f) => f.endsWith('_snapshot.json'))
      .sort()
    const last = JSON.parse(readFileSync(join(PG_MIGRATIONS_DIR, 'meta', snapshots.at(-1)!), 'utf8'))
    const now = generateDrizzleJson(pgSchema, last.id)
    expect(await generateMigration(last, now)).toEqual([])
  })
})

describe('the parity check itself', () => {
  // Two hand-written sides, so the comparison is shown to see a difference, not just to pass.
  const lite = sqliteTable('t', { id: integer('id').primaryKey(), at: integer('at').notNull(), v: real('v') }, (t) => [
    index('t_at_idx').on(t.at),
  ])
  const same = pgTable(
    't',
    {
      id: bigint('id', { mode: 'number' }).primaryKey(),
      at: bigint('at', { mode: 'number' }).notNull(),
      v: doublePrecision('v'),
    },
    (t) => [pgIndex('t_at_idx').on(t.at)]
  )

  it('finds a hand-written mirror equal', () => {
    expect(describeTable(same)).toEqual(describeTable(lite))
  })

  it('fails when a column exists on one side only', () => {
    const extra = pgTable(
      't',
      {
        id: bigint('id', { mode: 'number' }).primaryKey(),
        at: bigint('at', { mode: 'number' }).notNull(),
        v: doublePrecision('v'),
        note: pgText('note'),
      },
      (t) => [pgIndex('t_at_idx').on(t.at)]
    )
    expect(describeTable(extra)).not.toEqual(describeTable(lite))
    const liteExtra = sqliteTable(
      't',
      { id: integer('id').primaryKey(), at: integer('at').notNull(), v: real('v'), note: text('note') },
      (t) => [index('t_at_idx').on(t.at)]
    )
    expect(describeTable(same)).not.toEqual(describeTable(liteExtra))
  })

  it('fails on a different nullability, type family, index or index predicate', () => {
    const nullable = pgTable(
      't',
      {
        id: bigint('id', { mode: 'number' }).primaryKey(),
        at: bigint('at', { mode: 'number' }),
        v: doublePrecision('v'),
      },
      (t) => [pgIndex('t_at_idx').on(t.at)]
    )
    const textual = pgTable(
      't',
      {
        id: bigint('id', { mode: 'number' }).primaryKey(),
        at: bigint('at', { mode: 'number' }).notNull(),
        v: bytea('v'),
      },
      (t) => [pgIndex('t_at_idx').on(t.at)]
    )
    const noIndex = pgTable('t', {
      id: bigint('id', { mode: 'number' }).primaryKey(),
      at: bigint('at', { mode: 'number' }).notNull(),
      v: doublePrecision('v'),
    })
    for (const other of [nullable, textual, noIndex]) expect(describeTable(other)).not.toEqual(describeTable(lite))
  })
})

/** True when A and B are the same type (checked by `npm run typecheck`, not at run time). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
type RowsAlike = {
  [K in keyof typeof sqliteSchema as (typeof sqliteSchema)[K] extends SQLiteTable
    ? K
    : never]: K extends keyof typeof pgSchema
    ? Same<(typeof pgSchema)[K]['$inferSelect'], (typeof sqliteSchema)[K]['$inferSelect']> extends true
      ? Same<(typeof pgSchema)[K]['$inferInsert'], (typeof sqliteSchema)[K]['$inferInsert']>
      : false
    : false
}

describe('the derived types', () => {
  it("are drizzle's inferred row and insert types of the SQLite tables, table by table", () => {
    const alike: { [K in keyof RowsAlike]: true } = {} as RowsAlike
    expect(alike).toBeDefined()
    // And they tell tables apart (the check above is not vacuous).
    const differs: Same<typeof pgSchema.builds.$inferSelect, typeof sqliteSchema.jobs.$inferSelect> = false
    expect(differs).toBe(false)
  })
})
