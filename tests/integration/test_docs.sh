#!/usr/bin/env bash
# The documentation cannot drift from the code: every rejection reason, event
# type and field the code knows is documented in docs/events.md's table; every
# command, flag and SURGEWATCH_* variable the documents name exists (below).
# Needs SW_BIN, SW_GEN and WORK (from tests/run-all); no servers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN
doc="$here/../../docs/events.md"
lister="$(dirname "$SW_GEN")/sw_list_reasons"
missing=()
while IFS= read -r item; do
    case "$item" in
        type:*|field:*) name=${item#*:} ;;
        *) name=$item ;;
    esac
    grep -q "^| \`$name\`" "$doc" || missing+=("$item")
done < <("$lister")
[ "${#missing[@]}" -eq 0 ] && pass "docs/events.md documents every reason, type and field of the code" \
    || fail "docs/events.md is missing table rows" "${missing[@]}"
"$SW_BIN" publish --help | grep -q 'docs/events.md' && pass "publish --help points to docs/events.md" || fail "publish --help"

# ---------------------------------------------------------------------------
# The commands, flags and variables the documentation names exist in the
# code. The documents: README.md, docs/*.md and docker/README.md.
#   (a) every `surgewatch WORD` (code blocks and inline code) names a command
#       that `surgewatch --help` lists
#   (b) every -f/--flag after `surgewatch CMD` in a code block is in
#       `surgewatch CMD --help` and accepted by CMD's option parser (run as
#       `CMD --flag=x --zz-docs-probe`, which stops at the unknown probe
#       before anything starts)
#   (c) every SURGEWATCH_* variable is in some command's --help; the flags
#       and variables of the precedence tables of docs/configuration.md and
#       of every [hub] key are in `run`/`publish`/`hub` --help. The keys of
#       the configuration tables themselves: tests/integration/test_config.sh
#       ("every documented key is accepted by the code").
root=$(cd "$here/../.." && pwd)
W=${WORK:-$(mktemp -d)}/docs
mkdir -p "$W"
PY=/usr/bin/python3
docs=("$root/README.md" "$root"/docs/*.md)
[ -f "$root/docker/README.md" ] && docs+=("$root/docker/README.md")
rel() { echo "${1#"$root"/}"; }
cat > "$W/extract.py" <<'PYEOF'
import re, shlex, sys
# usage: extract.py FILE... ; prints TSV lines:
#   cmd  FILE  LINE  WORD            every `surgewatch WORD` in code (blocks and inline)
#   flag FILE  LINE  CMD  FLAG       every -f/--flag after `surgewatch CMD` in a code block
# inline code: `surgewatch WORD` anywhere in the span
SW = re.compile(r"(?:^|[\s/;&|(`'\"])surgewatch[ \t\n]+([A-Za-z][A-Za-z0-9_-]*)")
# code blocks: surgewatch where a command starts (line start, after && | ; $(,
# after VAR=value assignments; any path before it), not in a # comment
CMDPOS = re.compile(r"(?:^|&&|\|\||[|;(]|\$\()\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:\S*/)?surgewatch[ \t]+([A-Za-z][A-Za-z0-9_-]*)")
def tokens(rest):
    lx = shlex.shlex(rest, posix=True, punctuation_chars=True)
    lx.whitespace_split = True
    out = []
    try:
        for t in lx:
            if t in ("|", "||", "&&", ";", "&", ">", ">>", "<", "2>", ")", "(") or t.startswith(("|", ";", "&", ">", "<")):
                break
            out.append(t)
    except ValueError:  # unbalanced quotes: take the plain words
        out = rest.split()
    return out
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    inblock = False
    prose = []  # (line number, text) outside fences
    block = []
    for n, l in enumerate(lines, 1):
        if l.lstrip().startswith("```"):
            if inblock:
                # logical lines: join backslash continuations
                i = 0
                while i < len(block):
                    start, cur = block[i]
                    while cur.rstrip().endswith("\\") and i + 1 < len(block):
                        i += 1
                        cur = cur.rstrip()[:-1] + " " + block[i][1]
                    i += 1
                    code = re.sub(r"(^|\s)#.*", "", cur) if not cur.lstrip().startswith("#") else ""
                    for m in CMDPOS.finditer(code):
                        cmd = m.group(1)
                        print("cmd\t%s\t%d\t%s" % (path, start, cmd))
                        for t in tokens(code[m.end():]):
                            if re.match(r"^--?[A-Za-z]", t):
                                print("flag\t%s\t%d\t%s\t%s" % (path, start, cmd, t.split("=", 1)[0]))
                block = []
            inblock = not inblock
            continue
        if inblock:
            block.append((n, l))
        else:
            prose.append((n, l))
    # inline code spans (may run over a line break) outside the fences
    joined = "\n".join(l for _, l in prose)
    nums = [n for n, _ in prose]
    for m in re.finditer(r"`([^`]+)`", joined):
        line = nums[joined.count("\n", 0, m.start())]
        for w in SW.finditer(m.group(1)):
            print("cmd\t%s\t%d\t%s" % (path, line, w.group(1)))
