#!/usr/bin/env bash
# slurm_cluster.sh -- a throw-away single-node Slurm on 127.0.0.1 for tests and benchmarks:
# munged, slurmctld and slurmd from Debian, started by hand (no systemd) with every file under one
# directory and non-default ports, and a watchdog that stops them when their owner process ends,
# so that no daemon outlives a test that was killed.
#
#   slurm_cluster.sh start DIR [OWNER_PID] [CPUS]   start; DIR/env then holds SLURM_CONF=...
#   slurm_cluster.sh stop DIR                        stop every daemon started in DIR
#
# Needs root (slurmd runs jobs as their submitter and slurmctld as SlurmUser=root here) and the
# Debian packages slurmctld, slurmd, slurm-client and munge (scripts/deps.txt). The facts behind
# each setting are in ../shared/notes/toolchain.md (munge's key and socket modes, loopback-only
# binding, absolute paths, no cgroups, no accounting).
set -euo pipefail

die() { echo "slurm_cluster: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 start|stop DIR [OWNER_PID] [CPUS]"
cmd=$1
dir=$(cd "$2" && pwd) || die "$2: no such directory"

pids_of() { cat "$dir"/*.pid 2>/dev/null || true; }

# Processes of this cluster that outlive the daemons: slurmstepd (it carries slurmd's marker in its
# environment) and job processes (they carry this cluster's SLURM_CONF), never this script or its
# ancestors.
kill_leftovers() {
  local ancestors=" " p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    ancestors="$ancestors$p "
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)
  done
  for proc in /proc/[0-9]*; do
    local pid=${proc#/proc/}
    case "$ancestors" in *" $pid "*) continue ;; esac
    [ -r "$proc/environ" ] || continue
    if { tr '\0' '\n' <"$proc/environ"; } 2>/dev/null |
      grep -qxF -e "M4NPU_TEST_SLURM=$dir" -e "SLURM_CONF=$dir/slurm.conf"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

stop() {
  # cancel the jobs still queued or running, so that their steps end with them
  if [ -f "$dir/slurm.conf" ] && [ -n "$(pids_of)" ]; then
    SLURM_CONF="$dir/slurm.conf" scancel --quiet --user=root 2>/dev/null || true
    for _ in $(seq 30); do
      [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  # TERM every daemon, give them STOP_WAIT_S seconds, then KILL what is left
  local pids
  pids=$(pids_of)
  [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null || true
  local waited=0
  while [ $waited -lt 100 ]; do
    local alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
    waited=$((waited + 1))
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$dir"/*.pid
  kill_leftovers
}

if [ "$cmd" = stop ]; then
  [ -f "$dir/watchdog.pid.w" ] && kill "$(cat "$dir/watchdog.pid.w")" 2>/dev/null || true
  rm -f "$dir/watchdog.pid.w"
  stop
  exit 0
fi
[ "$cmd" = start ] || die "unknown command '$cmd' (start or stop)"
owner=${3:-$PPID}
cpus=${4:-$(nproc)}

[ "$(id -u)" -eq 0 ] || die "needs root (slurmd starts jobs as their user; CI runs as root)"
for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
    die "$tool is missing: install the Debian packages munge slurmctld slurmd slurm-client (scripts/setup.sh does)"
done
export PATH="$PATH:/usr/sbin"

# Two free TCP ports on the loopback, away from Slurm's defaults (6817, 6818).
port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
base=$((20000 + ($$ * 7) % 30000))
while ! port_free $base || ! port_free $((base + 1)); do base=$((base + 2)); done
ctld_port=$base
slurmd_port=$((base + 1))

mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 0755 "$dir" "$dir/munge"   # munged checks its socket directory's mode

# munge: a fresh key (mode 0600, owned by the user running munged)
mungekey -c -k "$dir/munge/munge.key" -b 1024 >/dev/null 2>&1 || die "mungekey failed"
chmod 0600 "$dir/munge/munge.key"
munged -F -f --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" --pid-file="$dir/munge.pidfile" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" >"$dir/munged.out" 2>&1 &
echo $! >"$dir/munged.pid"

cat >"$dir/slurm.conf" <<EOF
# written by tests/sweep/slurm_cluster.sh: a single-node cluster on 127.0.0.1
ClusterName=m4npu-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MaxArraySize=100001
MaxJobCount=200000
MinJobAge=600
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
echo "SLURM_CONF=$dir/slurm.conf" >"$dir/env"

# wait for munged's socket before the Slurm daemons try to authenticate
for _ in $(seq 50); do [ -S "$dir/munge/socket" ] && break; sleep 0.1; done
[ -S "$dir/munge/socket" ] || { stop; die "munged did not start: $(cat "$dir/munged.out" "$dir/munge/munged.log" 2>/dev/null)"; }

slurmctld -D -c -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 &
echo $! >"$dir/slurmctld.pid"
M4NPU_TEST_SLURM="$dir" slurmd -D -N localhost -f "$SLURM_CONF" >"$dir/slurmd.out" 2>&1 &
echo $! >"$dir/slurmd.pid"

# the watchdog: when the owner ends (a test that fails, crashes or is killed), stop everything
(
  trap '' HUP INT
  while kill -0 "$owner" 2>/dev/null && [ -f "$dir/watchdog.pid.w" ]; do sleep 1; done
  [ -f "$dir/watchdog.pid.w" ] && "$0" stop "$dir" >/dev/null 2>&1
) </dev/null >/dev/null 2>&1 &
echo $! >"$dir/watchdog.pid.w"

# ready when the node is idle
for _ in $(seq 150); do
  state=$(sinfo -h -N -o %T 2>/dev/null || true)
  case "$state" in idle*) exit 0 ;; esac
  sleep 0.2
done
"$0" stop "$dir"
die "the node did not become idle (state '${state:-none}'): $(tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" 2>/dev/null)"
