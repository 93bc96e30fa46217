"""slmkit.inspect: look inside a trained model (`slm inspect attention | lens | patch`).

capture (forward hooks: residual stream read/patch, attention weights), analysis (attention maps, logit lens,
activation patching), plots (PNG heatmaps), stage (the CLI stages).
"""
