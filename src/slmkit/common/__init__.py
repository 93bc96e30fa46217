"""Shared plumbing: errors, atomic writes, run-directory paths, devices, distributed helpers."""
