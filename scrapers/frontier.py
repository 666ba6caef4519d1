"""The shared frontier of one crawl run in Redis: one request queue, one seen-set, the run's workers.

Every worker of a run (processes of `harvest crawl NAME --workers N`, on one machine or many) uses the
keys under `PREFIX:run:RUN_ID:`. Each step that must not race is one Lua script (atomic in Redis):

- `pop`: take the best request from the queue *and* record it in the worker's in-flight hash (and mark
  the worker busy). A request leaves the in-flight hash once the items it produced are committed to the
  store; a worker found dead (its heartbeat key expired, or its process exited) has its in-flight
  requests put back on the queue.
- `done`: the run's frontier is finished when the queue is empty and every live worker is idle; the
  first worker that sees it sets the `done` flag and every worker then closes.
- `leave`: a closing worker records its final stats; the last one out finalises the run.
- `page` / `deadline`: the run's limits (`max_pages`, `max_seconds`), one response counter and one
  deadline on Redis's clock for all workers; the first limit reached is recorded in `limit`, and from
  then on `pop` gives no worker another request.

The seen-set keeps 64-bit integers in buckets of at most a few hundred members, which Redis stores as
intsets (8 bytes a URL plus a little per bucket) instead of scrapy-redis's 40-character hex strings in
one hash table (about 88 bytes a URL). A URL is taken as seen only when its 64-bit member and its bucket
both match: about 64 + log2(buckets) bits of the request fingerprint, so a false positive needs a
collision of ~80 bits (odds about n²/2^81 over a whole crawl of n URLs).
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

POP = """
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
local k = redis.sha1hex(r[1])
redis.call('HSET', KEYS[2], k, r[2] .. ' ' .. r[1])
redis.call('SREM', KEYS[3], ARGV[1])
return {k, r[1]}
"""

REQUEUE = """
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local v = all[i + 1]
  local s = string.find(v, ' ', 1, true)
  redis.call('ZADD', KEYS[1], string.sub(v, 1, s - 1), string.sub(v, s + 1))
end
redis.call('DEL', KEYS[2])
if ARGV[2] == '1' then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('SREM', KEYS[5], ARGV[1])
end
return #all / 2
"""

DONE = """
if redis.call('EXISTS', KEYS[4]) == 1 then return 1 end
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
local ws = redis.call('HKEYS', KEYS[2])
for _, w in ipairs(ws) do
  if redis.call('SISMEMBER', KEYS[3], w) == 0 then return 0 end
end
redis.call('SET', KEYS[4], '1')
return 1
"""

LEAVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SREM', KEYS[3], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('SETNX', KEYS[4], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[5])
  return 1
end
return 0
"""

REGISTER = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
return 1
"""


PAGE = """
local n = redis.call('INCR', KEYS[1])
if n >= tonumber(ARGV[1]) then redis.call('SETNX', KEYS[2], ARGV[2]) end
return n
"""

DEADLINE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('SET', KEYS[1], string.format('%.6f', now + tonumber(ARGV[1])), 'NX')
return string.format('%.6f', tonumber(redis.call('GET', KEYS[1])) - now)
"""


def run_prefix(prefix: str, run_id: int) -> str:
    return f"{prefix}:run:{run_id}"


def connect(url: str):
    import redis

    return redis.Redis.from_url(url)


