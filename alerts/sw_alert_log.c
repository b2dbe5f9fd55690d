/* sw_alert_log: idempotent, sequenced alert log in Redis (hiredis, Lua). */
#include "sw_alert_log.h"
#include "sw_alert.h"
#include "sw_err.h"
#include "sw_redis.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* t: the Redis server's time in ms, the one clock of every script. */
#define LUA_NOW                                                                \
    "local now = redis.call('TIME')\n"                                         \
    "local t = now[1] * 1000 + math.floor(now[2] / 1000)\n"

/* The Lua helper every script that matches silences shares: 1 when the
 * section matches the pattern ('*': any run of characters). */
#define LUA_MATCH                                                              \
    "local function match(p, s)\n"                                             \
    "  local lp = string.gsub(p, '[%^%$%(%)%%%.%[%]%+%-%?%*]', function(c)\n"  \
    "    if c == '*' then return '.*' end return '%' .. c end)\n"              \
    "  return string.find(s, '^' .. lp .. '$') ~= nil\n"                       \
    "end\n"                                                                    \
    "local function covers(j, section, detector)\n"                            \
    "  local sl = cjson.decode(j)\n"                                           \
    "  return (sl.detector == '*' or sl.detector == detector) and\n"           \
    "    match(sl.sections, section)\n"                                        \
    "end\n" LUA_NOW

/* KEYS: stream, seq, seen, active, last, held, silences, silences:active,
 * sections. ARGV: transition key, alert id, state, JSON (without seq),
 * section, detector. Returns {seq, 1 when written now / 0 when it was
 * there}; seq is 0 for a transition held back by a silence.
 *
 * A published transition gets the next seq; its stream entry "<seq>-1"
 * holds the JSON, the seq of the section's previous alert (prev, for gap
 * detection per section) and the Redis time of the write (t, ms). The
 * active hash holds the JSON with its seq.
 *
 * A transition is held back when its alert is held, or when it raises a
 * new alert that an active silence covers. It is still logged, as entry
 * "<last seq>-N" (N >= 2, or >= 1 before the first seq) with a field
 * silenced = the silence id, and takes no seq; the held hash keeps the
 * alert's latest JSON ("<silence id> <JSON>") until it resolves or the
 * silence ends (sw_alert_log_release). */
static const char script[] = LUA_MATCH
    "local s = redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if s then return {tonumber(s), 0} end\n"
    "redis.call('SADD', KEYS[9], ARGV[5])\n"
    "local sid = nil\n"
    "local held = redis.call('HGET', KEYS[6], ARGV[2])\n"
    "if held then sid = string.match(held, '^(%S+) ')\n"
    "elseif ARGV[3] == 'raised' and"
    " redis.call('HEXISTS', KEYS[4], ARGV[2]) == 0 then\n"
    "  local ids = redis.call('ZRANGEBYSCORE', KEYS[8], '(' .. t, '+inf')\n"
    "  for _, id in ipairs(ids) do\n"
    "    local j = redis.call('HGET', KEYS[7], id)\n"
    "    if j and covers(j, ARGV[5], ARGV[6]) then sid = id break end\n"
    "  end\n"
    "end\n"
    /* an acknowledgement stays with the alert through later transitions */
    "local function keep_ack(json, prior)\n"
    "  if not prior then return json end\n"
    "  local cut = string.find(prior, ',\"acked_by\":', 1, true)\n"
    "  if not cut then return json end\n"
    "  return string.sub(json, 1, -2) .. string.sub(prior, cut)\n"
    "end\n"
    "local json = ARGV[4]\n"
    "if sid then\n"
    "  json = keep_ack(json, held)\n"
    "  local last = redis.call('GET', KEYS[2]) or '0'\n"
    "  redis.call('XADD', KEYS[1], last .. '-*', 'alert', json,"
    " 'silenced', sid, 't', t)\n"
    "  redis.call('HSET', KEYS[3], ARGV[1], 0)\n"
    "  if ARGV[3] == 'resolved' then redis.call('HDEL', KEYS[6], ARGV[2])\n"
    "  else redis.call('HSET', KEYS[6], ARGV[2], sid .. ' ' .. json) end\n"
    "  return {0, 1}\n"
    "end\n"
    "if ARGV[3] ~= 'raised' then\n"
    "  json = keep_ack(json, redis.call('HGET', KEYS[4], ARGV[2]))\n"
    "end\n"
    "local seq = redis.call('INCR', KEYS[2])\n"
    "local prev = redis.call('HGET', KEYS[5], ARGV[5]) or '0'\n"
    "redis.call('XADD', KEYS[1], seq .. '-1', 'alert', json, 'prev', prev,"
    " 't', t)\n"
    "redis.call('HSET', KEYS[3], ARGV[1], seq)\n"
    "redis.call('HSET', KEYS[5], ARGV[5], seq)\n"
    "if ARGV[3] == 'resolved' then redis.call('HDEL', KEYS[4], ARGV[2])\n"
    "else redis.call('HSET', KEYS[4], ARGV[2],"
    " '{\"seq\":' .. seq .. ',' .. string.sub(json, 2)) end\n"
    "return {seq, 1}\n";

