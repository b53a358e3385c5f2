"""Document camera capture and vision pipeline (pure functions on frames).

Vision, one module per stage: ``detect`` (four corners, refined at full resolution by
``refine``), ``rectify`` (a flat, upright page), ``enhance`` (white balance, contrast,
optional black and white), ``quality`` (gates with stable codes), ``steady`` (the
auto-capture state machine, clock injected) and ``pipeline`` (all of a still's stages).
``synth`` generates ground-truth scenes for tests, the benchmark and the demo.
"""
