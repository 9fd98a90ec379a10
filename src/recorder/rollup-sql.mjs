/**
 * The SQL that maintains aibridge_usage_rollups, shared by the Worker (the queue consumer's batch,
 * src/recorder/rollups.ts) and the rebuild CLI (scripts/rollups.mjs, which runs SQL through
 * `wrangler d1 execute` and cannot import TypeScript). Plain JavaScript for that reason; the types
 * are in rollup-sql.d.mts.
 *
 * Exactly-once under at-least-once, unordered delivery: a raw row adds to the rollups only while
 * its `rolled_up` flag is 0, and the statement that adds it and the one that sets the flag run in
 * the same D1 batch (one SQLite transaction; D1 has one writer, so two deliveries of the same
 * record are serialized and the second finds the flag set). A token-usage row needs its
 * interception's user, model and client: if its interception has not arrived yet, the row stays
 * at 0 and is folded in by the batch that brings the interception (that batch looks up pending
 * usage rows of every interception id it touches). The one key that can change after a fold, the
 * provider instance (a fallback answered), is handled by moving the interception in the batch that
 * brings the change (moveStatements).
 */

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

export const ROLLUPS = "aibridge_usage_rollups";

/**
 * Hourly rows are kept this many days (retention prunes older ones); usage ranges that start or
 * end before then resolve to whole days. 35 covers the first hour of the default 30-day range.
 */
export const HOURLY_ROLLUP_DAYS = 35;

/** The start of the UTC day from which hour rows exist. */
export function hourlySince(now) {
  return Math.floor((now - HOURLY_ROLLUP_DAYS * DAY_MS) / DAY_MS) * DAY_MS;
}

/**
 * The rollup buckets that answer a usage range [from, to): whole hours at the edges, whole days
 * in between. Answers resolve to the hour (the finest rollup), so `from` moves down and `to` up to
 * a whole hour; an edge older than the hour rows resolves to its whole UTC day.
 */
export function planBuckets(from, to, now) {
  const since = hourlySince(now);
  let start = floorTo(from, HOUR_MS);
  if (start < since) start = floorTo(start, DAY_MS);
  let end = ceilTo(to, HOUR_MS);
  if (end <= since) end = ceilTo(end, DAY_MS);
  const dayStart = ceilTo(start, DAY_MS);
  const dayEnd = floorTo(end, DAY_MS);
  if (dayStart >= dayEnd) {
    return { from: start, to: end, hoursBefore: [start, end], days: [0, 0], hoursAfter: [0, 0] };
  }
  return {
    from: start,
    to: end,
    hoursBefore: [start, dayStart],
    days: [dayStart, dayEnd],
    hoursAfter: [dayEnd, end],
  };
}

/**
 * The rollup rows of a plan, as a FROM source; binds ?1–?6 (planParams). Three range scans of the
 * primary key (span, bucket, …) glued with UNION ALL: written as one OR condition, SQLite scans
 * every hour row of the whole range instead (measured by bench/scale.mjs).
 */
export const PLAN_ROWS = `(select * from ${ROLLUPS} where span = 'hour' and bucket >= ?1 and bucket < ?2
  union all select * from ${ROLLUPS} where span = 'day' and bucket >= ?3 and bucket < ?4
  union all select * from ${ROLLUPS} where span = 'hour' and bucket >= ?5 and bucket < ?6)`;

export function planParams(plan) {
  return [...plan.hoursBefore, ...plan.days, ...plan.hoursAfter];
}

function floorTo(time, unit) {
  return Math.floor(time / unit) * unit;
}

function ceilTo(time, unit) {
  return Math.ceil(time / unit) * unit;
}

const KEY = "span, bucket, initiator_id, provider, model, client, instance";

/**
 * The instance key of an interception: the provider instance that answered (a fallback counts as
 * itself), else the one addressed, else the API family (rows from before instances existed). The
 * answering instance is known only from the end record, so the key of an interception folded at
 * its start can change once; moveStatements handles that.
 */
