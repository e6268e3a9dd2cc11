"""The optimisation core: VGG-19, the losses and their objective (whole or by tiles), the
batched L-BFGS, memory plans, Gram targets, StyleTransfer and the scoring yardstick."""