/* Publishes an alert JSON: the next seq, the stream entry (with `extra`
 * field/value), the section's last seq, the active hash. */
#define LUA_PUBLISH                                                            \
    "local function publish(json, section, xk, xv)\n"                          \
    "  local seq = redis.call('INCR', KEYS[2])\n"                              \
    "  local prev = redis.call('HGET', KEYS[4], section) or '0'\n"             \
    "  redis.call('XADD', KEYS[1], seq .. '-1', 'alert', json, 'prev', prev,"  \
    " 't', t, xk, xv)\n"                                                       \
    "  redis.call('HSET', KEYS[4], section, seq)\n"                            \
    "  return seq\n"                                                           \
    "end\n"

/* KEYS: stream, seq, active, last, held, silences, silences:active, audit.
 * ARGV: silence id to expire now ('' for none), operator, note.
 * Ends the silences whose time is up (and the one named), then publishes
 * every held alert that no active silence covers any more, as `raised`.
 * Returns {-1} (no such silence), {-2} (it had ended already), or
 * {silences ended, alerts published}. */
static const char release_script[] = LUA_MATCH LUA_PUBLISH
    "local ended, nended = {}, 0\n"
    "if ARGV[1] ~= '' then\n"
    "  local j = redis.call('HGET', KEYS[6], ARGV[1])\n"
    "  if not j then return {-1} end\n"
    "  if not redis.call('ZSCORE', KEYS[7], ARGV[1]) then return {-2} end\n"
    "  local sl = cjson.decode(j)\n"
    "  sl.ended = t\n"
    "  sl.ended_by = ARGV[2]\n"
    "  redis.call('HSET', KEYS[6], ARGV[1], cjson.encode(sl))\n"
    "  redis.call('ZREM', KEYS[7], ARGV[1])\n"
    "  redis.call('XADD', KEYS[8], '*', 'action', 'silence.expire',"
    " 'operator', ARGV[2], 'scope', sl.sections, 'key', ARGV[1], 'old',"
    " 'active', 'new', 'expired', 'version', '', 'note', ARGV[3])\n"
    "  ended[ARGV[1]] = true\n"
    "  nended = 1\n"
    "end\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', t)) do\n"
    "  local j = redis.call('HGET', KEYS[6], id)\n"
    "  if j then\n"
    "    local sl = cjson.decode(j)\n"
    "    sl.ended = sl['until']\n"
    "    redis.call('HSET', KEYS[6], id, cjson.encode(sl))\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[7], id)\n"
    "  ended[id] = true\n"
    "  nended = nended + 1\n"
    "end\n"
    "if nended == 0 then return {0, 0} end\n"
    "local live = {}\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '(' .. t,"
    " '+inf')) do\n"
    "  local j = redis.call('HGET', KEYS[6], id)\n"
    "  if j then table.insert(live, {id, j}) end\n"
    "end\n"
    "local h = redis.call('HGETALL', KEYS[5])\n"
    "local out = {}\n"
    "for i = 1, #h, 2 do\n"
    "  local sid, json = string.match(h[i + 1], '^(%S+) (.*)$')\n"
    "  if sid and ended[sid] then\n"
    "    local section = string.match(json, '\"section\":\"([^\"]*)\"')\n"
    "    local det = string.match(json, '\"detector\":\"([^\"]*)\"')\n"
    "    local other = nil\n"
    "    for _, l in ipairs(live) do\n"
    "      if covers(l[2], section, det) then other = l[1] break end\n"
    "    end\n"
    "    if other then redis.call('HSET', KEYS[5], h[i], other .. ' ' .. "
    "json)\n"
    "    else table.insert(out, {h[i], sid, json, section}) end\n"
    "  end\n"
    "end\n"
    "table.sort(out, function(a, b) return a[1] < b[1] end)\n"
    "for _, o in ipairs(out) do\n"
    "  local json = string.gsub(o[3], '\"state\":\"updated\"',"
    " '\"state\":\"raised\"', 1)\n"
    "  local seq = publish(json, o[4], 'released', o[2])\n"
    "  redis.call('HSET', KEYS[3], o[1],"
    " '{\"seq\":' .. seq .. ',' .. string.sub(json, 2))\n"
    "  redis.call('HDEL', KEYS[5], o[1])\n"
    "end\n"
    "return {nended, #out}\n";

