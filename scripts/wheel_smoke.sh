#!/usr/bin/env bash
# The wheel a user installs starts the screen: build it from a clean clone of this repository's
# HEAD (committed files only: what a release would contain), install it with its dependencies
# from PyPI into a fresh venv, and run the SIM demo under tmux from a directory outside any
# source tree (so nothing can be imported from a checkout by accident) with empty XDG dirs. The
# demo must paint the ladder, quit on `q` with exit status 0, and print no traceback.
#
#   bash scripts/wheel_smoke.sh            # PYTHON=python3.12 to choose the interpreter
#
# Needs git, tmux and network access to PyPI (pip's cache is used). Each step is timed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/tradeterm-wheel-smoke.XXXXXX")
socket="tradeterm-wheel-smoke-$$"
started=$SECONDS

cleanup() {
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step_started=$SECONDS
step() {
    printf '[%3ds] %s\n' "$((SECONDS - step_started))" "$*"
    step_started=$SECONDS
}
fail() {
    echo "wheel smoke: $*" >&2
    exit 1
}
quietly() { # run "$@", showing its output only when it fails
    "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "failed: $*"; }
}

command -v tmux >/dev/null || fail "tmux is not installed"
git clone --quiet --no-hardlinks "$repo" "$work/src"
step "cloned $(git -C "$work/src" rev-parse --short HEAD)"

quietly "$python" -m pip wheel --no-deps --wheel-dir "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/tradeterm-*.whl)
step "built $(basename "$wheel")"

quietly "$python" -m venv "$work/venv"
quietly "$work/venv/bin/python" -m pip install --disable-pip-version-check "$wheel"
step "installed it with its dependencies into a fresh venv"

mkdir -p "$work/run"
cd "$work/run"
unset PYTHONPATH
export XDG_CONFIG_HOME="$work/home/config" XDG_DATA_HOME="$work/home/data" \
    XDG_STATE_HOME="$work/home/state" XDG_CACHE_HOME="$work/home/cache"
where=$("$work/venv/bin/python" -c 'import tradeterm; print(tradeterm.__file__)')
[[ $where == "$work/venv/"* ]] || fail "tradeterm was imported from $where, not the wheel"

tmux -L "$socket" new-session -d -s smoke -x 120 -y 40 \
    -e "XDG_CONFIG_HOME=$XDG_CONFIG_HOME" -e "XDG_DATA_HOME=$XDG_DATA_HOME" \
    -e "XDG_STATE_HOME=$XDG_STATE_HOME" -e "XDG_CACHE_HOME=$XDG_CACHE_HOME" \
    "sh -c '$work/venv/bin/tradeterm; echo \$? > $work/rc; sleep 30'"
screen() { tmux -L "$socket" capture-pane -p -t smoke; }
painted() { screen | grep -cE '[0-9]{4}\.[0-9]{2}' || true; } # the ladder's price rows
deadline=$((SECONDS + 60))
until (($(painted) >= 10)); do
    if [[ -s $work/rc ]] || ((SECONDS > deadline)); then
        screen >&2
        fail "the demo did not paint the ladder"
    fi
    sleep 0.2
done
step "the demo painted the ladder (SIM, from $where)"

tmux -L "$socket" send-keys -t smoke q
deadline=$((SECONDS + 30))
until [[ -s $work/rc ]]; do
    ((SECONDS <= deadline)) || { screen >&2; fail "q did not end the demo"; }
    sleep 0.2
done
code=$(cat "$work/rc")
! screen | grep -q Traceback || { screen >&2; fail "a traceback was printed"; }
[[ $code == 0 ]] || { screen >&2; fail "the demo exited with status $code"; }
step "q quit the demo, exit status 0"

# The backtester from the wheel: generated bars (the shared data may be absent), sma_cross,
# the JSON report, and the journal it writes read back by `tradeterm report`.
"$work/venv/bin/python" - "$work/bars.csv" <<'PY'
import datetime as dt, random, sys
random.seed(7)
t, p = dt.datetime(2024, 3, 4, 14, 30, tzinfo=dt.timezone.utc), 20000
with open(sys.argv[1], "w") as f:
    f.write("ts_utc,open,high,low,close,volume\n")
    for _ in range(600):
        o = p; p += random.randint(-4, 4); hi = max(o, p) + 1; lo = min(o, p) - 1
        f.write(f"{t.isoformat()},{o/4},{hi/4},{lo/4},{p/4},{random.randint(1, 50)}\n")
        t += dt.timedelta(minutes=1)
PY
"$work/venv/bin/tradeterm" backtest --data "$work/bars.csv" --strategy sma_cross \
    --journal "$work/bt.sqlite" --format json >"$work/bt.json" 2>"$work/bt.err" \
    || { cat "$work/bt.err" >&2; fail "tradeterm backtest failed"; }
"$work/venv/bin/python" -c "import json,sys; r=json.load(open(sys.argv[1])); \
assert r['bars'] == 600 and r['fills'] > 0, r" "$work/bt.json" || fail "backtest report: $(cat "$work/bt.json")"
"$work/venv/bin/tradeterm" report --journal "$work/bt.sqlite" >"$work/report.txt" 2>&1 \
    || { cat "$work/report.txt" >&2; fail "tradeterm report on the backtest journal failed"; }
grep -q "backtest, not trading" "$work/report.txt" || { cat "$work/report.txt" >&2; fail "report did not say backtest"; }
! grep -q Traceback "$work/bt.err" "$work/report.txt" || fail "a traceback was printed"
step "tradeterm backtest ran from the wheel ($(grep -o '"fills": [0-9]*' "$work/bt.json")), report read its journal"
echo "wheel smoke: ok in $((SECONDS - started)) s"
