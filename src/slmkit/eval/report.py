"""`slm report --run DIR`: one self-contained `report.html` (PNG plots embedded) and a `report.md` for a run.

The report only reads what the stages wrote: `.stages/*.json` (timings), `data/manifest.json`, `shards/meta.json`,
`ckpt/<stage>/latest/{config,trainer_state}.json`, `metrics.jsonl`, `eval/*.json` (any evaluation, including judge
summaries) and `samples/*.jsonl`. Sections whose files are missing are left out, so it works on any run at any point.

Example:
    slm report --run runs/quickstart   # -> runs/quickstart/report.html, report.md, plots/report_*.png
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.atomic import atomic_write_text
from slmkit.common.errors import MissingFileError
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.infer.load import read_model_config
from slmkit.model.flops import flops_per_token, param_counts
from slmkit.train.metrics_log import save_figure


@dataclass
class ReportConfig:
    run: str = opt(None, "run directory")
    samples: int = opt(3, "sample stories shown per source")

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a run directory (--run DIR)")


@dataclass
class Section:
    title: str
    tables: list[tuple[list[str], list[list[Any]]]]  # (header, rows)
    images: list[Path]
    texts: list[str]  # sample stories, shown as quotes


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys; lists are skipped. Example: `flatten({"a": {"b": 1}}) == {"a.b": 1}`"""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif not isinstance(value, list):
            out[name] = value
    return out


def _pipeline_section(run: Path) -> Section | None:
    rows = []
    for marker in sorted((run / ".stages").glob("*.json"), key=lambda p: p.stat().st_mtime):
        data = _read_json(marker) or {}
        rows.append([marker.stem, data.get("seconds")])
    return Section("Pipeline", [(["stage", "seconds"], rows)], [], []) if rows else None


def _data_section(run: Path) -> Section | None:
    tables = []
    manifest = _read_json(run / "data" / "manifest.json")
    if manifest:
        sources = [[s.get("path"), s.get("role"), s.get("docs_read"), s.get("bytes")]
                   for s in manifest.get("sources", [])]
        tables.append((["source", "role", "documents", "bytes"], sources))
        counts = flatten(manifest.get("counts", {}))
        tables.append((["count", "value"], [[k, v] for k, v in counts.items()]))
    meta = _read_json(run / "shards" / "meta.json")
    if meta:
        rows = [[split, s.get("tokens"), s.get("bytes"), s.get("docs")] for split, s in meta.get("splits", {}).items()]
        tables.append((["split", "tokens", "bytes", "documents"], rows))
        tables.append((["tokenizer", "value"], [["vocab size", meta.get("vocab_size")],
                                                ["bytes per token", meta.get("bytes_per_token")],
                                                ["sha256", str(meta.get("tokenizer_sha256", ""))[:16]]]))
    return Section("Data and tokenizer", tables, [], []) if tables else None


def _models_section(run: Path) -> Section | None:
    rows = []
    for stage_dir in sorted(p for p in (run / "ckpt").glob("*") if p.is_dir() and not p.is_symlink()):
        latest = stage_dir / "latest"
        if not (latest / "config.json").is_file():
            continue
        cfg, _ = read_model_config(latest)
        counts = param_counts(cfg)
        state = _read_json(latest / "trainer_state.json") or {}
        last_eval = state.get("last_eval") or {}
        rows.append([stage_dir.name, f"{cfg.n_layers}L d{cfg.d_model} h{cfg.n_heads} ctx{cfg.context_length}",
                     counts.get("total"), counts.get("non_embedding"), flops_per_token(cfg, training=False),
                     state.get("step"), state.get("tokens"), state.get("train_seconds"),
                     last_eval.get("val/loss"), last_eval.get("val/bits_per_byte")])
    header = ["checkpoint", "shape", "parameters", "non-embedding", "inference FLOPs/token", "steps", "tokens",
              "train seconds", "val loss", "val bits/byte"]
    return Section("Model card", [(header, rows)], [], []) if rows else None


def plot_training(run: Path, out_dir: Path) -> list[Path]:
    """PNG plots of metrics.jsonl: losses, bits per byte, learning rate and throughput against step."""
    lines = []
    metrics_file = run / "metrics.jsonl"
    if not metrics_file.is_file():
        return []
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not lines:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {
        "loss": [k for k in ("train/loss", "val/loss") if any(k in r for r in lines)],
        "bits_per_byte": [k for k in ("val/bits_per_byte",) if any(k in r for r in lines)],
        "lr": [k for k in ("lr",) if any(k in r for r in lines)],
        "throughput": [k for k in ("tokens_per_s",) if any(k in r for r in lines)],
    }
    paths = []
    for name, keys in groups.items():
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
        for key in keys:
            points = [(r["step"], r[key]) for r in lines if key in r and "step" in r]
            ax.plot(*zip(*points, strict=True), label=key, marker="o" if key.startswith("val") else None, markersize=3)
        ax.set_xlabel("step")
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        paths.append(save_figure(fig, out_dir / f"report_{name}.png"))
    return paths


