#!/usr/bin/env bash
# Staging benchmark: `sdq extract` of a generated registry export, side by side in one run with `psql \copy` of
# the same CSV into an equivalent table (one text column per export column, as the raw staging keeps them).
# Reports rows/s of each, their ratio, and the extract's peak memory at two sizes (flat memory = same peak).
#
#   bench/staging/run.sh [ROWS] [WORKDIR]      (default 1000000 rows, /tmp/sdq-bench-staging)
set -euo pipefail
rows=${1:-1000000}
work=${2:-/tmp/sdq-bench-staging}
repo=$(cd "$(dirname "$0")/../.." && pwd)
small=$((rows / 4))
mkdir -p "$work"

dotnet build "$repo/src/StudentDataQuality.Cli" -c Release -v q -nologo >/dev/null
sdq="$repo/src/StudentDataQuality.Cli/bin/Release/net10.0/sdq"
export SDQ_DATA_DIR="$work/data"
unset SDQ_DB

for n in "$small" "$rows"; do
  if [ ! -f "$work/p$n/export/students.csv" ]; then
    "$sdq" generate --students "$n" --schools $((n / 500)) --seed 1 --defect-rate 0.03 --out "$work/p$n" >/dev/null
  fi
done
"$sdq" db start >/dev/null
url=$("$sdq" db url)
csv="$work/p$rows/export/students.csv"
columns=$(head -n 1 "$csv" | tr -d '\r' | tr ',' '\n' | awk '{printf "%s\"%s\" text", (NR>1?", ":""), $0}')
now() { date +%s.%N; }

# The peer gets what staging gets: its table is created in the same transaction as the COPY (which lets
# PostgreSQL skip WAL for it under wal_level=minimal, as it does for a round's new partition).
psql_rate() {
  psql "$url" -q -c "DROP TABLE IF EXISTS public.bench_psql_copy"
  local t0 t1
  t0=$(now)
  psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
BEGIN;
CREATE TABLE public.bench_psql_copy ($columns);
\\copy public.bench_psql_copy FROM '$csv' WITH (FORMAT csv, HEADER true)
COMMIT;
SQL
  t1=$(now)
  psql "$url" -q -c "DROP TABLE public.bench_psql_copy"
  awk -v n="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}

sdq_rate() { # $1 = rows, $2 = csv; prints "rows_per_s peak_kb"
  local round="bench-$RANDOM$RANDOM" t0 t1 peak
  t0=$(now)
  peak=$( { /usr/bin/time -f "%M" "$sdq" extract --round "$round" --round-date 2026-10-15 "$2" >/dev/null; } 2>&1 | tail -n 1)
  t1=$(now)
  awk -v n="$1" -v a="$t0" -v b="$t1" -v p="$peak" 'BEGIN { printf "%.0f %s", n / (b - a), p }'
}

# Alternate the two, twice, so that neither gets a warmer cache or a quieter machine.
declare -a P S
for i in 1 2; do
  P+=("$(psql_rate)")
  S+=("$(sdq_rate "$rows" "$csv")")
done
small_result=$(sdq_rate "$small" "$work/p$small/export/students.csv")

best_p=$(printf '%s\n' "${P[@]}" | sort -n | tail -n 1)
best_s=$(printf '%s\n' "${S[@]}" | awk '{print $1}' | sort -n | tail -n 1)
peak_big=$(printf '%s\n' "${S[@]}" | awk '{print $2}' | sort -n | tail -n 1)
echo "rows: $rows ($(du -h "$csv" | cut -f1) CSV, UTF-8)"
echo "psql \\copy into an equivalent table: runs ${P[*]} rows/s"
echo "sdq extract (raw + typed + version 1):  runs $(printf '%s\n' "${S[@]}" | awk '{print $1}' | xargs) rows/s"
awk -v s="$best_s" -v p="$best_p" 'BEGIN { printf "ratio sdq / psql (best of each): %.2f\n", s / p }'
echo "peak memory of sdq extract: $((${small_result#* } / 1024)) MB at $small rows, $((peak_big / 1024)) MB at $rows rows"