PYEOF
$PY "$W/extract.py" "${docs[@]}" > "$W/mentions.tsv" || fail "reading the documents' code"
commands=$("$SW_BIN" --help 2>&1 | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
[ -n "$commands" ] && pass "surgewatch --help lists the commands: $(echo $commands)" \
    || fail "surgewatch --help lists the commands"

# (a)
for d in "${docs[@]}"; do
    bad=() n=0
    while IFS=$'\t' read -r kind file line word; do
        [ "$kind" = cmd ] && [ "$file" = "$d" ] || continue
        n=$((n + 1))
        grep -qx -- "$word" <<< "$commands" || bad+=("$(rel "$file"):$line: surgewatch $word: no such command")
    done < "$W/mentions.tsv"
    [ ${#bad[@]} -eq 0 ] && pass "$(rel "$d"): every 'surgewatch COMMAND' names a command ($n mentions)" \
        || fail "$(rel "$d"): commands that do not exist" "${bad[@]}"
done

# (b)
declare -A HELP PROBE
help_has() { # CMD FLAG: FLAG as a word of CMD --help
    [ -n "${HELP[$1]:-}" ] || HELP[$1]=$("$SW_BIN" "$1" --help 2>&1)
    grep -qE -- "(^|[[:space:],/\[(])$2([][[:space:],=/)]|$)" <<< "${HELP[$1]}"
}
accepted() { # CMD FLAG: the option parser knows FLAG (cached: 0 yes, else the message)
    local key="$1 $2" out rc
    if [ -z "${PROBE[$key]:-}" ]; then
        if [[ $2 == --* ]]; then
            out=$(timeout 10 "$SW_BIN" "$1" "$2=x" --zz-docs-probe < /dev/null 2>&1)
        else
            out=$(timeout 10 "$SW_BIN" "$1" "$2" x --zz-docs-probe < /dev/null 2>&1)
        fi
        rc=$?
        if [ "$rc" = 124 ] || [ "$rc" = 0 ]; then
            PROBE[$key]="exit $rc (expected the probe option to be refused): $(head -1 <<< "$out")"
        elif grep -qE -- "unrecognized option '$2|invalid option -- '${2#-}'" <<< "$out"; then
            PROBE[$key]=$(head -1 <<< "$out")
        else
            PROBE[$key]=0
        fi
    fi
    [ "${PROBE[$key]}" = 0 ]
}
for c in $commands; do
    bad=() n=0
    declare -A seen=()
    while IFS=$'\t' read -r kind file line cmd flag; do
        [ "$kind" = flag ] && [ "$cmd" = "$c" ] || continue
        n=$((n + 1))
        where="$(rel "$file"):$line: surgewatch $c $flag"
        help_has "$c" "$flag" || bad+=("$where: not in surgewatch $c --help")
        accepted "$c" "$flag" || bad+=("$where: ${PROBE["$c $flag"]}")
        seen[$flag]=1
    done < "$W/mentions.tsv"
    if [ "$n" -eq 0 ]; then
        continue
    fi
    [ ${#bad[@]} -eq 0 ] \
        && pass "docs: the ${#seen[@]} flags used with 'surgewatch $c' in code blocks ($n uses) are in its --help and accepted: $(echo "${!seen[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')" \
        || fail "docs: flags used with 'surgewatch $c' that it does not take" "${bad[@]}"
    unset seen
done
# the probe itself tells a bad flag from a good one
if ! accepted publish --no-such-flag-in-docs && accepted publish --dry-run; then
    pass "the option probe refuses an unknown flag and accepts a known one"
else
    fail "the option probe refuses an unknown flag and accepts a known one" "${PROBE[publish --no-such-flag-in-docs]:-}"
fi

# (c) variables
allhelp=$(for c in $commands; do "$SW_BIN" "$c" --help 2>&1; done)
helpvars=$(grep -oE 'SURGEWATCH_[A-Z0-9_]+(<[A-Z]+>)?' <<< "$allhelp" | sort -u)
for d in "${docs[@]}"; do
    bad=() n=0
    while IFS=: read -r line var; do
        n=$((n + 1))
        case $var in
            *'<'*|*_) pre=${var%%<*}; grep -q "^$pre" <<< "$helpvars" && continue ;; # a pattern: SURGEWATCH_KAFKA_<PROPERTY>
            SURGEWATCH_KAFKA_*) grep -qx 'SURGEWATCH_KAFKA_<KEY>' <<< "$helpvars" && continue ;; # one of SURGEWATCH_KAFKA_<KEY>
            *) grep -qx -- "$var" <<< "$helpvars" && continue ;;
        esac
        bad+=("$(rel "$d"):$line: $var is in no command's --help")
    done < <(grep -noE 'SURGEWATCH_[A-Z0-9_]+(<[A-Z_]+>)?' "$d")
    [ "$n" -eq 0 ] && continue
    [ ${#bad[@]} -eq 0 ] && pass "$(rel "$d"): every SURGEWATCH_* variable ($n mentions) is in a command's --help" \
        || fail "$(rel "$d"): variables the commands do not name" "${bad[@]}"
done
# (c) the precedence tables of configuration.md: | setting | default | file | env | flag |
$PY - "$root/docs/configuration.md" > "$W/precedence.tsv" <<'PYEOF'
import re, sys
# the first table is the Kafka settings (publish, and run), the second the
# worker's own (run)
tables, table = iter(["publish", "run"]), None
for n, l in enumerate(open(sys.argv[1]), 1):
    if l.startswith("| setting | default | config file | environment | flag |"):
        table = next(tables, None)
        continue
    if not l.startswith("|"):
        table = None
    if table and not l.startswith("|---"):
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        if len(cells) >= 5:
            for v in re.findall(r"SURGEWATCH_[A-Z0-9_<>]+", cells[3]):
                print("%d\t%s\tenv\t%s" % (n, table, v))
            for f in re.findall(r"`(--?[A-Za-z][A-Za-z0-9-]*)", cells[4]):
                print("%d\t%s\tflag\t%s" % (n, table, f))
PYEOF
bad=() n=0
while IFS=$'\t' read -r line cmd kind item; do
    n=$((n + 1))
    if [ "$kind" = flag ]; then
        help_has "$cmd" "$item" && accepted "$cmd" "$item" || bad+=("docs/configuration.md:$line: $item: not taken by surgewatch $cmd")
    else
        case $item in *'<'* | SURGEWATCH_KAFKA_?*) item=SURGEWATCH_KAFKA_'<KEY>' ;; esac
        grep -qF -- "$item" <<< "${HELP[$cmd]:-$("$SW_BIN" "$cmd" --help 2>&1)}" || bad+=("docs/configuration.md:$line: $item: not in surgewatch $cmd --help")
    fi
done < "$W/precedence.tsv"
[ "$n" -ge 20 ] && [ ${#bad[@]} -eq 0 ] \
    && pass "docs/configuration.md: the $n variables and flags of the precedence tables are in publish/run --help and accepted" \
    || fail "docs/configuration.md: the precedence tables ($n items)" "${bad[@]}"
# (c) [hub]: each key has SURGEWATCH_HUB_<KEY> (log_level: SURGEWATCH_LOG_LEVEL) and --key
bad=() n=0
while read -r key; do
    n=$((n + 1))
    var=SURGEWATCH_HUB_$(tr 'a-z' 'A-Z' <<< "$key")
    [ "$key" = log_level ] && var=SURGEWATCH_LOG_LEVEL
    flag=--${key//_/-}
    help_has hub "$flag" && accepted hub "$flag" || bad+=("[hub] $key: hub does not take $flag")
    grep -qF -- "$var" <<< "${HELP[hub]}" || bad+=("[hub] $key: $var is not in hub --help")
done < <(sed -n '/^## \[hub\]/,/^## /p' "$root/docs/configuration.md" | sed -n 's/^| `\([a-z_]*\)` |.*/\1/p')
[ "$n" -ge 8 ] && [ ${#bad[@]} -eq 0 ] \
    && pass "docs/configuration.md: every [hub] key ($n) has its SURGEWATCH_HUB_* variable and flag in hub --help" \
    || fail "docs/configuration.md: [hub] keys without their variable or flag ($n keys)" "${bad[@]}"
done_testing
