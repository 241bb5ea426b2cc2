"""Training: datasets as uint8 tensors, the engine (one model under a protocol), workers over the store."""