const INSTANCE = "coalesce(i.upstream_instance, i.instance, i.provider)";
/** The key an interception is counted under now; rows folded before the instance column existed sit under "". */
const COUNTED_INSTANCE = "coalesce(i.rollup_instance, '')";

/**
 * Both spans of every row: a day row always, an hour row when the interception started at or after
 * `hourlySince` (hourly rows are kept only for recent days; see retention).
 */
function spans(hourlySince) {
  return `(select 'day' as span, ${DAY_MS} as ms, 0 as since
           union all select 'hour', ${HOUR_MS}, ${hourlySince}) s`;
}

const USAGE_COLUMNS = `usages, priced_usages, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
  cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, cost_micros, estimated_usages,
  estimated_requests, usage_requests, last_seen`;

/** The additive usage aggregates, in USAGE_COLUMNS order (before the two per-request counts). */
const USAGE_SUMS = [
  "count(*)",
  "count(t.cost_micros)",
  "sum(t.input_tokens)",
  "sum(t.output_tokens)",
  "sum(t.cache_read_input_tokens)",
  "sum(t.cache_write_input_tokens)",
  "coalesce(sum(json_extract(t.extra_token_types, '$.cache_write_5m')), 0)",
  "coalesce(sum(json_extract(t.extra_token_types, '$.cache_write_1h')), 0)",
  "coalesce(sum(json_extract(t.extra_token_types, '$.reasoning')), 0)",
  "coalesce(sum(t.cost_micros), 0)",
  "coalesce(sum(t.estimated), 0)",
];

/**
 * Requests with at least one estimated usage row, and requests with any usage row, counted once per
 * interception even when its usage rows arrive in different batches: a pending row adds its
 * interception only if no such row of that interception was folded before (rolled_up = 1). The
 * rebuild recounts every row of its days (and a move takes out every folded row), so there a plain
 * distinct count is right.
 */
const PER_REQUEST = {
  pending: [
    `count(distinct case when t.estimated = 1 and not exists (
      select 1 from aibridge_token_usages p where p.interception_id = i.id and p.rolled_up = 1 and p.estimated = 1
    ) then i.id end)`,
    `count(distinct case when not exists (
      select 1 from aibridge_token_usages p where p.interception_id = i.id and p.rolled_up = 1
    ) then i.id end)`,
  ],
  all: ["count(distinct case when t.estimated = 1 then i.id end)", "count(distinct i.id)"],
};

const ADDED_USAGE = `usages = usages + excluded.usages,
  priced_usages = priced_usages + excluded.priced_usages,
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens,
  cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
  cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
  cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
  cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
  cost_micros = cost_micros + excluded.cost_micros,
  estimated_usages = estimated_usages + excluded.estimated_usages,
  estimated_requests = estimated_requests + excluded.estimated_requests,
  usage_requests = usage_requests + excluded.usage_requests`;

const ADD_USAGE = `on conflict (${KEY}) do update set
  ${ADDED_USAGE},
  last_seen = max(coalesce(last_seen, 0), excluded.last_seen)`;

const ADD_REQUESTS = `on conflict (${KEY}) do update set
  requests = requests + excluded.requests,
  last_seen = max(coalesce(last_seen, 0), excluded.last_seen)`;

/** The rollup key of interception `i` in span `s`, under a given instance expression. */
function keyValues(instance) {
  return `s.span, (i.started_at / s.ms) * s.ms, i.initiator_id, i.provider, i.model, i.client, ${instance}`;
}
const KEY_VALUES = keyValues(INSTANCE);
const GROUP = `group by ${KEY_VALUES}`;

