#!/usr/bin/env bash
# Partition state and offset in Redis (ingest/sw_checkpoint) against the
# real redis-server: a run that stops half-way, checkpoints, and a new
# engine that loads the checkpoints and resumes at their offsets produce
# exactly the alerts of a straight run. Needs REDIS_URL, SW_GEN, WORK.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env REDIS_URL SW_GEN WORK
tool="$(dirname "$SW_GEN")/sw_checkpoint_check"
. "$here/../lib/redis.sh"
rc() { rcli "$@"; }
pfx=ck-$(date +%s)-$$

out=$("$tool" "$REDIS_URL" "$pfx" 2>&1)
[ $? -eq 0 ] && pass "crash after a checkpoint, resume from Redis: $out" || fail "checkpoint resume" "$out"
[ "$(rc EXISTS "$pfx:ckpt:events:0")" = 1 ] && [ "$(rc EXISTS "$pfx:ckpt:events:1")" = 1 ] \
    && pass "one key per partition: $pfx:ckpt:events:0 and :1" || fail "checkpoint keys"
out=$("$tool" "$REDIS_URL" "$pfx-none" load 2>&1)
grep -q 'load=0' <<<"$out" && pass "no checkpoint yet: load says so (0), it is not an error" || fail "missing checkpoint" "$out"
rc SET "$pfx-bad:ckpt:events:0" "not a checkpoint" > /dev/null
out=$("$tool" "$REDIS_URL" "$pfx-bad" load 2>&1)
grep -q 'is not a surgewatch checkpoint' <<<"$out" && pass "a foreign value under the key is refused with a message" \
    || fail "foreign value" "$out"
done_testing