def _eval_sections(run: Path) -> list[Section]:
    sections = []
    for path in sorted((run / "eval").glob("*.json")):
        data = _read_json(path)
        if not isinstance(data, dict):
            continue
        table_source = data.get("metrics", data)
        if "scores" in data and "rubric" in data:  # a judge summary: one row per criterion
            rows = [[k, s["mean"], s.get("ci95"), s["n"]] for k, s in data["scores"].items()]
            tables = [(["criterion", "mean", "± 95% CI", "items"], rows)]
            tables += [([k, "count"], sorted(v.items())) for k, v in data.get("labels", {}).items()]
            title = f"Judge: {data['rubric']} rubric, judge model {data.get('model')} ({path.name})"
        else:
            flat = {k: v for k, v in flatten(table_source).items() if not k.startswith("config.")}
            tables = [(["metric", "value"], [[k, v] for k, v in flat.items()])]
            title = f"Evaluation: {path.stem}"
        texts = [f"{s.get('prompt', '')}{s.get('continuation', s.get('text', ''))}" for s in data.get("samples", [])
                 if isinstance(s, dict)]
        sections.append(Section(title, tables, [], texts[:3]))
    return sections


def _samples_section(run: Path, per_source: int) -> Section | None:
    texts = []
    for path in sorted((run / "samples").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts += [f"[{path.stem}, step {r.get('step')}] {r.get('text', '')}" for r in rows[-per_source:]]
    return Section("Sample stories during training", [], [], texts) if texts else None


def _table_html(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_md(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, ["---"] * len(header)] + [[_fmt(c).replace("|", "\\|") for c in row] for row in rows]
    return "\n".join("| " + " | ".join(r) + " |" for r in cells)


_CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#1d1f24}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #ddd;padding:.2rem .6rem;text-align:left}
th{background:#f3f4f6}img{max-width:48%;margin:.4rem .4rem 0 0;vertical-align:top}
blockquote{background:#fafaf7;border-left:4px solid #2f6fd1;margin:.6rem 0;padding:.5rem 1rem;white-space:pre-wrap}"""


def render(run: Path, sections: list[Section]) -> tuple[str, str]:
    """(report.html with images embedded, report.md with images linked relative to the run directory)."""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    parts_html = [f"<h1>slmkit run report: {html.escape(run.name)}</h1><p>{html.escape(str(run))} · {stamp}</p>"]
    parts_md = [f"# slmkit run report: {run.name}\n\n`{run}` · {stamp}\n"]
    for section in sections:
        parts_html.append(f"<h2>{html.escape(section.title)}</h2>")
        parts_md.append(f"## {section.title}\n")
        for header, rows in section.tables:
            parts_html.append(_table_html(header, rows))
            parts_md.append(_table_md(header, rows) + "\n")
        for image in section.images:
            data = base64.b64encode(image.read_bytes()).decode()
            parts_html.append(f'<img alt="{html.escape(image.stem)}" src="data:image/png;base64,{data}">')
            parts_md.append(f"![{image.stem}]({image.relative_to(run).as_posix()})\n")
        for text in section.texts:
            parts_html.append(f"<blockquote>{html.escape(text)}</blockquote>")
            parts_md.append("> " + text.replace("\n", "\n> ") + "\n")
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>slmkit report: '
            f"{html.escape(run.name)}</title><style>{_CSS}</style></head><body>{''.join(parts_html)}</body></html>")
    return page, "\n".join(parts_md)


def report_stage(cfg: ReportConfig) -> dict[str, Any]:
    """Write <run>/report.html and <run>/report.md; returns their paths."""
    run = Path(cfg.run)
    if not run.is_dir():
        raise MissingFileError(run, expected="a run directory")
    sections = [s for s in (_pipeline_section(run), _data_section(run), _models_section(run)) if s]
    images = plot_training(run, run / "plots")
    if images:
        sections.append(Section("Training curves", [], images, []))
    sections += _eval_sections(run)
    samples = _samples_section(run, cfg.samples)
    if samples:
        sections.append(samples)
    page, markdown = render(run, sections)
    atomic_write_text(run / "report.html", page)
    atomic_write_text(run / "report.md", markdown)
    print0(f"wrote {run / 'report.html'} and {run / 'report.md'}")
    return {"html": str(run / "report.html"), "markdown": str(run / "report.md"), "sections": len(sections)}
