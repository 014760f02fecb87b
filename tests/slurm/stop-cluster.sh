#!/usr/bin/env bash
# Stop the daemons tests/slurm/start-cluster.sh started (listed in STATE_DIR/started),
# each by its pid file, and remove the /etc/slurm/slurm.conf symlink it created.
#
#   tests/slurm/stop-cluster.sh [STATE_DIR]     # default /tmp/alsalvage-slurm
set -uo pipefail

STATE=${1:-${ALSALVAGE_SLURM_DIR:-/tmp/alsalvage-slurm}}
CONF=/etc/slurm/slurm.conf
[ -f "$STATE/started" ] || { echo "stop-cluster: nothing started from $STATE"; exit 0; }

started() { grep -qx "$1" "$STATE/started"; }

# stop NAME PIDFILE: TERM the process in PIDFILE if it is NAME, wait, then KILL.
stop() {
    local name=$1 pidfile=$2 pid
    [ -s "$pidfile" ] || { echo "stop-cluster: no pid file for $name ($pidfile)"; return 0; }
    pid=$(tr -dc 0-9 <"$pidfile")
    if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
        echo "stop-cluster: $name (pid ${pid:-?}) is not running"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 40); do
        [ -d "/proc/$pid" ] || { echo "stop-cluster: stopped $name (pid $pid)"; return 0; }
        sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null
    echo "stop-cluster: killed $name (pid $pid) after 10 s"
}

started slurmd && stop slurmd "$STATE/slurmd.pid"
started slurmctld && stop slurmctld "$STATE/slurmctld.pid"
started munged && stop munged "$STATE/munged.pid"
if started conf && [ "$(readlink "$CONF")" = "$STATE/slurm.conf" ]; then
    rm -f "$CONF"
fi
rm -f "$STATE/started"
exit 0
