"""`slm classify --ckpt DIR "text" ...`: label texts with a checkpoint from `slm finetune classify`.

`--ckpt` may be a step folder, `ckpt/classify` (its best checkpoint when there is one, else latest) or a run
directory. Prints one `label<TAB>probability<TAB>text` line per text.

Example:
    slm classify --ckpt runs/ft-sms "WINNER!! Claim your prize now" "see you at 6"
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from slmkit.common.errors import InputError, MissingFileError
from slmkit.config import check, opt
from slmkit.infer.load import load_checkpoint
from slmkit.tasks.classification import ClassificationTask, ClassifyOptions, SequenceClassifier


@dataclass
class ClassifyConfig:
    ckpt: str | None = opt(None, "fine-tuned classification checkpoint (step folder, ckpt/classify or run dir)")
    texts: list[str] = opt(factory=list, help="texts to classify")
    stage: str = opt("classify", "checkpoint folder name under ckpt/ when --ckpt is a run directory")
    device: str = opt("cpu", "cpu, cuda, ...")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(len(self.texts) > 0, "texts", self.texts, "at least one text to classify")


def _checkpoint_dir(path: Path, stage: str) -> Path:
    for stage_dir in (path, path / "ckpt" / stage):
        best = stage_dir / "best" / "latest"
        if best.exists():
            return best.resolve()
    return path


class Classifier:
    """A loaded classifier. Example: `Classifier.load("runs/ft-sms").predict(["hi"])`"""

    def __init__(self, task: ClassificationTask, model: torch.nn.Module, device):
        self.task, self.model, self.device = task, model, device

    @classmethod
    def load(cls, path: Path | str, stage: str = "classify", device: str = "cpu") -> Classifier:
        loaded = load_checkpoint(_checkpoint_dir(Path(path), stage), device=device, stage=stage)
        record: dict[str, Any] = loaded.config.get("finetune") or {}
        if record.get("task") != "classify":
            raise InputError(str(loaded.path / "config.json"), found=f"task {record.get('task')!r}",
                             expected="a checkpoint from `slm finetune classify`")
        opts = ClassifyOptions(mode=record["mode"], labels=list(record["labels"]))
        task = ClassificationTask(opts, loaded.tokenizer, int(record["max_length"]))
        task.fix_labels([])
        model: torch.nn.Module = loaded.model
        if opts.mode == "head":
            head_file = loaded.path / "head.safetensors"
            if not head_file.is_file():
                raise MissingFileError(head_file, expected="the classification head of a head-mode checkpoint")
            model = SequenceClassifier(loaded.model, len(opts.labels), loaded.tokenizer.pad_id)
            model.head.load_state_dict(load_file(str(head_file)))
        model.eval()
        return cls(task, model, device)

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability) per text."""
        records = [{"text": t, "label": self.task.labels[0], "where": f"text[{i}]"} for i, t in enumerate(texts)]
        examples = self.task.encode_all(records, "predict")
        out = []
        for example in examples:
            x, _ = self.task.collate([example], self.device)
            probs = self.task.class_logits(self.model, x).float().softmax(-1)[0]  # (C,)
            k = int(probs.argmax())
            out.append((self.task.labels[k], float(probs[k])))
        return out


def classify_stage(cfg: ClassifyConfig, out=None) -> dict[str, Any]:
    """Print `label<TAB>probability<TAB>text` per text; returns the predictions."""
    out = out or sys.stdout
    classifier = Classifier.load(cfg.ckpt, cfg.stage, cfg.device)
    predictions = classifier.predict(cfg.texts)
    for text, (label, prob) in zip(cfg.texts, predictions):
        out.write(f"{label}\t{prob:.4f}\t{json.dumps(text, ensure_ascii=False)[1:-1]}\n")
    return {"predictions": [{"text": t, "label": lab, "probability": p} for t, (lab, p) in zip(cfg.texts, predictions)]}
