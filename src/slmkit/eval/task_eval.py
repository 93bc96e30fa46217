"""`slm eval tasks <task>`: what a model can do, measured.

- `instruct`: TinyStories-Instruct prompts (Features / Words / Summary, from `--data` jsonl records with an
  `instruction` field or, by default, the synthetic generator) -> the model writes the story -> the share of stories
  that use every required word, show every requested feature, keep the named characters and have a sane length
  (eval/instruct_checks.py), per constraint and all together.
- `fewshot`: in-context learning without any training. For k in `--shots` (default 0, 1, 3, 5) the model sees k
  solved examples then the query ("Input: ...\\nOutput:") and the answer is the candidate label with the highest
  log-likelihood. Data: jsonl with `input`/`output` (or `text`/`label`), default a synthetic task (story summary ->
  happy or sad ending). Reports accuracy per k next to the majority-class baseline; examples are drawn per query
  with a seed, and prompts longer than the context lose their oldest tokens (the share that fit is reported).
- `classify`, `summarize`, `translate`: a checkpoint from `slm finetune` on a data file (same formats as
  fine-tuning): accuracy / macro-F1 / confusion matrix, ROUGE-1/2/L, BLEU/chrF, each with the trivial baselines.

Reports go to <run>/eval/tasks_<task>.json (or `--out`).

Example:
    slm eval tasks fewshot --ckpt runs/quickstart --shots 0 1 3 5 --n 200
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from slmkit.common.atomic import atomic_write_json
from slmkit.common.device import pick_device
from slmkit.common.errors import InputError
from slmkit.common.log import print0
from slmkit.config import check, opt, to_dict
from slmkit.eval.documents import read_json_records
from slmkit.eval.instruct_checks import check_story, parse_instruction
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.infer.text import few_shot_prompt

TASKS = ("instruct", "fewshot", "classify", "summarize", "translate")
EVAL_SEED_OFFSET = 2_000_003  # synthetic eval items come from seeds the training data did not use


@dataclass
class TaskEvalConfig:
    task: Literal["instruct", "fewshot", "classify", "summarize", "translate"] = opt(
        "fewshot", "instruct, fewshot, classify, summarize or translate")
    ckpt: str | None = opt(None, "checkpoint folder, ckpt/<stage> folder or run directory")
    data: str | None = opt(None, "evaluation data (default for instruct and fewshot: synthetic)")
    n: int = opt(100, "items to evaluate")
    shots: list[int] = opt(factory=lambda: [0, 1, 3, 5], help="fewshot: numbers of in-context examples")
    max_tokens: int = opt(300, "instruct: new tokens per story")
    temperature: float = opt(0.0, "instruct: sampling temperature (0 = greedy)")
    seed: int = opt(0, "seed for synthetic items, example draws and sampling")
    device: str = opt("auto", "auto, cpu, cuda")
    out: str | None = opt(None, "report path (default: <run>/eval/tasks_<task>.json)")

    def __post_init__(self):
        check(self.task in TASKS, "task", self.task, f"one of {', '.join(TASKS)}")
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(self.n >= 1, "n", self.n, ">= 1")
        check(all(k >= 0 for k in self.shots) and len(self.shots) > 0, "shots", self.shots, "counts >= 0")


# ---- data ----------------------------------------------------------------------------------------------------------


def synthetic_fewshot_items(n: int, seed: int) -> list[dict[str, str]]:
    """(summary -> happy/sad) items from synthetic stories. Example: `synthetic_fewshot_items(2, 0)[0]["output"]`"""
    from slmkit.data.synth import generate_stories

    return [{"input": s.summary, "output": s.label["ending"]} for s in generate_stories(n, seed=seed)]


def fewshot_items(cfg: TaskEvalConfig) -> list[dict[str, str]]:
    if cfg.data is None:
        return synthetic_fewshot_items(cfg.n + 50, cfg.seed + EVAL_SEED_OFFSET)
    items = []
    for n, rec in enumerate(read_json_records(Path(cfg.data)), 1):
        text, label = rec.get("input", rec.get("text")), rec.get("output", rec.get("label"))
        if not isinstance(text, str) or label is None:
            raise InputError(f"{cfg.data} record {n}", found=f"fields {sorted(rec)}",
                             expected="input/output (or text/label) fields")
        items.append({"input": text, "output": str(label)})
    if len(items) < 2:
        raise InputError(str(cfg.data), found=f"{len(items)} items", expected="at least 2 (examples and queries)")
    return items


# ---- few-shot ------------------------------------------------------------------------------------------------------


@torch.no_grad()
def label_logprobs(model, prompt_ids: list[int], label_ids: list[list[int]], context: int, device) -> list[float]:
    """Sum of log p(label tokens | prompt) for each candidate label, in one batch (prompt cut from the left)."""
    width = max(len(ids) for ids in label_ids)
    prompt_ids = prompt_ids[-(context - width):]
    rows = [prompt_ids + ids for ids in label_ids]
    length = max(len(r) for r in rows)
    x = torch.zeros(len(rows), length, dtype=torch.long)  # (L, T), right-padded
    for i, row in enumerate(rows):
        x[i, : len(row)] = torch.tensor(row)
    logp = torch.log_softmax(model(x.to(device)).logits.float(), dim=-1)  # (L, T, V)
    scores = []
    for i, ids in enumerate(label_ids):
        start = len(prompt_ids)
        scores.append(sum(float(logp[i, start + j - 1, tok]) for j, tok in enumerate(ids)))
    return scores


def evaluate_fewshot(model, tokenizer, items: list[dict[str, str]], shots: list[int], n: int, seed: int,
                     device) -> dict[str, Any]:
    """Accuracy per k; queries are the first n items, examples are drawn from the rest."""
    labels = sorted({it["output"] for it in items})
    queries, pool = items[:n], items[n:] or items
    label_ids = [tokenizer.encode(" " + label) for label in labels]
    context = model.cfg.context_length
    majority = Counter(q["output"] for q in queries).most_common(1)[0]
    report: dict[str, Any] = {"labels": labels, "queries": len(queries),
                              "majority_baseline": majority[1] / len(queries), "by_shots": {}}
    for k in shots:
        if k > len(pool):
            raise InputError("shots", found=k, expected=f"at most the {len(pool)} example items")
        correct, fits = 0, 0
        for i, query in enumerate(queries):
            examples = random.Random(seed * 7919 + i).sample(pool, k)
            prompt = few_shot_prompt(examples, query["input"], k=k)
            ids = [tokenizer.eot_id] + tokenizer.encode(prompt)
            fits += len(ids) + max(len(x) for x in label_ids) <= context
            scores = label_logprobs(model, ids, label_ids, context, device)
            correct += labels[max(range(len(labels)), key=scores.__getitem__)] == query["output"]
        report["by_shots"][str(k)] = {"accuracy": correct / len(queries), "prompts_fit": fits / len(queries)}
    return report


# ---- instruction following -----------------------------------------------------------------------------------------


def instruct_prompts(cfg: TaskEvalConfig) -> list[str]:
    if cfg.data is None:
        from slmkit.data.synth import generate_stories

        return [s.instruction for s in generate_stories(cfg.n, seed=cfg.seed + EVAL_SEED_OFFSET)]
    prompts = []
    for n, rec in enumerate(read_json_records(Path(cfg.data)), 1):
        if not isinstance(rec.get("instruction"), str):
            raise InputError(f"{cfg.data} record {n}", found=f"fields {sorted(rec)}", expected="an 'instruction'")
        prompts.append(rec["instruction"])
    return prompts[: cfg.n]


def evaluate_instruct(loaded, prompts: list[str], max_tokens: int, temperature: float, seed: int) -> dict[str, Any]:
    """Generate a story per prompt and check its constraints; chat-tuned checkpoints get the chat template."""
    tok = loaded.tokenizer
    chat = (loaded.config.get("finetune") or {}).get("format") == "chat"
    stops = {tok.eot_id} | ({tok.special_ids["<|end|>"]} if chat else set())
    if chat:
        ids = [tok.encode_chat([{"role": "user", "content": p}], add_generation_prompt=True) for p in prompts]
    else:
        ids = [[tok.eot_id] + tok.encode(p) for p in prompts]
    with torch.inference_mode():
        outs = generate(loaded.model, ids, max_tokens, SamplingParams(temperature=temperature), seed=seed,
                        stop_ids=stops)
    stories = [tok.decode(o) for o in outs]
    checks = [check_story(parse_instruction(p), s) for p, s in zip(prompts, stories, strict=True)]
    rates = {key: sum(c[key] for c in checks) / len(checks) for key in checks[0]}
    return {"items": len(prompts), "format": "chat" if chat else "text", "satisfied": rates,
            "samples": [{"prompt": p, "story": s, "checks": c} for p, s, c in list(zip(prompts, stories, checks))[:5]]}


# ---- fine-tuned task checkpoints -----------------------------------------------------------------------------------


def evaluate_finetuned(cfg: TaskEvalConfig, device) -> dict[str, Any]:
    """Metrics of a `slm finetune classify|summarize|translate` checkpoint on a data file."""
    from slmkit.eval.metrics import classification_report
    from slmkit.tasks.readers import read_records

    if cfg.data is None:
        raise InputError("data", found=None, expected=f"a data file for {cfg.task} (--data PATH)")
    if cfg.task == "classify":
        from slmkit.tasks.classify_cli import Classifier

        classifier = Classifier.load(cfg.ckpt, device=str(device))
        task = classifier.task
        records = read_records(cfg.data, *task.fields())[: cfg.n]
        truth = [task._label_index(r) for r in records]  # unknown labels: one clear error naming the line
        labels = task.labels
        predicted = [labels.index(label) for label, _ in classifier.predict([r[task.opts.text_field]
                                                                              for r in records])]
        return classification_report(truth, predicted, labels)
    from slmkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask

    loaded = load_checkpoint(cfg.ckpt, device=device, stage=cfg.task)
    record = loaded.config.get("finetune") or {}
    if record.get("task") != cfg.task:
        raise InputError(str(loaded.path / "config.json"), found=f"task {record.get('task')!r}",
                         expected=f"a checkpoint from `slm finetune {cfg.task}`")
    task = Seq2SeqTask(cfg.task, Seq2SeqOptions(template=record.get("template")), loaded.tokenizer,
                       int(record.get("max_length", loaded.model.cfg.context_length)))
    required, columns = task.fields()
    examples = task.encode_all(read_records(cfg.data, required, columns)[: cfg.n], "test")
    return task.test_report(loaded.model.eval(), examples, device)


def task_eval_stage(cfg: TaskEvalConfig) -> dict[str, Any]:
    device = pick_device(cfg.device)
    if cfg.task in ("classify", "summarize", "translate"):
        result = evaluate_finetuned(cfg, device)
        ckpt_path = Path(cfg.ckpt)
    else:
        loaded = load_checkpoint(cfg.ckpt, device=device)
        loaded.model.eval()
        ckpt_path = loaded.path
        if cfg.task == "fewshot":
            result = evaluate_fewshot(loaded.model, loaded.tokenizer, fewshot_items(cfg), cfg.shots, cfg.n,
                                      cfg.seed, device)
        else:
            result = evaluate_instruct(loaded, instruct_prompts(cfg), cfg.max_tokens, cfg.temperature, cfg.seed)
    report = {"task": cfg.task, "checkpoint": str(ckpt_path), "config": to_dict(cfg), "metrics": result}
    parts = ckpt_path.resolve().parts
    run = Path(*parts[: parts.index("ckpt")]) if "ckpt" in parts else (ckpt_path if (ckpt_path / "ckpt").is_dir()
                                                                       else None)
    out = Path(cfg.out) if cfg.out else (run / "eval" / f"tasks_{cfg.task}.json" if run else None)
    if out is not None:
        atomic_write_json(out, report)
        print0(f"wrote {out}")
    shown = {k: v for k, v in result.items() if k not in ("samples", "examples")}
    print0(json.dumps(shown, indent=2))
    return report
