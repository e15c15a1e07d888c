"""History that proves itself: the hash chain over each stream, signed checkpoints of the heads."""