/**
 * The four statements that fold rows into the rollups, given a SQL condition on the interception
 * `i` that selects the candidates. CROSS JOIN fixes SQLite's join order: from the few candidate
 * interceptions to their usage rows by index (left to itself, SQLite may scan every usage row
 * with rolled_up = 0 and look interceptions up, which is what made folds slow at 10^6 rows). Order matters: usage is added before its flag is set, requests
 * before theirs. `pendingOnly` (the consumer) adds only rows not yet counted; the rebuild, which
 * has just deleted the buckets it recomputes, adds every row and skips resetting flags first.
 * Folding an interception records the instance key it is counted under (rollup_instance).
 */
function foldStatements(interceptionCondition, hourlySince, pendingOnly = true) {
  const pendingUsage = pendingOnly ? " and t.rolled_up = 0" : "";
  const pendingRequest = pendingOnly ? "i.rolled_up = 0 and " : "";
  const perRequest = pendingOnly ? PER_REQUEST.pending : PER_REQUEST.all;
  return [
    `insert into ${ROLLUPS} (${KEY}, ${USAGE_COLUMNS})
     select ${KEY_VALUES}, ${[...USAGE_SUMS, ...perRequest].join(", ")}, max(i.started_at)
     from aibridge_interceptions i
     cross join aibridge_token_usages t
     cross join ${spans(hourlySince)}
     where ${interceptionCondition} and t.interception_id = i.id${pendingUsage} and i.started_at >= s.since
     ${GROUP}
     ${ADD_USAGE}`,
    `update aibridge_token_usages set rolled_up = 1
     where rolled_up = 0 and interception_id in (select i.id from aibridge_interceptions i where ${interceptionCondition})`,
    `insert into ${ROLLUPS} (${KEY}, requests, last_seen)
     select ${KEY_VALUES}, count(*), max(i.started_at)
     from aibridge_interceptions i
     cross join ${spans(hourlySince)}
     where ${pendingRequest}${interceptionCondition} and i.started_at >= s.since
     ${GROUP}
     ${ADD_REQUESTS}`,
    `update aibridge_interceptions as i set rolled_up = 1, rollup_instance = ${INSTANCE}
     where ${pendingRequest}${interceptionCondition}`,
  ];
}

/**
 * Moves folded interceptions whose instance key changed since they were folded (the start was
 * folded under the addressed instance, then the end record said a fallback answered) back out of
 * their old rollup rows, so that the fold that follows in the same transaction adds them under the
 * new key. Exactly once for the same reasons as the fold: a moved interception's rollup_instance
 * is set to its new key by that fold, so a redelivered end record finds nothing to move.
 *
 * 1. subtract the interception's folded usage and its request from the old key's rows;
 * 2. mark its usage rows and itself pending again (rollup_instance still names the old key, which
 *    is how the next two statements find it: pending with a key is "being moved");
 * 3. delete old-key rows left with no request (an old row holds nothing else then);
 * 4. recompute the old-key rows' last_seen from the interceptions still counted there (a maximum
 *    cannot be subtracted; kept as is when the raw rows of the bucket are gone).
 */