/* KEYS: stream, seq, active, last, held, audit. ARGV: alert id, operator,
 * note. An acknowledgement is a new transition of the alert, state
 * `updated`, with acked_by, acked_at and ack_note (a later ack replaces
 * them): published like any other, or held when the alert is held.
 * Returns {seq (0 when held), section}, or {-1} (not an active alert). */
static const char ack_script[] = LUA_NOW LUA_PUBLISH
    "local function acked(json)\n"
    "  local cut = string.find(json, ',\"acked_by\":', 1, true)\n"
    "  if cut then json = string.sub(json, 1, cut - 1) .. '}' end\n"
    "  json = string.gsub(json, '\"state\":\"raised\"',"
    " '\"state\":\"updated\"', 1)\n"
    "  return string.sub(json, 1, -2) .. ',\"acked_by\":' ..\n"
    "    cjson.encode(ARGV[2]) .. ',\"acked_at\":' .. t .. ',\"ack_note\":'"
    " ..\n"
    "    cjson.encode(ARGV[3]) .. '}'\n"
    "end\n"
    "local function audit(section)\n"
    "  redis.call('XADD', KEYS[6], '*', 'action', 'ack', 'operator', ARGV[2],"
    " 'scope', section, 'key', ARGV[1], 'old', '', 'new', 'acknowledged',"
    " 'version', '', 'note', ARGV[3])\n"
    "end\n"
    "local cur = redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if cur then\n"
    "  local json = acked(string.gsub(cur, '^{\"seq\":%d+,', '{', 1))\n"
    "  local section = string.match(json, '\"section\":\"([^\"]*)\"')\n"
    "  local seq = publish(json, section, 'ack', ARGV[2])\n"
    "  redis.call('HSET', KEYS[3], ARGV[1],"
    " '{\"seq\":' .. seq .. ',' .. string.sub(json, 2))\n"
    "  audit(section)\n"
    "  return {seq, section}\n"
    "end\n"
    "local h = redis.call('HGET', KEYS[5], ARGV[1])\n"
    "if h then\n"
    "  local sid, json = string.match(h, '^(%S+) (.*)$')\n"
    "  json = acked(json)\n"
    "  local section = string.match(json, '\"section\":\"([^\"]*)\"')\n"
    "  local last = redis.call('GET', KEYS[2]) or '0'\n"
    "  redis.call('XADD', KEYS[1], last .. '-*', 'alert', json, 'silenced',"
    " sid, 't', t, 'ack', ARGV[2])\n"
    "  redis.call('HSET', KEYS[5], ARGV[1], sid .. ' ' .. json)\n"
    "  audit(section)\n"
    "  return {0, section}\n"
    "end\n"
    "return {-1}\n";

/* KEYS: silences, silences:active, silences:seq, audit. ARGV: sections
 * pattern, detector ('*': all), until (ms), reason, operator, description
 * for the audit. Returns {id} or {-1, now} when until is not in the
 * future. */
