"""Write a model + tokenizer as a slmkit inference checkpoint folder (what `infer.load.load_checkpoint` reads).

The files and config.json schema are those of `train.checkpoint.save_checkpoint` (config.json with the model config
under "model", model.safetensors, tokenizer.json), without optimizer or trainer state: an imported model starts
fine-tuning from step 0.

Example:
    write_checkpoint_folder(Path("runs/gpt2/ckpt/base/step_000000"), model, tokenizer, source={"hf": "gpt2"})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import save_model

from slmkit.common.atomic import atomic_dir
from slmkit.config import to_dict
from slmkit.infer.load import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from slmkit.tokenizer import Tokenizer


def write_checkpoint_folder(out: Path, model, tokenizer: Tokenizer, stage: str = "import",
                            source: dict[str, Any] | None = None) -> Path:
    """Write config.json, model.safetensors and tokenizer.json into `out` atomically; returns `out`."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        config = {"model": to_dict(model.cfg), "stage": stage, "train": {}, "source": source or {}}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
        save_model(model, str(tmp / WEIGHTS_FILE))  # drops the tied duplicate (lm_head = wte)
        tokenizer.save(tmp / TOKENIZER_FILE)
    return out
