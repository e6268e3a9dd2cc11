"""The batch's outputs: contact sheets and their pages, the quality flags and table, the static gallery. No torch."""
