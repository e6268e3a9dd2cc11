"""A real single-node Slurm cluster for the tests (munged, slurmctld, slurmd), no systemd.

Facts it follows (checked on this machine kind): the config must be /etc/slurm/slurm.conf,
because the Snakemake job step strips SLURM_CONF before its nested srun; without slurmdbd,
finished jobs must stay visible to squeue (MinJobAge); daemons are stopped by PID only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
BINARIES = ("slurmctld", "slurmd", "sinfo", "munged")


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "starting Slurm daemons needs root"
    missing = [b for b in BINARIES if not shutil.which(b) and not Path(f"/usr/sbin/{b}").exists()]
    if missing:
        install = "apt-get install slurmctld slurmd slurm-client munge"
        return f"Slurm is not installed ({', '.join(missing)} missing; {install})"
    return None


class Cluster:
    def __init__(self, base: Path):
        self.base = base
        self.processes: list[subprocess.Popen] = []
        self.previous_conf: str | None = None

    def _daemon(self, name: str, argv: list[str]) -> None:
        with open(self.base / "log" / f"{name}.out", "wb") as log:  # the daemon keeps its own copy
            self.processes.append(
                subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            )

    def start(self) -> Cluster:
        for sub in ("state", "spool", "log", "run"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        CONF.parent.mkdir(parents=True, exist_ok=True)
        self.previous_conf = CONF.read_text() if CONF.exists() else None
        CONF.write_text(f"""ClusterName=ci
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=300
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation={self.base}/state
SlurmdSpoolDir={self.base}/spool
SlurmctldPidFile={self.base}/run/slurmctld.pid
SlurmdPidFile={self.base}/run/slurmd.pid
SlurmctldLogFile={self.base}/log/slurmctld.log
SlurmdLogFile={self.base}/log/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        key = Path("/etc/munge/munge.key")
        if not key.exists() or key.stat().st_size == 0:
            subprocess.run(["mungekey", "-c", "-k", str(key)], check=True)
            shutil.chown(key, "munge", "munge")
            key.chmod(0o400)
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        self._daemon("munged", ["setpriv", "--reuid=munge", "--regid=munge", "--init-groups", "/usr/sbin/munged", "-F"])
        self._wait(
            lambda: subprocess.run("munge -n </dev/null | unmunge", shell=True, capture_output=True).returncode == 0,
            "munged",
        )
        self._daemon("slurmctld", ["/usr/sbin/slurmctld", "-D", "-i"])
        self._daemon("slurmd", ["/usr/sbin/slurmd", "-D"])

        def idle():
            nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True).stdout
            return "idle" in nodes.split()

        self._wait(idle, "the node to be idle")
        return self

    def _wait(self, ready, what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Slurm test cluster: timed out waiting for {what} (logs in {self.base / 'log'})")

    def jobs(self) -> list[str]:
        """Names of the jobs the cluster has run (finished ones stay listed for MinJobAge)."""
        out = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i %j %T"], capture_output=True, text=True).stdout
        return out.strip().splitlines()

    def stop(self) -> None:
        for process in reversed(self.processes):  # by PID only, in reverse start order
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        # Leave no config behind: with one but no controller, every Slurm client call (the
        # Snakemake Slurm plugin runs `scontrol show config` at each start) waits 9 s for it.
        if self.previous_conf is None:
            CONF.unlink(missing_ok=True)
        else:
            CONF.write_text(self.previous_conf)
