# Sourced by integration tests that look at Redis with redis-cli (an
# independent client): REDIS_HOST, REDIS_PORT from REDIS_URL, and rcli.
_hp=${REDIS_URL#redis://}
REDIS_HOST=${_hp%:*}
REDIS_PORT=${_hp##*:}
rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }
