"""DPO: log-probabilities and loss on hand-computed values, response-only masks, the frozen reference, learning a
preference, and `slm finetune dpo` end to end on both record formats."""

from __future__ import annotations

import json
import math

import pytest
import torch

from slmkit.cli import main
from slmkit.common.errors import InputError
from slmkit.model.config import ModelConfig
from slmkit.model.loss import IGNORE_INDEX
from slmkit.model.transformer import Transformer
from slmkit.tasks.dpo import DPOModel, DPOOptions, DPOTask, dpo_loss, sequence_logprobs
from tests.train.test_finetune import COMMON, _ckpt, _summary, micro_base  # noqa: F401 (fixture)


def test_sequence_logprobs_sums_only_targets():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]]]))  # (1, 3, 3)
    targets = torch.tensor([[0, IGNORE_INDEX, 2]])
    assert sequence_logprobs(logits, targets).item() == pytest.approx(math.log(0.5) + math.log(1 / 3))


def test_dpo_loss_by_hand():
    loss, margin = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]), torch.tensor([-1.5]),
                            beta=0.1)
    assert margin.item() == pytest.approx(0.1)  # 0.1 * ((-1 + 1.5) - (-2 + 1.5))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.1)))
    equal, _ = dpo_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.zeros(3), beta=0.5)
    assert equal.item() == pytest.approx(math.log(2))


def test_encoding_masks_prompts_and_pairs_rows(tokenizer):
    task = DPOTask(DPOOptions(), tokenizer, max_len=256)  # the Alpaca template alone is 86 tokens here
    records = [{"instruction": "Say a colour.", "input": "", "chosen": "red", "rejected": "no", "where": "x[0]"},
               {"prompt": "Name a pet.", "chosen": "a dog", "rejected": "a rock", "where": "x[1]"}]
    encoded = task.encode_all(records, "train")
    chosen, rejected = encoded[0], encoded[0].meta["rejected"]
    n_prompt = chosen.prompt_len
    assert chosen.tokens[:n_prompt] == rejected.tokens[:n_prompt]  # same prompt
    assert not any(chosen.loss_mask[:n_prompt]) and all(chosen.loss_mask[n_prompt:])
    assert tokenizer.decode(chosen.tokens[n_prompt:-1]) == "red"
    x, y = task.collate(encoded, "cpu")
    assert x.shape[0] == 4  # [chosen 0, chosen 1, rejected 0, rejected 1]
    with pytest.raises(InputError, match="rejected"):
        task.encode_all([{"instruction": "x", "chosen": "a", "where": "f:3"}], "train")


def test_reference_is_frozen_and_a_preference_is_learned(tokenizer):
    torch.manual_seed(0)
    lm = Transformer(ModelConfig(vocab_size=tokenizer.vocab_size, context_length=64, n_layers=2, n_heads=2,
                                 d_model=32))
    task = DPOTask(DPOOptions(beta=0.5, format="chat"), tokenizer, max_len=64)
    pairs = task.encode_all([{"prompt": "Pick one.", "chosen": "yes", "rejected": "no", "where": "p"}], "train")
    model = task.wrap_model(lm)
    assert isinstance(model, DPOModel) and not any(p.requires_grad for p in model.reference.parameters())
    x, y = task.collate(pairs, "cpu")
    start = model(x, y)
    assert start.loss.item() == pytest.approx(math.log(2), abs=1e-5)  # policy == reference
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    reference_before = [p.clone() for p in model.reference.parameters()]
    for _ in range(10):
        optimizer.zero_grad()
        model(x, y).loss.backward()
        optimizer.step()
    metrics = task.evaluate(model, pairs, "cpu")
    assert metrics["loss"] < 0.3 and metrics["reward_accuracy"] == 1.0 and metrics["reward_margin"] > 0
    assert all(torch.equal(a, b) for a, b in zip(reference_before, model.reference.parameters(), strict=True))


def test_finetune_dpo_cli_on_preference_json_and_feedback_pairs(micro_base, tmp_path):  # noqa: F811
    words = ["dog", "cat", "sun", "tree", "ball", "cake", "hat", "fish", "bird", "boat", "cup", "bed"]
    prefs = tmp_path / "prefs.json"
    prefs.write_text(json.dumps([{"instruction": f"Say {w}.", "input": "", "output": w, "chosen": w,
                                  "rejected": f"not {w}"} for w in words * 2]))
    run = tmp_path / "ft"
    assert main(["finetune", "dpo", "--ckpt", _ckpt(micro_base), "--data", str(prefs), "--run", str(run),
                 "--max-steps", "6", "--val-size", "4", "--test-size", "4", "--dpo.beta", "0.5", "--dpo.format", "chat",
                 "--optim.lr", "3e-3", *COMMON]) == 0
    test = _summary(run, "dpo")["test"]
    for key in ("loss", "reward_accuracy", "reward_margin", "logp_accuracy", "reference_logp_accuracy"):
        assert key in test
    assert test["reward_margin"] > 0  # the policy moved towards the chosen answers
    config = json.loads((run / "ckpt" / "dpo" / "best" / "latest" / "config.json").read_text())
    assert config["finetune"]["dpo"] == {"beta": 0.5} and config["finetune"]["format"] == "chat"

    feedback_pairs = tmp_path / "dpo.jsonl"  # what `slm feedback build` writes
    feedback_pairs.write_text("".join(json.dumps({"prompt": f"Say {w}.", "chosen": w, "rejected": "hmm"}) + "\n"
                                      for w in words))
    assert main(["finetune", "dpo", "--ckpt", _ckpt(micro_base), "--data", str(feedback_pairs), "--run", str(run),
                 "--stage", "dpo_feedback", "--dpo.format", "chat", "--max-steps", "2", "--val-size", "3",
                 "--test-size", "0", *COMMON]) == 0
