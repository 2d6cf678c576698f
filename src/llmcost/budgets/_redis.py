"""A budget store shared by every process that talks to one Redis: :class:`RedisBudgetStore`.

Each call costs two round trips: one Lua script admits it (checks every budget key it
touches and reserves its worst case on all of them, or on none), one settles it (swaps the
reservation for the real cost, once per record id). Scripts run atomically in Redis, so
concurrent processes can never push ``spent + reserved`` past a limit. Both are sent by EVALSHA
with one packed argument, and what is fixed per budget key and window is worked out once per
store: most of a call's cost is the two round trips and Redis running the scripts
(docs/performance.md).

Layout, for a key ``K`` under the prefix ``P``:

- ``P K`` (hash): ``uc ui uo un`` = spent + reserved (cost, input, output, calls) and
  ``sc si so sn`` = spent, plus the limits (``lc li lo lt ln``, as of the last settlement) for
  ``llmcost budgets status``.
- ``P K #r`` (sorted set): the reservations in flight, ``"id:cost:in:out:calls"`` scored by
  the time (ms, Redis's clock) they expire. Admission (and a read) first gives the expired
  ones back: a process that died holding reservations frees them within ``reservation_ttl``.
  Settlement and release remove their own reservation only; whichever removes a reservation
  gives it back, so it is given back once.
- ``P done:<record id>``: settlement already applied (kept ``settle_ttl`` seconds).

When Redis cannot be reached, settlements are kept in the process (bounded) and sent once it
answers again; admission follows ``on_store_error``.

Money is stored in integer pico-dollars (10⁻¹² USD; a fraction below that rounds up) and
compared in Lua as integer strings, never as floats. Keys expire when idle: at the end of
their window plus a day, or ``idle_ttl`` after the last use for budgets without a window.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from llmcost import errors
from llmcost.budgets._amounts import Amounts, Limits, Refusal, Totals
from llmcost.budgets._errors import BudgetStoreUnavailable
from llmcost.budgets._store import Entry

if TYPE_CHECKING:
    from redis.commands.core import Script

__all__ = ["RedisBudgetStore"]

logger = logging.getLogger("llmcost")

OnStoreError = Literal["open", "closed"]
#: Amounts of money in Redis are integers of this unit (a pico-dollar).
UNIT = Decimal("1e-12")
_SCALE = 10**12
#: The largest dollar limit whose arithmetic stays exact in Redis's 64-bit integers.
MAX_COST_USD = Decimal(9_000_000)
#: Settlements kept in a process while Redis is down, at most; then they are dropped (counted).
BACKLOG_LIMIT = 10_000
#: Kept settlements sent again after each script that Redis answered.
REPLAY_PER_CALL = 20


class _Settlement(NamedTuple):
    token: object
    entries: tuple[Entry, ...]
    reserved: Amounts
    actual: Amounts
    record_id: str


_LUA_COMMON = """
-- The arguments come as one string, fields separated by '|' (one argument to encode and
-- send instead of ~20: redis-py encodes each argument in Python).
local function split(s)
  local t, i = {}, 1
  while true do
    local j = string.find(s, '|', i, true)
    if not j then
      t[#t + 1] = string.sub(s, i)
      return t
    end
    t[#t + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end
local ARGV = split(ARGV[1] or '')
local function le(a, b)
  -- a <= b for integers written as strings (exact at any size, unlike Lua's doubles)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na ~= nb then return na end
  if na then a, b = string.sub(b, 2), string.sub(a, 2) end
  if #a ~= #b then return #a < #b end
  return a <= b
end
local function neg(x)
  if x == '0' then return '0' end
  if string.sub(x, 1, 1) == '-' then return string.sub(x, 2) end
  return '-' .. x
end
local function add(h, field, x)
  -- an amount of zero changes nothing: one command fewer
  if x ~= '0' then redis.call('HINCRBY', h, field, x) end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(h, z, now)
  -- reservations of calls that never settled (their process died): give them back
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone == 0 then return end
  for _, m in ipairs(gone) do
    local c, i, o, n = string.match(m, '^[^:]*:([^:]*):([^:]*):([^:]*):([^:]*)$')
    add(h, 'uc', neg(c))
    add(h, 'ui', neg(i))
    add(h, 'uo', neg(o))
    add(h, 'un', neg(n))
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
end
local function keep(k, expire_at, idle)
  -- a key of a window lives until a day after the window ends; others idle_ttl after use
  if expire_at ~= '' then redis.call('EXPIREAT', k, expire_at)
  else redis.call('EXPIRE', k, idle) end
end
local function totals(h)
  local v = redis.call('HMGET', h, 'sc', 'si', 'so', 'sn', 'uc', 'ui', 'uo', 'un')
  for k = 1, 8 do v[k] = v[k] or '0' end
  return v
end
"""


# KEYS: hash, zset per budget key. ARGV: n, member, ttl ms, amount (cost, in, out, calls),
# idle ttl, then per key: force, cost room (limit - amount, '' = none), input, output,
# total, calls limits ('' = none), expire_at ('' = idle). Answers '1' when reserved with no
# limit passed; otherwise '1' (reserved: warn mode) or '0' (refused), then per key the limit
# it passes ('' = none) and its totals before this call.
_ADMIT = (
    _LUA_COMMON
    + """
local n, member, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local ac, ai, ao, an = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local idle = tonumber(ARGV[8])
-- a retried script whose first run reserved already: reserve once
if redis.call('ZSCORE', KEYS[2], member) then return '1' end
local now = now_ms()
local dims, over, blocked = {}, false, false
for j = 0, n - 1 do
  local h, z, b = KEYS[2 * j + 1], KEYS[2 * j + 2], 8 + 7 * j
  purge(h, z, now)
  local u = redis.call('HMGET', h, 'uc', 'ui', 'uo', 'un')
  local ui, uo, un = tonumber(u[2] or '0'), tonumber(u[3] or '0'), tonumber(u[4] or '0')
  local dim = ''
  if ARGV[b + 2] ~= '' and not le(u[1] or '0', ARGV[b + 2]) then dim = 'cost_usd'
  elseif ARGV[b + 3] ~= '' and ui + tonumber(ai) > tonumber(ARGV[b + 3]) then
    dim = 'input_tokens'
  elseif ARGV[b + 4] ~= '' and uo + tonumber(ao) > tonumber(ARGV[b + 4]) then
    dim = 'output_tokens'
  elseif ARGV[b + 5] ~= '' and ui + uo + tonumber(ai) + tonumber(ao) > tonumber(ARGV[b + 5]) then
    dim = 'total_tokens'
  elseif ARGV[b + 6] ~= '' and un + tonumber(an) > tonumber(ARGV[b + 6]) then dim = 'calls'
  end
  if dim ~= '' then
    over = true
    if ARGV[b + 1] ~= '1' then blocked = true end
  end
  dims[j + 1] = dim
end
local out = '1'
if over then
  -- name the limits passed, with each key's totals before this call
  local parts = {blocked and '0' or '1'}
  for j = 0, n - 1 do
    parts[#parts + 1] = dims[j + 1]
    parts[#parts + 1] = table.concat(totals(KEYS[2 * j + 1]), '|')
  end
  out = table.concat(parts, '|')
end
if blocked then return out end
for j = 0, n - 1 do
  local h, z = KEYS[2 * j + 1], KEYS[2 * j + 2]
  add(h, 'uc', ac)
  add(h, 'ui', ai)
  add(h, 'uo', ao)
  add(h, 'un', an)
  redis.call('ZADD', z, now + ttl, member)
  keep(h, ARGV[8 + 7 * j + 7], idle)
  keep(z, ARGV[8 + 7 * j + 7], idle)
end
return out
"""
)

# KEYS: done marker, then hash, zset per key. ARGV: n, member ('' = nothing reserved),
# actual - reserved (cost, in, out, calls), actual (cost, in, out, calls), settle ttl, idle
# ttl, then per key: expire_at and the five limits (for status). Answers each key's totals.
# Expired reservations are not purged here: whichever of this ZREM and a later purge removes
# the reservation gives it back, once.
_SETTLE = (
    _LUA_COMMON
    + """
local n, member = tonumber(ARGV[1]), ARGV[2]
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[11]) then
  local idle = tonumber(ARGV[12])
  for j = 0, n - 1 do
    local h, z, b = KEYS[2 * j + 2], KEYS[2 * j + 3], 12 + 6 * j
    -- with the reservation still held, swap it for the actual amount in one step
    local k = 7
    if member ~= '' and redis.call('ZREM', z, member) == 1 then k = 3 end
    add(h, 'uc', ARGV[k])
    add(h, 'ui', ARGV[k + 1])
    add(h, 'uo', ARGV[k + 2])
    add(h, 'un', ARGV[k + 3])
    add(h, 'sc', ARGV[7])
    add(h, 'si', ARGV[8])
    add(h, 'so', ARGV[9])
    add(h, 'sn', ARGV[10])
    redis.call('HSET', h, 'lc', ARGV[b + 2], 'li', ARGV[b + 3], 'lo', ARGV[b + 4],
               'lt', ARGV[b + 5], 'ln', ARGV[b + 6])
    keep(h, ARGV[b + 1], idle)
  end
end
local out = {}
for j = 0, n - 1 do out[j + 1] = table.concat(totals(KEYS[2 * j + 2]), '|') end
return table.concat(out, '|')
"""
)

# KEYS: hash, zset per key. ARGV: n, member, reserved (cost, in, out, calls).
_RELEASE = (
    _LUA_COMMON
    + """
for j = 0, tonumber(ARGV[1]) - 1 do
  local h, z = KEYS[2 * j + 1], KEYS[2 * j + 2]
  if redis.call('ZREM', z, ARGV[2]) == 1 then
    add(h, 'uc', neg(ARGV[3]))
    add(h, 'ui', neg(ARGV[4]))
    add(h, 'uo', neg(ARGV[5]))
    add(h, 'un', neg(ARGV[6]))
  end
end
return 1
"""
)

# KEYS: hash, zset. Returns the totals and the limits.
_READ = (
    _LUA_COMMON
    + """
purge(KEYS[1], KEYS[2], now_ms())
local v = totals(KEYS[1])
local l = redis.call('HMGET', KEYS[1], 'lc', 'li', 'lo', 'lt', 'ln')
for k = 1, 5 do v[8 + k] = l[k] or '' end
return table.concat(v, '|')
"""
)


def to_units(amount: Decimal) -> int:
    """Dollars as whole pico-dollars, rounded up (a budget never under-counts)."""
    return int((amount * _SCALE).to_integral_value(rounding=ROUND_CEILING))


def from_units(units: int) -> Decimal:
    """Whole pico-dollars as exact Decimal dollars."""
    return Decimal(units).scaleb(-12) if units else Decimal(0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _totals(values: Sequence[str]) -> Totals:
    sc, si, so, sn, uc, ui, uo, un = (int(value) for value in values[:8])
    spent = Amounts(from_units(sc), si, so, sn)
    used = Amounts(from_units(uc), ui, uo, un)
    return Totals(spent, used - spent)


def _packed(args: Sequence[str | int | float]) -> str:
    """The scripts' arguments as one string (see ``split`` in the scripts)."""
    return "|".join(map(str, args))


def _limit(value: int | None) -> str:
    return "" if value is None else str(value)


class _Fixed(NamedTuple):
    """What the scripts need of one budget key that is the same on every call: worked out
    once per key and window (see ``RedisBudgetStore._fixed``)."""

    keys: tuple[str, str]
    #: The dollar limit in whole pico-dollars (rounded down), None without one.
    cost_limit: int | None
    #: The admission script's arguments after the cost room: the token and call limits, the
    #: expiry.
    admit: str
    #: The settlement script's arguments for this key: the expiry and the limits (for status).
    settle: str


#: Budget keys whose fixed arguments a store keeps; past it, it starts over (no eviction
#: order to get wrong: a key costs one recomputation).
FIXED_LIMIT = 4096


class RedisBudgetStore:
    """Budget totals in Redis, shared by every process and replica that uses the same Redis.

    Needs ``pip install "llmcost[redis]"`` (redis-py). Give it a URL or a ``redis.Redis``
    client; a client of your own should fail fast when Redis is down (``socket_timeout``,
    and few retries: redis-py retries ten times with backoff by default). Retried scripts are
    safe: admission reserves once per reservation id, settlement charges once per record id.

    Args:
        client: A ``redis.Redis`` client.
        url: Or a URL, such as ``"redis://localhost:6379/0"`` (``timeout``, one retry).
        prefix: Prepended to every Redis key llmcost writes.
        reservation_ttl: Seconds a reservation is held at most: the reservations of a process
            that died are given back after this long. Longer than your slowest call.
        on_store_error: When Redis cannot be reached: ``"open"`` admits the call unchecked,
            ``"closed"`` refuses it with :class:`~llmcost.budgets.BudgetStoreUnavailable`.
            Either way the failure is counted (``llmcost.stats()["budget.store_errors"]``)
            and logged once until Redis answers again.
        idle_ttl: Seconds an unused key of a budget without a window is kept.
        settle_ttl: Seconds a settled record id is remembered (a retry within it is ignored).
        timeout: Socket timeout, in seconds, of the client made from ``url``.

    Example:
        >>> import llmcost
        >>> from llmcost.budgets import RedisBudgetStore
        >>> store = RedisBudgetStore(url="redis://localhost:6379/0")  # doctest: +SKIP
        >>> llmcost.configure(budgets=[llmcost.budget(  # doctest: +SKIP
        ...     max_cost_usd=5, per="user_id", window="day", name="user-day", store=store)])
    """

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        url: str | None = None,
        prefix: str = "llmcost:budget:",
        reservation_ttl: float = 600.0,
        on_store_error: OnStoreError = "open",
        idle_ttl: float = 90 * 86400.0,
        settle_ttl: float = 86400.0,
        timeout: float = 0.5,
    ) -> None:
        if on_store_error not in ("open", "closed"):
            raise ValueError(
                f"RedisBudgetStore(on_store_error=...) must be 'open' or 'closed', "
                f"got {on_store_error!r}"
            )
        if (client is None) == (url is None):
            raise TypeError("RedisBudgetStore() takes a redis.Redis client or a url=, not both")
        for name, value in (
            ("reservation_ttl", reservation_ttl),
            ("idle_ttl", idle_ttl),
            ("settle_ttl", settle_ttl),
            ("timeout", timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"RedisBudgetStore({name}=...) must be > 0 seconds, got {value!r}")
        #: Whether this store made its client (from ``url``) and so closes it in close().
        self._owns_client = client is None
        if client is None:
            # A budget check sits in front of every call: one quick retry, not redis-py's
            # default ten with backoff (seconds per call while Redis is down).
            client = redis.Redis.from_url(
                str(url),
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
            )
        self.client = client
        self.prefix = prefix
        self.reservation_ttl = reservation_ttl
        self.on_store_error: OnStoreError = on_store_error
        self.idle_ttl = idle_ttl
        self.settle_ttl = settle_ttl
        # Scripts are run by EVALSHA; redis-py's Script loads one that Redis does not know.
        self._admit = client.register_script(_ADMIT)
        self._settle = client.register_script(_SETTLE)
        self._release = client.register_script(_RELEASE)
        self._read = client.register_script(_READ)
        self._lock = threading.Lock()
        self._failing = False
        self._backlog: deque[_Settlement] = deque()
        self._backlog_full = False
        self._fixed_args: dict[Entry, _Fixed] = {}

    def __repr__(self) -> str:
        return f"RedisBudgetStore(prefix={self.prefix!r}, on_store_error={self.on_store_error!r})"

    def close(self) -> None:
        """Close the connections of a store made from a URL (a client given is left open)."""
        if self._owns_client:
            self.client.close()

    # -- failures -----------------------------------------------------------------------------

    def _failed(self, exc: Exception, what: str) -> None:
        errors.count("budget.store_errors")
        with self._lock:
            first = not self._failing
            self._failing = True
        if first:
            logger.error(
                "llmcost: the Redis budget store cannot be reached (%s: %s) while %s; "
                "on_store_error=%r: %s. Further failures are counted in "
                "llmcost.stats()['budget.store_errors'] until Redis answers again.",
                type(exc).__name__,
                exc,
                what,
                self.on_store_error,
                "calls are admitted without a budget check"
                if self.on_store_error == "open"
                else "calls are refused",
            )

    def _answered(self) -> None:
        if self._failing:
            with self._lock:
                self._failing = False
            logger.warning(
                "llmcost: the Redis budget store answers again (%d settlements to send)",
                len(self._backlog),
            )
        if self._backlog:
            self._replay()

    # -- the store ----------------------------------------------------------------------------

    def _keys(self, key: str) -> tuple[str, str]:
        return self.prefix + key, self.prefix + key + "#r"

    def _fixed(self, entry: Entry) -> _Fixed:
        """The arguments of ``entry`` that do not change from call to call (memoised)."""
        fixed = self._fixed_args.get(entry)
        if fixed is not None:
            return fixed
        limits = entry.limits
        cost_limit = None
        if limits.cost_usd is not None:
            if limits.cost_usd > MAX_COST_USD:
                raise ValueError(
                    f"budget limit max_cost_usd={limits.cost_usd} is above what "
                    f"RedisBudgetStore keeps exactly (${MAX_COST_USD})"
                )
            # The limit rounds down, amounts round up: never a pico-dollar over.
            cost_limit = int(limits.cost_usd * _SCALE)
        expires_at = "" if entry.expires_at is None else str(int(entry.expires_at))
        tokens_and_calls = _packed(
            [
                _limit(limits.input_tokens),
                _limit(limits.output_tokens),
                _limit(limits.total_tokens),
                _limit(limits.calls),
            ]
        )
        fixed = _Fixed(
            self._keys(entry.key),
            cost_limit,
            f"{tokens_and_calls}|{expires_at}",
            f"{expires_at}|{'' if limits.cost_usd is None else limits.cost_usd}|{tokens_and_calls}",
        )
        if len(self._fixed_args) >= FIXED_LIMIT:
            self._fixed_args.clear()
        self._fixed_args[entry] = fixed
        return fixed

    def _run(self, script: Script, keys: list[str], arg: str) -> Any:
        """Run ``script`` by EVALSHA; redis-py's Script loads it if Redis does not know it."""
        try:
            return self.client.evalsha(script.sha, len(keys), *keys, arg)
        except NoScriptError:
            return script(keys=keys, args=[arg])

    def reserve_all(
        self, entries: Sequence[Entry], amount: Amounts
    ) -> tuple[object, list[Refusal | None]]:
        """Reserve ``amount`` on every entry in one script, or on none (see the module)."""
        cost = to_units(amount.cost_usd)
        tokens = f"{amount.input_tokens}:{amount.output_tokens}:{amount.calls}"
        member = f"{uuid.uuid4().hex}:{cost}:{tokens}"
        keys: list[str] = []
        arg = (
            f"{len(entries)}|{member}|{int(self.reservation_ttl * 1000)}|{cost}|"
            f"{tokens.replace(':', '|')}|{int(self.idle_ttl)}"
        )
        for entry in entries:
            fixed = self._fixed(entry)
            keys += fixed.keys
            room = "" if fixed.cost_limit is None else fixed.cost_limit - cost
            arg += f"|{'1' if entry.force else '0'}|{room}|{fixed.admit}"
        try:
            reply = _text(self._run(self._admit, keys, arg))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._failed(exc, "admitting a call")
            if self.on_store_error == "closed":
                raise BudgetStoreUnavailable(
                    f"llmcost: the Redis budget store cannot be reached ({type(exc).__name__}), "
                    "so the call was not sent (on_store_error='closed'). Check Redis, or use "
                    "on_store_error='open' to admit calls unchecked while it is down."
                ) from exc
            return None, [None] * len(entries)
        self._answered()
        if reply == "1":  # reserved, no limit passed: the usual answer
            return member, [None] * len(entries)
        refusals: list[Refusal | None] = []
        fields = reply.split("|")
        for index, entry in enumerate(entries):
            values = fields[1 + 9 * index : 10 + 9 * index]
            dimension = values[0]
            if not dimension:
                refusals.append(None)
                continue
            limit: Decimal | int = getattr(entry.limits, dimension)
            refusals.append(Refusal(dimension, limit, _totals(values[1:])))
        return (member if fields[0] == "1" else None), refusals

    def settle_all(
        self,
        token: object,
        entries: Sequence[Entry],
        reserved: Amounts,
        actual: Amounts,
        record_id: str,
    ) -> list[Totals]:
        """Swap the reservation ``token`` for ``actual`` in one script, once per record id.

        When Redis cannot be reached, the settlement is kept in this process and sent again
        once Redis answers (see ``backlog``).
        """
        settlement = _Settlement(token, tuple(entries), reserved, actual, record_id)
        try:
            reply = self._send(settlement)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._failed(exc, "settling a call")
            kept = self._keep(settlement)
            raise BudgetStoreUnavailable(
                f"llmcost: the Redis budget store cannot be reached to settle {record_id}; "
                + (
                    "the settlement is kept and sent when it answers again"
                    if kept
                    else "too many settlements wait already: this one is dropped"
                )
            ) from exc
        self._answered()
        fields = _text(reply).split("|")
        return [_totals(fields[8 * index : 8 * index + 8]) for index in range(len(entries))]

    def _send(self, settlement: _Settlement) -> Any:
        token, entries, reserved, actual, record_id = settlement
        cost = to_units(actual.cost_usd)
        held = to_units(reserved.cost_usd)
        keys = [self.prefix + "done:" + record_id]
        # The reservation is swapped for the actual amount in one step: actual - reserved.
        arg = _packed(
            [
                len(entries),
                token if isinstance(token, str) else "",
                cost - held,
                actual.input_tokens - reserved.input_tokens,
                actual.output_tokens - reserved.output_tokens,
                actual.calls - reserved.calls,
                cost,
                actual.input_tokens,
                actual.output_tokens,
                actual.calls,
                int(self.settle_ttl),
                int(self.idle_ttl),
            ]
        )
        for entry in entries:
            fixed = self._fixed(entry)
            keys += fixed.keys
            arg += "|" + fixed.settle
        return self._run(self._settle, keys, arg)

    # -- settlements kept while Redis is down -------------------------------------------------

    @property
    def backlog(self) -> int:
        """Settlements waiting for Redis to answer again (kept in this process)."""
        return len(self._backlog)

    def _keep(self, settlement: _Settlement) -> bool:
        with self._lock:
            if len(self._backlog) < BACKLOG_LIMIT:
                self._backlog.append(settlement)
                return True
            first = not self._backlog_full
            self._backlog_full = True
        errors.count("budget.settlements_dropped")
        if first:
            logger.error(
                "llmcost: %s settlements wait for the Redis budget store already; further ones "
                "are dropped and counted in llmcost.stats()['budget.settlements_dropped']",
                BACKLOG_LIMIT,
            )
        return False

    def _replay(self) -> None:
        # Redis answers again: send what was kept, a few per call (each is idempotent by
        # record id, so one that did reach Redis before the failure is not charged twice).
        for _ in range(REPLAY_PER_CALL):
            with self._lock:
                if not self._backlog:
                    self._backlog_full = False
                    return
                settlement = self._backlog.popleft()
            try:
                self._send(settlement)
            except (redis.ConnectionError, redis.TimeoutError):
                with self._lock:
                    self._backlog.appendleft(settlement)
                return

    def release_all(self, token: object, entries: Sequence[Entry], reserved: Amounts) -> None:
        """Give the reservation ``token`` back on every entry."""
        if not isinstance(token, str):
            return
        keys: list[str] = []
        for entry in entries:
            keys.extend(self._keys(entry.key))
        args: list[str | int] = [
            len(entries),
            token,
            to_units(reserved.cost_usd),
            reserved.input_tokens,
            reserved.output_tokens,
            reserved.calls,
        ]
        try:
            self._run(self._release, keys, _packed(args))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Not given back now: the reservation expires on its own (reservation_ttl).
            self._failed(exc, "releasing a reservation")
            return
        self._answered()

    # -- one key (the BudgetStore interface) ------------------------------------------------

    def reserve(
        self, key: str, amount: Amounts, limits: Limits, *, force: bool = False
    ) -> Refusal | None:
        """Reserve on one key. The reservation is held until ``reservation_ttl`` at most."""
        _token, refusals = self.reserve_all([Entry(key, limits, force)], amount)
        return refusals[0]

    def settle(self, key: str, reserved: Amounts, actual: Amounts) -> Totals:
        """Charge ``actual`` on one key (used by stores driven key by key; prefer settle_all)."""
        return self.settle_all(None, [Entry(key, Limits())], reserved, actual, uuid.uuid4().hex)[0]

    def release(self, key: str, reserved: Amounts) -> Totals:
        """Nothing to do without a reservation id: reservations expire on their own."""
        return self.read(key)

    def read(self, key: str) -> Totals:
        """The totals of ``key`` (expired reservations dropped first)."""
        try:
            reply = self._run(self._read, list(self._keys(key)), "")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._failed(exc, "reading a budget")
            raise BudgetStoreUnavailable(
                f"llmcost: the Redis budget store cannot be reached to read {key!r}"
            ) from exc
        self._answered()
        return _totals(_text(reply).split("|"))

    def status(self) -> list[tuple[str, Totals, dict[str, str]]]:
        """Every budget key under the prefix: (key, totals, limits as given), sorted."""
        found = []
        for raw in self.client.scan_iter(match=self.prefix + "*", _type="hash", count=1000):
            name = _text(raw)[len(self.prefix) :]
            if name.startswith("done:"):
                continue
            reply = _text(self._read(keys=list(self._keys(name)))).split("|")
            limits = dict(
                zip(
                    (
                        "max_cost_usd",
                        "max_input_tokens",
                        "max_output_tokens",
                        "max_total_tokens",
                        "max_calls",
                    ),
                    reply[8:13],
                    strict=True,
                )
            )
            found.append((name, _totals(reply), {k: v for k, v in limits.items() if v}))
        return sorted(found)
