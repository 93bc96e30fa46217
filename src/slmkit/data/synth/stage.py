"""`slm data synth`: write N built-in TinyStories-style stories with annotations, no model needed.

Outputs (in `--out DIR`, or `<run>/data/synth` with `--run`):
  stories.jsonl   one JSON object per story: text, id, features, words, summary, label, translations, instruction
  stories.txt     TinyStories text format: stories separated by a `<|endoftext|>` line
  instruct.txt    TinyStories-Instruct format: Features/Words/Summary/Story headers, then the story

Example:
    synth_stage(SynthConfig(n=1000, seed=0, out="data/synth"))
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from slmkit.common.atomic import atomic_path
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.config import check, opt, to_dict
from slmkit.data.synth.diversity import DIVERSITY_WINDOW, diversity_stats
from slmkit.data.synth.story import ENDOFTEXT, generate_stories

STORIES_JSONL, STORIES_TXT, INSTRUCT_TXT = "stories.jsonl", "stories.txt", "instruct.txt"


@dataclass
class SynthConfig:
    """Options of `slm data synth`."""

    n: int = opt(1000, "how many stories to generate")
    seed: int = opt(0, "random seed; the same seed gives the same stories, and story i does not depend on n")
    run: str | None = opt(None, "run directory: write into <run>/data/synth and record the config in recipe.yaml")
    out: str | None = opt(None, "output folder (wins over --run's data/synth when both are given)")

    def __post_init__(self) -> None:
        check(isinstance(self.n, int) and self.n >= 1, "n", self.n, "a whole number >= 1")
        check(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "a whole number >= 0")
        check(bool(self.run) or bool(self.out), "run", self.run, "a run directory (--run DIR) or an output folder "
              "(--out DIR)")

    @property
    def out_dir(self) -> Path:
        """Where the files go: `out` if given, else the run's data/synth folder."""
        return Path(self.out) if self.out else RunDir(self.run).synth_dir  # type: ignore[arg-type]


def synth_stage(cfg: SynthConfig) -> dict:
    """Generate `cfg.n` stories, write the three files atomically, print speed and diversity, return both.

    Example: `synth_stage(SynthConfig(n=100, out="/tmp/synth"))["paths"]["jsonl"]`
    """
    if cfg.run:
        RunDir(cfg.run).save_stage_config("synth", to_dict(cfg))
    out = cfg.out_dir
    paths = {"jsonl": out / STORIES_JSONL, "txt": out / STORIES_TXT, "instruct": out / INSTRUCT_TXT}
    window: list[str] = []
    unique_hashes: set[int] = set()
    started = time.perf_counter()
    # all three files are renamed into place only after the last story is written (or none is, on an error)
    with (
        atomic_path(paths["jsonl"]) as tmp_jsonl,
        atomic_path(paths["txt"]) as tmp_txt,
        atomic_path(paths["instruct"]) as tmp_instruct,
        open(tmp_jsonl, "w", encoding="utf-8") as jsonl,
        open(tmp_txt, "w", encoding="utf-8") as txt,
        open(tmp_instruct, "w", encoding="utf-8") as instruct,
    ):
        for story in generate_stories(cfg.n, cfg.seed):
            jsonl.write(json.dumps(story.to_record(), ensure_ascii=False) + "\n")
            txt.write(f"{story.text}\n{ENDOFTEXT}\n")
            instruct.write(story.instruct_text())
            unique_hashes.add(hash(story.text))
            if len(window) < DIVERSITY_WINDOW:
                window.append(story.text)
    seconds = time.perf_counter() - started
    stats = diversity_stats(window)
    stats["unique_story_rate_all"] = round(len(unique_hashes) / cfg.n, 4)
    rate = cfg.n / seconds if seconds > 0 else float("inf")
    print0(f"synth: {cfg.n} stories (seed {cfg.seed}) -> {out} in {seconds:.1f}s ({rate:,.0f} stories/s)")
    print0(f"synth: diversity over the first {stats['stories']} stories: distinct-2 {stats['distinct_2']:.3f}, "
           f"distinct-3 {stats['distinct_3']:.3f}, unique stories {stats['unique_story_rate']:.2%} "
           f"(all {cfg.n}: {stats['unique_story_rate_all']:.2%}), {stats['mean_words']} words/story")
    return {"paths": {k: str(v) for k, v in paths.items()}, "n": cfg.n, "seconds": round(seconds, 3),
            "stories_per_second": round(rate, 1), "diversity": stats}
