#!/usr/bin/env bash
# Every acknowledged write can be read back and replicated: the limits the
# record decoder enforces (values per record, bytes per record, bytes per
# value) are refused at write time with a clear error, a write at each
# limit is stored, survives a restart (the start-up load decodes it) and
# reaches a peer (whose take-in check decodes it). A field given twice in
# one request is refused.
. "$(dirname "$0")/lib.sh"
export UNIOND_ANTI_ENTROPY_MS=2000

A=$T/a B=$T/b
node_init "$A" haishu-01 haishu
node_init "$B" yinzhou-01 yinzhou
node_start "$A" || exit 1
node_start "$B" || exit 1
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
blob_size() { git_store "$A" ls-tree -r -l HEAD | awk -v id="$1" '$5 ~ id"$" {print $4}'; }

# ---- a field twice ---------------------------------------------------------------
out=$(ctl "$A" add name=甲 name=乙 2>&1); rc=$?
check "add name=a name=b is refused (rc $rc)" bash -c "[ $rc = 1 ] && grep -q 'given twice' <<<'$out'"
out=$(ctl "$A" add name=甲 姓名=乙 2>&1); rc=$?
check "a field twice through its alias is refused (rc $rc)" bash -c "[ $rc = 1 ] && grep -q 'given twice' <<<'$out'"
check "nothing was stored by the refusals" test "$(ctl "$A" list --count)" = 0

# ---- bytes per value (SCHEMA_VALUE_MAX = 4096) ---------------------------------------
v4096=$(head -c 4096 /dev/zero | tr '\0' n)
id_val=$(ctl "$A" add name=值 notes="$v4096"); rc=$?
check "a 4096-byte value is stored" bash -c "[ $rc = 0 ] && [[ '$id_val' =~ ^[0-9a-z]{16}$ ]]"
out=$(ctl "$A" add name=值 notes="${v4096}n" 2>&1); rc=$?
check "a 4097-byte value is refused (rc $rc)" bash -c "[ $rc = 1 ] && grep -q 'too long' <<<'$out'"

# ---- values per record (RECORD_ENTRIES_MAX = 4096) -----------------------------------
# name, office, joined, status + 4092 benefits = 4096 values
els() { seq -f "b%g" 1 "$1" | paste -sd';'; }
id_ent=$(ctl "$A" add name=条目 benefits="$(els 4092)"); rc=$?
check "a record of exactly 4096 values is stored" bash -c "[ $rc = 0 ] && [[ '$id_ent' =~ ^[0-9a-z]{16}$ ]]"
out=$(ctl "$A" add name=条目 benefits="$(els 4093)" 2>&1); rc=$?
check "4097 values are refused, saying the limit (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'more than the 4096' <<<'$out'"
out=$(ctl "$A" edit "$id_ent" benefits+=b9999 2>&1); rc=$?
check "an edit past 4096 values is refused too (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'more than the 4096' <<<'$out'"

# ---- bytes per record (RECORD_BLOB_MAX = 1 MiB) --------------------------------------
# elements of 64 four-byte characters; 3452 of them make a record a few
# bytes under 1 MiB, one more passes it. Sent in chunks: one argument may
# not exceed 128 KiB.
big=$(printf '𠀀%.0s' $(seq 1 60))
bigels() { seq -f "${big}%04g" "$1" "$2" | paste -sd';'; }
bigargs() {
    local k=$1 s=1 e out=()
    while [ "$s" -le "$k" ]; do
        e=$((s + 299)); [ "$e" -gt "$k" ] && e=$k
        out+=("benefits+=$(bigels "$s" "$e")"); s=$((e + 1))
    done
    printf '%s\0' "${out[@]}"
}
mapfile -d '' args < <(bigargs 3452)
id_big=$(ctl "$A" add name=大 "${args[@]}"); rc=$?
size=$(blob_size "$id_big")
check "a record of 1 MiB less one element is stored ($size bytes)" \
    bash -c "[ $rc = 0 ] && [ '${size:-0}' -le 1048576 ] && [ '${size:-0}' -gt $((1048576 - 304)) ]"
mapfile -d '' args < <(bigargs 3453)
out=$(ctl "$A" add name=大 "${args[@]}" 2>&1); rc=$?
check "one element more (past 1 MiB) is refused, saying the limit (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'more than the 1048576 bytes' <<<'$out'"
check "only the records at the limits were stored" test "$(ctl "$A" list --count)" = 3

# ---- read back after restart, replicate ----------------------------------------------
check "SIGTERM exits cleanly" node_stop "$A"
node_start "$A" || exit 1
check "after restart the 4096-value record reads back" \
    bash -c "'$UNIONCTL' -d '$A' show '$id_ent' --json | grep -q b4092"
check "after restart the 1 MiB record reads back" \
    bash -c "'$UNIONCTL' -d '$A' show '$id_big' --json | grep -q '${big}3452'"
ctl "$A" peer add yinzhou-01 "$(addr "$B")" "$(fpr "$B")" >/dev/null
ctl "$B" peer add haishu-01 "$(addr "$A")" "$(fpr "$A")" >/dev/null
ctl "$B" sync >/dev/null 2>&1
check "the records at the limits reach a peer" wait_until 30 bash -c \
    "'$UNIONCTL' -d '$B' show '$id_big' >/dev/null && '$UNIONCTL' -d '$B' show '$id_ent' >/dev/null && '$UNIONCTL' -d '$B' show '$id_val' >/dev/null"
check "the peer's copy is the same bytes" bash -c \
    "[ \"\$(git --git-dir='$B/store.git' rev-parse 'HEAD:members' 2>/dev/null)\" = \"\$(git --git-dir='$A/store.git' rev-parse 'HEAD:members')\" ]"
check "fsck clean on both" bash -c "$(declare -f fsck_clean git_store); fsck_clean '$A' && fsck_clean '$B'"
check "no sanitizer reports" bash -c "$(declare -f log_clean); log_clean '$A' && log_clean '$B'"
done_testing
