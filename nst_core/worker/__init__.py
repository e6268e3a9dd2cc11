"""Warm workers: torch and VGG-19 are loaded once per slot, not once per job.

    python -m nst_core.worker stylize PHOTO --targets T --output OUT ...   (the `nst` arguments)

Each call is a light client (standard library only): it leases a *slot*, a lock file held for
the job's duration, so concurrent jobs never share one and a killed job's lease ends with it.
The slot's worker process (started on first use, gone after `NST_WORKER_IDLE` seconds idle)
runs the command in-process and sends back its exit status and output.

Slots are devices: on a machine with GPUs there is one slot per GPU and its worker sees only
that GPU (a CUDA_VISIBLE_DEVICES already set, as Slurm sets it, is respected); without GPUs
there are cores / OMP_NUM_THREADS slots. Workers are keyed by the Python executable, the
nst_core sources and location and the thread count, so changed code never runs in an old worker.
NST_WORKER=off runs the command in this process instead.

A worker runs commands as its owner, so only its owner may reach it:
- Its files live in a private folder ($XDG_RUNTIME_DIR/nst-workers, else nst-workers-UID in the
  temp folder, or NST_WORKER_DIR), checked with lstat before each use: a real folder, owned by
  this user, closed to group and others. Anything else runs the job in this process, with a
  one-line warning. Files are opened without following symbolic links; the socket is 0600.
- The channel is multiprocessing.connection: framed messages and a mutual HMAC handshake with a
  key that the starting client writes (0600) beside the socket. Messages are JSON, never pickles.
  On Linux each end also checks that the other runs as the same user (SO_PEERCRED).
- A request carries its arguments, folder and only the environment variables a job reads
  (REQUEST_ENV_*); the worker's own environment holds none of them, so no credential outlives
  the request that brought it, and caches are cleared or keyed by what they depend on.
- A client that dies cancels its job: the worker stops it, and atomic writes leave nothing.
"""

from .channel import peer_uid
from .client import run
from .slots import SlotFiles, acquire_slot, gpu_ids, slot_count

__all__ = ["SlotFiles", "acquire_slot", "gpu_ids", "peer_uid", "run", "slot_count"]
