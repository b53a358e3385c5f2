"""Document camera capture and vision pipeline (pure functions on frames)."""