@dataclass
class Frontier:
    """One worker's handle on the shared state of run `run_id` (keys under `prefix`)."""

    redis: Any
    prefix: str
    worker: str
    buckets: int = 40_000
    dead_after: float = 30.0

    def __post_init__(self) -> None:
        self._pop = self.redis.register_script(POP)
        self._requeue = self.redis.register_script(REQUEUE)
        self._done = self.redis.register_script(DONE)
        self._leave = self.redis.register_script(LEAVE)
        self._register = self.redis.register_script(REGISTER)
        self._page = self.redis.register_script(PAGE)
        self._deadline = self.redis.register_script(DEADLINE)

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    # workers ---------------------------------------------------------------------------------------
    def open(self, run_id: int) -> None:
        """The starting process opens the run's frontier for workers (until the last one out closes it)."""
        self.redis.set(self.key("open"), str(run_id))

    def is_open(self) -> bool:
        return bool(self.redis.exists(self.key("open"))) and not self.is_done()

    def register(self) -> bool:
        """Join the run; False when it is not open (finished, or never started): then do nothing."""
        info = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        return bool(self._register(keys=[self.key("open"), self.key("workers"), self.key(f"beat:{self.worker}"),
                                         self.key("done")],
                                   args=[self.worker, json.dumps(info), int(self.dead_after * 1000)]))

    def beat(self, stats: dict[str, Any]) -> bool:
        """Refresh this worker's heartbeat and stats snapshot; False when it was declared dead."""
        pipe = self.redis.pipeline()
        pipe.set(self.key(f"beat:{self.worker}"), "1", px=int(self.dead_after * 1000))
        pipe.hset(self.key("snap"), self.worker, json.dumps(stats, default=str))
        pipe.sismember(self.key("dead"), self.worker)
        return not pipe.execute()[2]

    def workers(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.redis.hgetall(self.key("workers")).items()}

    def requeue(self, worker: str, dead: bool = True) -> int:
        """Put `worker`'s in-flight requests back on the queue; with `dead`, also drop it from the run."""
        return int(self._requeue(keys=[self.key("queue"), self.key(f"inflight:{worker}"), self.key("workers"),
                                       self.key("dead"), self.key("idle")], args=[worker, "1" if dead else "0"]))

    def reap(self) -> list[str]:
        """Workers whose heartbeat expired: their requests re-queued, themselves removed. Returns them."""
        gone = [w for w in self.workers() if w != self.worker and not self.redis.exists(self.key(f"beat:{w}"))]
        for w in gone:
            self.requeue(w)
        return gone

    # requests --------------------------------------------------------------------------------------
    def pop(self) -> tuple[str, bytes] | None:
        got = self._pop(keys=[self.key("queue"), self.key(f"inflight:{self.worker}"), self.key("idle"),
                              self.key("limit")], args=[self.worker])
        return (got[0].decode(), got[1]) if got else None

    def forget(self, keys: list[str]) -> None:
        """Requests whose items are all committed: no longer re-queued if this worker dies."""
        if keys:
            self.redis.hdel(self.key(f"inflight:{self.worker}"), *keys)

    def queued(self) -> int:
        return int(self.redis.zcard(self.key("queue")))

    def seen(self, fingerprint: bytes) -> bool:
        """Add a request fingerprint (>= 16 bytes) to the seen-set; True when it was there already."""
        bucket = int.from_bytes(fingerprint[:8], "big") % self.buckets
        member = int.from_bytes(fingerprint[8:16], "big", signed=True)
        return self.redis.sadd(self.key(f"seen:{bucket}"), member) == 0

    # the run's limits ------------------------------------------------------------------------------
    def page(self, max_pages: int, reason: str) -> int:
        """Count one response of the run; at `max_pages` the run's limit is `reason`. Returns the count."""
        return int(self._page(keys=[self.key("pages"), self.key("limit")], args=[max_pages, reason]))

    def seconds_left(self, max_seconds: float) -> float:
        """Seconds to the run's deadline, which the first worker to ask sets `max_seconds` ahead (Redis's clock)."""
        return float(self._deadline(keys=[self.key("deadline")], args=[repr(float(max_seconds))]))

    def reach(self, reason: str) -> None:
        """Record that the run reached a limit (the first one recorded stays): no worker pops again."""
        self.redis.set(self.key("limit"), reason, nx=True)

    def limit(self) -> str | None:
        """The limit the run reached (a Scrapy close reason, e.g. closespider_pagecount), or None."""
        value = self.redis.get(self.key("limit"))
        return value.decode() if value is not None else None

    # the end ---------------------------------------------------------------------------------------
    def idle_and_done(self) -> bool:
        """Mark this worker idle; True when the whole run's frontier is finished."""
        self.redis.sadd(self.key("idle"), self.worker)
        return bool(self._done(keys=[self.key("queue"), self.key("workers"), self.key("idle"), self.key("done")]))

    def is_done(self) -> bool:
        return bool(self.redis.exists(self.key("done")))

    def leave(self, final: dict[str, Any], finished: bool) -> bool:
        """Record this worker's final stats and leave; True for the last one out (it finalises the run).
        A worker that did not finish hands its unfinished requests to the others."""
        if finished:
            self.redis.delete(self.key(f"inflight:{self.worker}"))
        else:
            self.requeue(self.worker, dead=False)
        return bool(self._leave(keys=[self.key("workers"), self.key("left"), self.key("idle"), self.key("final"),
                                      self.key("open")],
                                args=[self.worker, json.dumps(final, default=str)]))

    def results(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(final records of the workers that left, last snapshots of the workers that died)."""
        left = [json.loads(v) for v in self.redis.hvals(self.key("left"))]
        dead = [m.decode() for m in self.redis.smembers(self.key("dead"))]
        snaps = self.redis.hmget(self.key("snap"), dead) if dead else []
        return left, [json.loads(s) for s in snaps if s]

    def clear(self) -> int:
        """Delete every key of the run (after it finished); returns how many."""
        keys = list(self.redis.scan_iter(match=f"{self.prefix}:*", count=1000))
        for i in range(0, len(keys), 1000):
            self.redis.delete(*keys[i:i + 1000])
        return len(keys)


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's stats from its workers': numbers added, lists joined, other values from the first."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key not in merged:
                merged[key] = list(value) if isinstance(value, list) else value
            elif isinstance(value, bool) or not isinstance(value, (int, float, list)):
                continue
            elif isinstance(value, list) and isinstance(merged[key], list):
                merged[key].extend(value)
            elif isinstance(merged[key], (int, float)) and not isinstance(value, list):
                merged[key] += value
    return merged