static const char silence_add_script[] = LUA_NOW
    "if tonumber(ARGV[3]) <= t then return {-1, t} end\n"
    "local id = 's' .. redis.call('INCR', KEYS[3])\n"
    "local sl = {id = id, sections = ARGV[1], detector = ARGV[2],"
    " reason = ARGV[4], created_by = ARGV[5], created = t}\n"
    "sl['until'] = tonumber(ARGV[3])\n"
    "redis.call('HSET', KEYS[1], id, cjson.encode(sl))\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], id)\n"
    "redis.call('XADD', KEYS[4], '*', 'action', 'silence.add', 'operator',"
    " ARGV[5], 'scope', ARGV[1], 'key', id, 'old', '', 'new', ARGV[6],"
    " 'version', '', 'note', ARGV[4])\n"
    "return {id}\n";

struct sw_alert_log {
    redisContext *c;
    char sha[41];
    char k_stream[128], k_seq[128], k_seen[128], k_active[128], k_last[128];
    char k_held[128], k_sil[128], k_sil_active[128], k_sil_seq[128];
    char k_audit[128], k_sections[128];
    uint64_t repeats;
};

sw_alert_log_t *sw_alert_log_new(const char *url, const char *prefix,
                                 int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
    if (prefix == NULL || *prefix == '\0' || strlen(prefix) > 64) {
        snprintf(errstr, errstr_size,
                 "bad key prefix (accepted: 1..64 "
                 "characters)");
        return NULL;
    }
    sw_alert_log_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(l->k_stream, sizeof(l->k_stream), "%s:alerts", prefix);
    snprintf(l->k_seq, sizeof(l->k_seq), "%s:alerts:seq", prefix);
    snprintf(l->k_seen, sizeof(l->k_seen), "%s:alerts:seen", prefix);
    snprintf(l->k_active, sizeof(l->k_active), "%s:alerts:active", prefix);
    snprintf(l->k_last, sizeof(l->k_last), "%s:alerts:last", prefix);
    snprintf(l->k_held, sizeof(l->k_held), "%s:alerts:held", prefix);
    snprintf(l->k_sil, sizeof(l->k_sil), "%s:silences", prefix);
    snprintf(l->k_sil_active, sizeof(l->k_sil_active), "%s:silences:active",
             prefix);
    snprintf(l->k_sil_seq, sizeof(l->k_sil_seq), "%s:silences:seq", prefix);
    snprintf(l->k_audit, sizeof(l->k_audit), "%s:audit", prefix);
    snprintf(l->k_sections, sizeof(l->k_sections), "%s:sections", prefix);
    l->c = sw_redis_connect(url, timeout_ms, errstr, errstr_size);
    if (l->c == NULL)
        goto fail;
    /* the write script is loaded on the first write: a reader (ctl audit
     * as a read-only user) needs no SCRIPT LOAD */
    return l;
fail:
    sw_alert_log_destroy(&l);
    return NULL;
}

void sw_alert_log_destroy(sw_alert_log_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    if ((*self_p)->c)
        redisFree((*self_p)->c);
    free(*self_p);
    *self_p = NULL;
}

static int write_batch(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, int *noscript, char *errstr,
                       size_t errstr_size);

/* SCRIPT LOAD of the write script; its SHA1 into self->sha. */
static int load_script(sw_alert_log_t *self, char *errstr, size_t errstr_size)
{
    redisReply *r = redisCommand(self->c, "SCRIPT LOAD %s", script);
    if (sw_redis_reply_error(self->c, r, "SCRIPT LOAD", errstr, errstr_size) ||
        r->type != REDIS_REPLY_STRING || r->len != 40) {
        if (r && r->type != REDIS_REPLY_ERROR)
            snprintf(errstr, errstr_size, "SCRIPT LOAD: unexpected reply");
        if (r)
            freeReplyObject(r);
        return SW_ERR_REDIS;
    }
    memcpy(self->sha, r->str, 40);
    self->sha[40] = '\0';
    freeReplyObject(r);
    return 0;
}

int sw_alert_log_write(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, char *errstr, size_t errstr_size)
{
    int noscript = 0;
    if (self->sha[0] == '\0' && load_script(self, errstr, errstr_size))
        return SW_ERR_REDIS;
    int rc = write_batch(self, alerts, n, seqs, &noscript, errstr, errstr_size);
    if (rc == 0 || !noscript)
        return rc;
    /* Redis lost its script cache (a restart): load it again and write
     * the batch again; what was written is not written twice */
    if (load_script(self, errstr, errstr_size))
        return SW_ERR_REDIS;
    return write_batch(self, alerts, n, seqs, &noscript, errstr, errstr_size);
}

