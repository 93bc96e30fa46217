"""metrics.jsonl across interruptions: a resumed run drops the lines logged after its checkpoint, and a fresh start
drops the lines of a run that was killed before its first checkpoint."""

from __future__ import annotations

import json

from slmkit.common.runs import RunDir
from slmkit.train.metrics_log import MetricsLogger, read_metrics


def log_steps(run: RunDir, steps, resume_step) -> None:
    logger = MetricsLogger(run, resume_step=resume_step, tensorboard=False)
    for step in steps:
        logger.write({"step": step, "train/loss": 1.0 / step})
    logger.close()


def test_resume_drops_lost_lines_and_a_fresh_start_drops_all(tmp_path):
    run = RunDir(tmp_path / "run")
    log_steps(run, [10, 20, 30], resume_step=-1)
    log_steps(run, [30, 40], resume_step=20)  # killed after step 30, resumed from the step-20 checkpoint
    assert [r["step"] for r in read_metrics(run.metrics_file)] == [10, 20, 30, 40]
    log_steps(run, [10], resume_step=-1)  # no checkpoint survived: the run starts over
    lines = run.metrics_file.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["step"] for line in lines] == [10]
