"""Data sets held in memory as uint8 tensors, and the batches the trainer draws from them."""