static int write_batch(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, int *noscript, char *errstr,
                       size_t errstr_size)
{
    if (self->c->err) {
        snprintf(errstr, errstr_size, "Redis connection: %s", self->c->errstr);
        return SW_ERR_REDIS;
    }
    for (size_t i = 0; i < n; i++) {
        const sw_alert_t *a = &alerts[i];
        char json[SW_ALERT_JSON_MAX], tkey[SW_ALERT_ID_MAX + 64];
        size_t jl = sw_alert_to_json(a, 0, json, sizeof(json));
        /* tseq tells apart two transitions of one alert with the same
         * state and window (updates while late data is reconciled) */
        int tl =
            snprintf(tkey, sizeof(tkey), "%s|%s|%lld|%s%lu", a->alert_id,
                     sw_alert_state_name(a->state), (long long)a->window_end,
                     a->retracted ? "r" : "", (unsigned long)a->tseq);
        const char *state = sw_alert_state_name(a->state);
        const char *det = sw_detector_name(a->detector);
        const char *argv[] = {
            "EVALSHA",      self->sha,          "9",
            self->k_stream, self->k_seq,        self->k_seen,
            self->k_active, self->k_last,       self->k_held,
            self->k_sil,    self->k_sil_active, self->k_sections,
            tkey,           a->alert_id,        state,
            json,           a->section,         det};
        size_t argl[18];
        for (size_t k = 0; k < 18; k++)
            argl[k] = strlen(argv[k]);
        argl[12] = (size_t)tl;
        argl[15] = jl;
        if (redisAppendCommandArgv(self->c, 18, argv, argl) != REDIS_OK) {
            snprintf(errstr, errstr_size, "Redis: %s", self->c->errstr);
            return SW_ERR_REDIS;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(self->c, (void **)&r) != REDIS_OK || r == NULL) {
            snprintf(errstr, errstr_size, "Redis: %s",
                     self->c->err ? self->c->errstr : "no reply");
            return SW_ERR_REDIS; /* the connection is unusable now */
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_INTEGER) {
            if (seqs)
                seqs[i] = (uint64_t)r->element[0]->integer;
            if (r->element[1]->type == REDIS_REPLY_INTEGER &&
                r->element[1]->integer == 0)
                self->repeats++;
        } else if (rc == 0) {
            snprintf(errstr, errstr_size, "alert log script: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
            if (r->type == REDIS_REPLY_ERROR &&
                strncmp(r->str, "NOSCRIPT", 8) == 0)
                *noscript = 1;
            rc = SW_ERR_REDIS;
        }
        freeReplyObject(r);
    }
    return rc;
}

uint64_t sw_alert_log_repeats(const sw_alert_log_t *self)
{
    return self->repeats;
}

redisContext *sw_alert_log_redis(sw_alert_log_t *self)
{
    return self->c;
}

/* Runs a script with EVAL; the reply must be an array. NULL with errstr
 * set otherwise. */
static redisReply *eval(sw_alert_log_t *self, int argc, const char **argv,
                        char *errstr, size_t errstr_size)
{
    redisReply *r = redisCommandArgv(self->c, argc, argv, NULL);
    if (sw_redis_reply_error(self->c, r, "script", errstr, errstr_size)) {
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        snprintf(errstr, errstr_size, "script: unexpected reply");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int sw_alert_log_release(sw_alert_log_t *self, const char *expire_id,
                         const char *op, const char *note, int *ended,
                         int *published, char *errstr, size_t errstr_size)
{
    const char *argv[] = {"EVAL",        release_script,
                          "8",           self->k_stream,
                          self->k_seq,   self->k_active,
                          self->k_last,  self->k_held,
                          self->k_sil,   self->k_sil_active,
                          self->k_audit, expire_id ? expire_id : "",
                          op ? op : "",  note ? note : ""};
    redisReply *r = eval(self, 14, argv, errstr, errstr_size);
    if (r == NULL)
        return SW_ERR_REDIS;
    long long a = r->element[0]->integer;
    long long b = r->elements > 1 ? r->element[1]->integer : 0;
    freeReplyObject(r);
    if (a == -1) {
        snprintf(errstr, errstr_size, "no silence %s", expire_id);
        return SW_ERR_NOTFOUND;
    }
    if (a == -2) {
        snprintf(errstr, errstr_size, "silence %s has ended already",
                 expire_id);
        return SW_ERR_INVAL;
    }
    if (ended)
        *ended = (int)a;
    if (published)
        *published = (int)b;
    return 0;
}

int sw_alert_log_ack(sw_alert_log_t *self, const char *alert_id, const char *op,
                     const char *note, uint64_t *seq, char *section,
                     size_t section_size, char *errstr, size_t errstr_size)
{
    const char *argv[] = {"EVAL",         ack_script,   "6",
                          self->k_stream, self->k_seq,  self->k_active,
                          self->k_last,   self->k_held, self->k_audit,
                          alert_id,       op,           note ? note : ""};
    redisReply *r = eval(self, 12, argv, errstr, errstr_size);
    if (r == NULL)
        return SW_ERR_REDIS;
    if (r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer < 0) {
        freeReplyObject(r);
        snprintf(errstr, errstr_size,
                 "%s is not an active alert (acknowledge an alert that is "
                 "raised and not resolved; `surgewatch ctl alerts` lists "
                 "them)",
                 alert_id);
        return SW_ERR_NOTFOUND;
    }
    *seq = (uint64_t)r->element[0]->integer;
    if (section && r->elements > 1 && r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(section, section_size, "%s", r->element[1]->str);
    freeReplyObject(r);
    return 0;
}

int sw_alert_log_silence_add(sw_alert_log_t *self, const char *sections,
                             const char *detector, int64_t until_ms,
                             const char *reason, const char *op,
                             const char *description, char *id, size_t id_size,
                             char *errstr, size_t errstr_size)
{
    char until[24];
    snprintf(until, sizeof(until), "%lld", (long long)until_ms);
    const char *argv[] = {"EVAL",
                          silence_add_script,
                          "4",
                          self->k_sil,
                          self->k_sil_active,
                          self->k_sil_seq,
                          self->k_audit,
                          sections,
                          detector,
                          until,
                          reason ? reason : "",
                          op,
                          description ? description : ""};
    redisReply *r = eval(self, 13, argv, errstr, errstr_size);
    if (r == NULL)
        return SW_ERR_REDIS;
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(errstr, errstr_size,
                 "the end of the silence is not in the future by the Redis "
                 "server's clock");
        freeReplyObject(r);
        return SW_ERR_RANGE;
    }
    snprintf(id, id_size, "%s", r->element[0]->str);
    freeReplyObject(r);
    return 0;
}

/* ---------------------------------------------------------- reading */

uint64_t sw_alert_log_id_parse(const char *id, uint64_t *ms)
{
    unsigned long long s, n;
    char tail;
    *ms = 0;
    if (sscanf(id, "%llu-%llu%c", &s, &n, &tail) != 2)
        return 0;
    *ms = (uint64_t)s;
    return n == 1 && s >= 1 ? (uint64_t)s : 0;
}

int sw_alert_log_entry_decode(const redisReply *e, sw_wire_alert_t *w,
                              char *errstr, size_t errsz)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errsz, "not a stream entry");
        return -1;
    }
    const redisReply *f = e->element[1];
    const char *json = NULL;
    size_t jl = 0;
    uint64_t prev = 0;
    int64_t t = 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "alert") == 0) {
            json = v->str;
            jl = v->len;
        } else if (strcmp(k->str, "prev") == 0) {
            prev = strtoull(v->str, NULL, 10);
        } else if (strcmp(k->str, "t") == 0) {
            t = strtoll(v->str, NULL, 10);
        }
    }
    if (json == NULL) {
        snprintf(errstr, errsz, "no 'alert' field");
        return -1;
    }
    if (sw_alert_from_json(json, jl, w, errstr, errsz))
        return -1;
    uint64_t ms;
    w->seq = sw_alert_log_id_parse(e->element[0]->str, &ms);
    if (w->seq == 0) {
        snprintf(errstr, errsz, "entry id '%s' is not <seq>-1",
                 e->element[0]->str);
        return -1;
    }
    w->prev = prev;
    w->logged_at = t;
    return 0;
}
