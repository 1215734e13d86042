"""The bottom layer: errors, settings, Redis key names, the enqueue seam, typed records. Imports nothing of Ferry."""
