/**
 * The PostgreSQL store's schema and its migrations. A node applies the
 * missing ones itself when it opens the store; several nodes starting at
 * once take turns on one advisory lock, so each migration runs once.
 *
 *   jobico_kv          k (the key's bytes, see _key_codec.ts), kind and
 *                      v / n (the value, see _value_codec.ts; kind 0 is a
 *                      row a commit holds for a key it locks and never
 *                      outlives that commit), vs (versionstamp), expires
 *                      (set with expireIn: the row is deleted some time
 *                      after, as Deno KV does)
 *   jobico_kv_vs       the versionstamps' sequence
 *   jobico_kv_watched  keys some node watches: commits that change one
 *                      tell the nodes (NOTIFY jobico_kv with the keys)
 *   jobico_kv_commit   one atomic operation, in one statement
 *   jobico_schema      the migrations applied
 */
import type { Sql } from "postgres";

/** The lock migrations are applied under ("jobico" in ASCII). */
const MIGRATION_LOCK = 0x6a6f6269636fn;

/** The channel commits notify watched keys' changes on. */
export const CHANNEL = "jobico_kv";

/**
 * The commit function. Keys to check or adjust (sum, min, max) are locked
 * first, in key order, a row held for those absent, so that a check also
 * holds for an absent key until the commit ends; only then is the
 * versionstamp taken, so a key's versionstamps only grow. Sets are upserts
 * that skip a row a later versionstamp has meanwhile reached; then the
 * commit takes a newer versionstamp and writes again (rare, and then every
 * row it writes is already its own).
 *
 * Returns the versionstamp, or null when a check failed (nothing written).
 * Raises JK001 when sum, min or max meets a value that is not a KvU64.
 */
const COMMIT_FUNCTION = `
create or replace function jobico_kv_commit(
  check_k bytea[], check_vs bigint[],
  adj_k bytea[], adj_op smallint[], adj_n numeric[],
  set_k bytea[], set_kind smallint[], set_v bytea[], set_n numeric[],
  set_exp bigint[], del_k bytea[]
) returns bigint language plpgsql as $$
declare
  lock_k bytea[];
  got bigint;
  stamp bigint;
  cur smallint;
  names constant text[] := array['sum', 'min', 'max'];
  touched text;
begin
  lock_k := array(select distinct x from unnest(check_k || adj_k) x order by x);
  if cardinality(lock_k) > 0 then
    loop
      insert into jobico_kv (k, kind, vs)
        select x, 0, 0 from unnest(lock_k) x order by x
        on conflict do nothing;
      select count(*) into got from (
        select 1 from jobico_kv where k = any(lock_k) order by k for update
      ) locked;
      exit when got = cardinality(lock_k);
    end loop;
    if exists (
      select 1 from unnest(check_k, check_vs) c(k, vs)
        join jobico_kv t on t.k = c.k
        where case when t.kind = 0 then null else t.vs end
          is distinct from c.vs
    ) then
      delete from jobico_kv where k = any(lock_k) and kind = 0;
      return null;
    end if;
  end if;
  stamp := nextval('jobico_kv_vs');
  for i in 1 .. coalesce(cardinality(adj_k), 0) loop
    select kind into cur from jobico_kv where k = adj_k[i];
    if cur <> 0 and cur <> 3 then
      raise exception using errcode = 'JK001', message =
        format('Failed to perform ''%s'' mutation on a non-U64 value in the database',
          names[adj_op[i]]);
    end if;
    update jobico_kv set kind = 3, v = null, vs = stamp, expires = null, n = case
        when cur = 0 then adj_n[i]
        when adj_op[i] = 1 then mod(n + adj_n[i], 18446744073709551616)
        when adj_op[i] = 2 then least(n, adj_n[i])
        else greatest(n, adj_n[i]) end
      where k = adj_k[i];
  end loop;
  if coalesce(cardinality(set_k), 0) > 0 then
    insert into jobico_kv (k, kind, v, n, vs, expires)
      select s.k, s.kind, s.v, s.n, stamp,
          clock_timestamp() + s.e * interval '1 millisecond'
        from unnest(set_k, set_kind, set_v, set_n, set_exp) s(k, kind, v, n, e)
      on conflict (k) do update
        set kind = excluded.kind, v = excluded.v, n = excluded.n,
          vs = excluded.vs, expires = excluded.expires
        where jobico_kv.vs < excluded.vs;
    get diagnostics got = row_count;
    if got < cardinality(set_k) then
      stamp := nextval('jobico_kv_vs');
      update jobico_kv set vs = stamp where k = any(adj_k);
      insert into jobico_kv (k, kind, v, n, vs, expires)
        select s.k, s.kind, s.v, s.n, stamp,
            clock_timestamp() + s.e * interval '1 millisecond'
          from unnest(set_k, set_kind, set_v, set_n, set_exp) s(k, kind, v, n, e)
        on conflict (k) do update
          set kind = excluded.kind, v = excluded.v, n = excluded.n,
            vs = excluded.vs, expires = excluded.expires;
    end if;
  end if;
  if coalesce(cardinality(del_k), 0) > 0 then
    delete from jobico_kv where k = any(del_k);
  end if;
  if cardinality(lock_k) > 0 then
    delete from jobico_kv where k = any(lock_k) and kind = 0;
  end if;
  select string_agg(encode(w.k, 'hex'), ',') into touched
    from jobico_kv_watched w
    where w.k = any(coalesce(set_k, '{}') || coalesce(del_k, '{}') || coalesce(adj_k, '{}'));
  if touched is not null then
    perform pg_notify('${CHANNEL}', case when length(touched) > 7000 then '*' else touched end);
  end if;
  return stamp;
end
$$;
`;

/** The migrations, in order; a migration's number is its index plus 1. */
export const MIGRATIONS: readonly string[] = [
  `
  create table jobico_kv (
    k bytea primary key,
    kind smallint not null,
    v bytea,
    n numeric(20, 0),
    vs bigint not null,
    expires timestamptz
  ) with (fillfactor = 80);
  create index jobico_kv_expires on jobico_kv (expires) where expires is not null;
  create sequence jobico_kv_vs;
  create table jobico_kv_watched (k bytea primary key);
  ${COMMIT_FUNCTION}
  `,
];

/**
 * Applies the migrations this database lacks; returns how many it applied.
 * Nodes starting at once wait for each other on an advisory lock.
 */
export async function migrate(sql: Sql): Promise<number> {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await tx.unsafe(`
      create table if not exists jobico_schema (
        version int primary key,
        applied_at timestamptz not null default now()
      )`);
    const [{ version }] = await tx<{ version: number }[]>`
      select coalesce(max(version), 0)::int as version from jobico_schema`;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `The database's schema is version ${version}, newer than this node's ${MIGRATIONS.length}: upgrade this node`,
      );
    }
    for (let v = version + 1; v <= MIGRATIONS.length; v++) {
      await tx.unsafe(MIGRATIONS[v - 1]);
      await tx`insert into jobico_schema (version) values (${v})`;
    }
    return MIGRATIONS.length - version;
  });
}
