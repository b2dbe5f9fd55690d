#!/usr/bin/env bash
# docs/events.md cannot drift from the code: every rejection reason, event
# type and field the code knows is documented in its table.
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
done_testing
