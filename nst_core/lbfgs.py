"""L-BFGS for a batch of independent images: torch.optim.LBFGS as optimize.py calls it (one
iteration per step, no line search, tolerances off), with each image's own history, step size
and curvature check, so each image follows the path its own run would.

One L-BFGS over the batch's summed loss would be another optimiser: one history mixes the
images' curvature (benchmarks/batch_throughput.py --shared measures how far its results land).
Everything stays on the device: per-image decisions are torch.where, not Python branches, so a
step never waits for the device (torch's makes the host wait about five times a step).
"""

from __future__ import annotations

import torch

from .device import images_alone

CURVATURE = 1e-10  # torch's: a pair is kept where y.s is above it
ASCENT = 1.0  # torch's `gtd > -tolerance_change` with tolerance_change -1: no move where g.d > 1
ALIGN = 16  # floats (64 bytes): each image's vectors start where a fresh tensor's would


class BatchedLBFGS:
    """Minimises B images ([B, ...], each its own problem) given each image's gradient.

    step(grad, active) moves the images (in place) that are active, by one L-BFGS iteration each;
    restart(which) gives those images a fresh history, as a new torch.optim.LBFGS would.

    On a CPU every number of an image is the one its own run (B = 1) gives, to the bit: its
    vectors are rows padded to 64 bytes, so vector instructions see them as they would see it
    alone, and dot products are torch.dot per row, as torch's L-BFGS takes them. On a GPU the
    dots are one reduction over the batch (one kernel, not B).
    """

    def __init__(self, image: torch.Tensor, lr: float, history: int):
        self.image, self.lr, self.history = image, lr, history
        batch, self.size = image.shape[0], image[0].numel()
        self.padded = -(-self.size // ALIGN) * ALIGN
        device = image.device
        self.rows = torch.arange(batch, device=device)
        self.per_row = images_alone(device)  # where each image's bytes are its own run's
        # The pairs (s, y) of each image in a ring: slot (head - 1 - k) % history is its k-th newest.
        self.s = torch.zeros(history, batch, self.padded, device=device)
        self.y = torch.zeros(history, batch, self.padded, device=device)
        self.rho = torch.zeros(history, batch, device=device)
        self.head = torch.zeros(batch, dtype=torch.long, device=device)
        self.count = torch.zeros(batch, dtype=torch.long, device=device)
        self.steps = torch.zeros(batch, dtype=torch.long, device=device)  # since the (re)start
        self.h_diag = torch.ones(batch, device=device)
        self.direction = torch.zeros(batch, self.padded, device=device)
        self.t = torch.zeros(batch, device=device)
        self.previous_grad = torch.zeros(batch, self.padded, device=device)
        self.stored = 0  # an upper bound of count, known without asking the device

    def _rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """[B, ...] -> [B, padded], zeros after each image's numbers."""
        flat = tensor.reshape(tensor.shape[0], -1)
        return torch.nn.functional.pad(flat, (0, self.padded - self.size))

    def _dot(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """[B, N] . [B, N] -> [B]."""
        if self.per_row:
            return torch.stack([a[i].dot(b[i]) for i in range(a.shape[0])])
        return (a * b).sum(1)

    def _l1(self, a: torch.Tensor) -> torch.Tensor:
        if self.per_row:
            return torch.stack([a[i].abs().sum() for i in range(a.shape[0])])
        return a.abs().sum(1)

    def restart(self, which: torch.Tensor) -> None:
        self.steps = torch.where(which, 0, self.steps)
        self.count = torch.where(which, 0, self.count)

    def step(self, grad: torch.Tensor, active: torch.Tensor) -> None:
        g = self._rows(grad)
        first = self.steps == 0
        self.steps = self.steps + active.long()
        # The new pair, kept where its curvature is positive (not on an image's first step).
        y = g - self.previous_grad
        s = self.direction * self.t[:, None]
        ys = self._dot(y, s)
        keep = active & ~first & (ys > CURVATURE)
        slot = self.head
        self.s[slot, self.rows] = torch.where(keep[:, None], s, self.s[slot, self.rows])
        self.y[slot, self.rows] = torch.where(keep[:, None], y, self.y[slot, self.rows])
        self.rho[slot, self.rows] = torch.where(keep, 1.0 / ys, self.rho[slot, self.rows])
        self.head = torch.where(keep, (self.head + 1) % self.history, self.head)
        self.count = torch.where(keep, (self.count + 1).clamp(max=self.history), self.count)
        self.h_diag = torch.where(keep, ys / self._dot(y, y), torch.where(first, 1.0, self.h_diag))
        self.stored = min(self.stored + 1, self.history)
        # The two-loop recursion over each image's pairs, newest first; pairs past an image's
        # count weigh nothing. addcmul rounds as torch's add_(alpha=...) does (one fused step).
        q = -g
        alphas = []
        for k in range(self.stored):
            slot = (self.head - 1 - k) % self.history
            valid = k < self.count
            alpha = torch.where(valid, self._dot(self.s[slot, self.rows], q) * self.rho[slot, self.rows], 0.0)
            q = torch.addcmul(q, -alpha[:, None], self.y[slot, self.rows])
            alphas.append(alpha)
        r = q * self.h_diag[:, None]
        for k in reversed(range(self.stored)):
            slot = (self.head - 1 - k) % self.history
            valid = k < self.count
            beta = self._dot(self.y[slot, self.rows], r) * self.rho[slot, self.rows]
            r = torch.addcmul(r, torch.where(valid, alphas[k] - beta, 0.0)[:, None], self.s[slot, self.rows])
        direction = torch.where(first[:, None], -g, r)
        # torch's step length: min(1, 1/|g|_1) * lr on the first step, lr after it.
        t = torch.where(first, (1.0 / self._l1(g)).clamp(max=1.0) * self.lr, self.lr)
        moves = active & (self._dot(g, direction) <= ASCENT)
        self.direction = torch.where(active[:, None], direction, self.direction)
        self.t = torch.where(active, t, self.t)
        self.previous_grad = torch.where(active[:, None], g, self.previous_grad)
        with torch.no_grad():
            x = self._rows(self.image)
            moved = torch.where(moves[:, None], torch.addcmul(x, t[:, None], direction), x)
            self.image.copy_(moved[:, : self.size].view_as(self.image))
