"""Rewards for reinforcement learning (GRPO): small functions `reward(prompt, completion, record) -> float` that a
registry composes by name (see rewards/registry.py)."""
