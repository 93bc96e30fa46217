"""slmkit.scale: scaling-law sweeps (`slm scale`): fit (power laws, numpy/scipy) and stage (the sweep, plots)."""