function moveStatements(interceptionCondition, hourlySince) {
  const moved = `${interceptionCondition} and i.rolled_up = 1 and ${COUNTED_INSTANCE} <> ${INSTANCE}`;
  const beingMoved = `${interceptionCondition} and i.rolled_up = 0 and i.rollup_instance is not null`;
  const oldKey = keyValues(COUNTED_INSTANCE);
  // By rowid from a join on the whole primary key: a row-value IN over the key makes SQLite scan
  // every row of a span instead (EXPLAIN QUERY PLAN), on every consumer batch.
  const oldKeysBeingMoved = `rowid in (select o.rowid from aibridge_interceptions i
       cross join ${spans(hourlySince)} cross join ${ROLLUPS} o
       where ${beingMoved} and i.started_at >= s.since and o.span = s.span
         and o.bucket = (i.started_at / s.ms) * s.ms and o.initiator_id = i.initiator_id
         and o.provider = i.provider and o.model = i.model and o.client = i.client
         and o.instance = ${COUNTED_INSTANCE})`;
  const negated = [...USAGE_SUMS, ...PER_REQUEST.all].map((sum) => `-(${sum})`).join(", ");
  return [
    `insert into ${ROLLUPS} (${KEY}, ${USAGE_COLUMNS})
     select ${oldKey}, ${negated}, max(i.started_at)
     from aibridge_interceptions i
     cross join aibridge_token_usages t
     cross join ${spans(hourlySince)}
     where ${moved} and t.interception_id = i.id and t.rolled_up = 1 and i.started_at >= s.since
     group by ${oldKey}
     on conflict (${KEY}) do update set ${ADDED_USAGE}`,
    `insert into ${ROLLUPS} (${KEY}, requests, last_seen)
     select ${oldKey}, -count(*), max(i.started_at)
     from aibridge_interceptions i
     cross join ${spans(hourlySince)}
     where ${moved} and i.started_at >= s.since
     group by ${oldKey}
     on conflict (${KEY}) do update set requests = requests + excluded.requests`,
    `update aibridge_token_usages set rolled_up = 0
     where rolled_up = 1 and interception_id in (select i.id from aibridge_interceptions i where ${moved})`,
    `update aibridge_interceptions as i set rolled_up = 0, rollup_instance = ${COUNTED_INSTANCE} where ${moved}`,
    `delete from ${ROLLUPS} where requests <= 0 and ${oldKeysBeingMoved}`,
    `update ${ROLLUPS} as r set last_seen = coalesce((
       select max(c.started_at) from aibridge_interceptions c
       where c.initiator_id = r.initiator_id and c.started_at >= r.bucket
         and c.started_at < r.bucket + (case r.span when 'day' then ${DAY_MS} else ${HOUR_MS} end)
         and c.provider = r.provider and c.model = r.model and c.client = r.client
         and c.rolled_up = 1 and coalesce(c.rollup_instance, '') = r.instance
     ), r.last_seen)
     where ${oldKeysBeingMoved}`,
  ];
}

/**
 * For the consumer: fold the pending rows of the interceptions whose ids are bound as ?1 (a JSON
 * array, so one parameter carries a whole batch's ids).
 */
export function foldByIdsSql(hourlySince) {
  const ids = "i.id in (select value from json_each(?1))";
  return [...moveStatements(ids, integer(hourlySince)), ...foldStatements(ids, integer(hourlySince))];
}

/**
 * For the rebuild: recompute the rollups of the UTC days in [from, to) from the raw rows, as one
 * batch (one transaction), so a concurrent consumer batch sees either the old or the new state.
 * Values are inlined (they are checked integers): the CLI's `wrangler d1 execute` binds nothing.
 */
export function rebuildSql(from, to, hourlySince) {
  const start = integer(from);
  const end = integer(to);
  if (start % DAY_MS !== 0 || end % DAY_MS !== 0) throw new Error("rebuild ranges are whole UTC days");
  const inRange = `i.started_at >= ${start} and i.started_at < ${end}`;
  return [
    `delete from ${ROLLUPS} where bucket >= ${start} and bucket < ${end}`,
    ...foldStatements(inRange, integer(hourlySince), false),
  ];
}

/**
 * Folds the not-yet-counted rows of interceptions started in [from, to) (whole or partial days):
 * what the consumer does per batch, by time range instead of ids. For rows written straight into
 * the raw tables (bench/scale.mjs seeds that way).
 */
export function foldRangeSql(from, to, hourlySince) {
  const inRange = `i.started_at >= ${integer(from)} and i.started_at < ${integer(to)}`;
  return [...moveStatements(inRange, integer(hourlySince)), ...foldStatements(inRange, integer(hourlySince))];
}

function integer(value) {
  if (!Number.isSafeInteger(value)) throw new Error(`expected an integer, got ${value}`);
  return value;
}
