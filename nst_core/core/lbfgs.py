"""L-BFGS for a batch of independent images, each with its own history, step size, curvature
check and trust radius, so each image follows the path its own run would.

torch.optim.LBFGS without a line search (how neural-style codes call it, and how this project did)
is chaotic on this loss: its first step moves pixels by ~1e-5, so the first curvature pair is
mostly rounding, and the next step, up to 3x the image's range, lands where the loss is 40x
higher. Rounding of 1e-7 (another thread count, tiles) then gave images 18 dB apart after 8 steps.
Here a (re)start's first step moves each pixel by FIRST_STEP on average (RMS) along the gradient;
a step is at most the image's trust radius (RMS), which doubles after a step that reached it and
lowered the loss; a step that raised the loss is taken back and retried at BACKTRACK of its
length, without a curvature pair (a backtracking line search that spends no extra evaluation).

One L-BFGS over the batch's summed loss would be another optimiser: one history mixes the
images' curvature (benchmarks/batch_throughput.py --shared measures how far its results land).
Everything stays on the device: per-image decisions are torch.where, not Python branches, so a
step never waits for the device (torch's makes the host wait about five times a step).
"""

from __future__ import annotations

import torch

from .device import images_alone

FIRST_STEP = 0.01  # RMS pixel change (image in [0, 1]) of a (re)start's first step
BACKTRACK = 0.25  # a step that raised the loss is retried at this share of its length
CURVATURE = 1e-10  # torch's: a pair is kept where y.s is above it
ASCENT = 1.0  # torch's `gtd > -tolerance_change` with tolerance_change -1: no move where g.d > 1
ALIGN = 16  # floats (64 bytes): each image's vectors start where a fresh tensor's would


class BatchedLBFGS:
    """Minimises B images ([B, ...], each its own problem) given each image's loss and gradient.

    step(loss, grad, active) moves the images (in place) that are active, by one L-BFGS iteration
    each, or back towards their last accepted point where their loss rose; restart(which) gives
    those images a fresh history, as a new optimiser would.

    On a CPU every number of an image is the one its own run (B = 1) gives, to the bit: its
    vectors are rows padded to 64 bytes, so vector instructions see them as they would see it
    alone, and dot products are torch.dot per row. On a GPU the dots are one reduction over the
    batch (one kernel, not B).
    """

    def __init__(self, image: torch.Tensor, lr: float, history: int):
        self.image, self.lr, self.history = image, lr, history
        batch, self.size = image.shape[0], image[0].numel()
        self.padded = -(-self.size // ALIGN) * ALIGN
        device = image.device
        self.rows = torch.arange(batch, device=device)
        self.per_row = images_alone(device)  # where each image's bytes are its own run's
        # The pairs (s, y) of each image in a ring: slot (head - 1 - k) % history is its k-th newest.
        self.s = torch.zeros(batch, history, self.padded, device=device)
        self.y = torch.zeros(batch, history, self.padded, device=device)
        self.rho = torch.zeros(batch, history, device=device)
        # Where the batch goes through the network at once (a GPU), s_i.y_j of every two slots:
        # the recursion is then a few matrix products (_direction_by_products), not 2 x history
        # rounds of small kernels, each launched by the host.
        self.sy = None if self.per_row else torch.zeros(batch, history, history, device=device)
        self.slots = torch.arange(history, device=device)
        self.eye = torch.eye(history, device=device)  # made once: a step launches no more than it needs
        self.head = torch.zeros(batch, dtype=torch.long, device=device)
        self.count = torch.zeros(batch, dtype=torch.long, device=device)
        self.steps = torch.zeros(batch, dtype=torch.long, device=device)  # accepted, since the (re)start
        self.h_diag = torch.ones(batch, device=device)
        self.direction = torch.zeros(batch, self.padded, device=device)
        self.t = torch.zeros(batch, device=device)
        self.previous_grad = torch.zeros(batch, self.padded, device=device)  # at the accepted point
        self.accepted = torch.zeros(batch, self.padded, device=device)  # the last point that lowered the loss
        self.accepted_loss = torch.full((batch,), torch.inf, dtype=torch.float64, device=device)
        self.radius = torch.full((batch,), 2 * FIRST_STEP, device=device)  # the longest step, RMS
        self.reached = torch.zeros(batch, dtype=torch.bool, device=device)  # the last step was that long
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

    def _rms(self, a: torch.Tensor) -> torch.Tensor:
        return (self._dot(a, a) / self.size).sqrt()

    def restart(self, which: torch.Tensor) -> None:
        self.steps = torch.where(which, 0, self.steps)
        self.count = torch.where(which, 0, self.count)

    def _direction_by_rounds(self, g: torch.Tensor) -> torch.Tensor:
        """-H g by the two-loop recursion over each image's pairs, newest first; pairs past an
        image's count weigh nothing. addcmul rounds as torch's add_(alpha=...) does (one fused step)."""
        q = -g
        alphas = []
        for k in range(self.stored):
            slot = (self.head - 1 - k) % self.history
            valid = k < self.count
            alpha = torch.where(valid, self._dot(self.s[self.rows, slot], q) * self.rho[self.rows, slot], 0.0)
            q = torch.addcmul(q, -alpha[:, None], self.y[self.rows, slot])
            alphas.append(alpha)
        r = q * self.h_diag[:, None]
        for k in reversed(range(self.stored)):
            slot = (self.head - 1 - k) % self.history
            valid = k < self.count
            beta = self._dot(self.y[self.rows, slot], r) * self.rho[self.rows, slot]
            r = torch.addcmul(r, torch.where(valid, alphas[k] - beta, 0.0)[:, None], self.s[self.rows, slot])
        return r

    def _direction_by_products(self, g: torch.Tensor) -> torch.Tensor:
        """-H g, the two-loop recursion's, from matrix products over all pairs at once. With the
        pairs newest first, the first loop's alpha_k = rho_k (s_k.q0 - sum_{j<k} alpha_j s_k.y_j)
        is a lower triangular system; the second loop's c_k = alpha_k - beta_k, with beta_k =
        rho_k (y_k.r0 + sum_{j>k} c_j y_k.s_j), an upper one (the compact L-BFGS of Byrd, Nocedal
        and Schnabel, 1994, in the recursion's own terms)."""
        m = self.history
        newest = (self.head[:, None] - 1 - self.slots) % m  # [B, m]: k-th newest slot
        valid = self.slots < self.count[:, None]
        rho = torch.where(valid, self.rho.gather(1, newest), 0.0)
        sy = self.sy.gather(1, newest[:, :, None].expand(-1, -1, m)).gather(2, newest[:, None, :].expand(-1, m, -1))
        sy = torch.where(valid[:, :, None] & valid[:, None, :], sy, 0.0)  # [b, k, j] = s_k.y_j

        def in_slots(ordered):  # [B, m] newest first -> [B, 1, m] by slot
            return torch.zeros_like(ordered).scatter(1, newest, ordered)[:, None, :]

        q0 = -g
        s_q = torch.bmm(self.s, q0[:, :, None])[:, :, 0].gather(1, newest)
        lower = self.eye + rho[:, :, None] * sy.tril(-1)
        alpha = torch.linalg.solve_triangular(lower, (rho * s_q)[:, :, None], upper=False)[:, :, 0]
        q = q0 - torch.bmm(in_slots(alpha), self.y)[:, 0]
        r = q * self.h_diag[:, None]
        y_r = torch.bmm(self.y, r[:, :, None])[:, :, 0].gather(1, newest)
        upper = self.eye + rho[:, :, None] * sy.transpose(1, 2).triu(1)
        c = torch.linalg.solve_triangular(upper, (alpha - rho * y_r)[:, :, None], upper=True)[:, :, 0]
        return r + torch.bmm(in_slots(c), self.s)[:, 0]

    def step(self, loss: torch.Tensor, grad: torch.Tensor, active: torch.Tensor) -> None:
        g = self._rows(grad)
        first = self.steps == 0
        rose = active & ~first & ~(loss.double() <= self.accepted_loss)  # a NaN rose too
        active = active & ~rose
        self.steps = self.steps + active.long()
        # The new pair, kept where its curvature is positive (not on an image's first step).
        y = g - self.previous_grad
        s = self.direction * self.t[:, None]
        ys = self._dot(y, s)
        keep = active & ~first & (ys > CURVATURE)
        slot = self.head
        self.s[self.rows, slot] = torch.where(keep[:, None], s, self.s[self.rows, slot])
        self.y[self.rows, slot] = torch.where(keep[:, None], y, self.y[self.rows, slot])
        self.rho[self.rows, slot] = torch.where(keep, 1.0 / ys, self.rho[self.rows, slot])
        if self.sy is not None:  # the new pair's row and column of s_i.y_j
            row = torch.bmm(self.y, s[:, :, None])[:, :, 0]  # s.y_j
            column = torch.bmm(self.s, y[:, :, None])[:, :, 0]  # s_i.y
            here = keep[:, None] & (self.slots == slot[:, None])
            self.sy = torch.where(here[:, :, None], row[:, None, :], self.sy)
            self.sy = torch.where(here[:, None, :], column[:, :, None], self.sy)
        self.head = torch.where(keep, (self.head + 1) % self.history, self.head)
        self.count = torch.where(keep, (self.count + 1).clamp(max=self.history), self.count)
        self.h_diag = torch.where(keep, ys / self._dot(y, y), torch.where(first, 1.0, self.h_diag))
        self.stored = min(self.stored + 1, self.history)
        r = self._direction_by_rounds(g) if self.sy is None else self._direction_by_products(g)
        direction = torch.where(first[:, None], -g, r)
        # The step: lr times FIRST_STEP (RMS) on a first step, times L-BFGS's own after it, within
        # the radius, which doubles after a step that reached it and was accepted (so a huge lr
        # takes steps no longer than ones that keep lowering the loss).
        length = self._rms(direction)
        self.radius = torch.where(
            first, 2 * FIRST_STEP, torch.where(active & self.reached, 2 * self.radius, self.radius)
        )
        wanted = torch.where(first, FIRST_STEP / length, 1.0) * self.lr
        longest = torch.minimum(wanted, self.radius / length)
        # A zero gradient (a photo that is its own painting, at its own size) is an optimum:
        # no step, where 0/0 would put NaN in the image.
        moves = active & (length > 0) & (self._dot(g, direction) <= ASCENT)
        t = torch.where(moves, longest, 0.0)
        # Where the loss rose: back to the accepted point, a shorter step the same way.
        shorter = BACKTRACK * self.t
        self.radius = torch.where(rose, shorter * self._rms(self.direction), self.radius)
        self.reached = torch.where(active, wanted > longest, torch.where(rose, False, self.reached))
        self.direction = torch.where(active[:, None], direction, self.direction)
        self.t = torch.where(active, t, torch.where(rose, shorter, self.t))
        self.previous_grad = torch.where(active[:, None], g, self.previous_grad)
        self.accepted_loss = torch.where(active, loss.double(), self.accepted_loss)
        with torch.no_grad():
            x = self._rows(self.image)
            self.accepted = torch.where(active[:, None], x, self.accepted)
            moved = torch.where(moves[:, None], torch.addcmul(x, t[:, None], direction), x)
            back = torch.addcmul(self.accepted, shorter[:, None], self.direction)
            moved = torch.where(rose[:, None], back, moved)
            self.image.copy_(moved[:, : self.size].view_as(self.image))
