"""`slm export hf`: transformers loads the folder with no custom code and computes the same logits (fp32, atol 1e-4)
and the same greedy tokens as slmkit, for every architecture; the tokenizer and chat template round-trip."""

from __future__ import annotations

import json

import pytest
import torch

from slmkit.cli import main
from slmkit.common.errors import ConfigError
from slmkit.export.hf import ExportHFConfig, export_hf_stage
from slmkit.export.hf_layout import hf_architecture
from slmkit.infer.engine import generate
from slmkit.infer.sampling import SamplingParams
from slmkit.model import ModelConfig
from slmkit.tokenizer import render_chat
from tests.export.conftest import ARCH_CONFIGS

transformers = pytest.importorskip("transformers")

EXPECTED_CLASS = {"llama": "LlamaForCausalLM", "llama-bias-untied": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel",
                  "gpt2-nobias": "GPT2LMHeadModel", "mixtral": "MixtralForCausalLM"}


def hf_greedy(hf_model, prompt: list[int], n: int, eos: int) -> list[int]:
    out = hf_model.generate(torch.tensor([prompt]), max_new_tokens=n, do_sample=False, eos_token_id=eos,
                            pad_token_id=eos, attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    new = out[0, len(prompt):].tolist()
    return new[: new.index(eos)] if eos in new else new


@pytest.mark.parametrize(
    "arch", [pytest.param(a, marks=pytest.mark.slow) if a == "mixtral" else a for a in ARCH_CONFIGS]
)
def test_transformers_matches_slmkit(arch, make_ckpt, tmp_path, story_tokenizer):
    ckpt, model = make_ckpt(arch)
    out = tmp_path / "hf"
    result = export_hf_stage(ExportHFConfig(ckpt=str(ckpt), out=str(out)))
    assert result["architecture"] == EXPECTED_CLASS[arch]
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    assert type(hf).__name__ == EXPECTED_CLASS[arch]
    if arch != "gpt2-nobias":  # (GPT-2 always has biases: a bias-free model exports zeros)
        assert sum(p.numel() for p in hf.parameters()) == model.num_params()

    torch.manual_seed(1)
    idx = torch.randint(0, model.cfg.vocab_size, (3, 40))
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, model(idx).logits, atol=1e-4, rtol=0)

    tok = story_tokenizer
    prompt = [tok.eot_id] + tok.encode("Once upon a time")
    ours = generate(model, [prompt], 30, SamplingParams(temperature=0.0), stop_ids={tok.eot_id})[0]
    with torch.no_grad():
        theirs = hf_greedy(hf, prompt, 30, tok.eot_id)
    assert theirs == ours and len(ours) > 0


def test_folder_contents_tokenizer_and_chat_template(make_ckpt, tmp_path, story_tokenizer):
    ckpt, model = make_ckpt("llama")
    out = tmp_path / "hf"
    export_hf_stage(ExportHFConfig(ckpt=str(ckpt), out=str(out), name="tiny-test"))
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "README.md"} <= names
    gen = transformers.GenerationConfig.from_pretrained(out)
    assert gen.bos_token_id == 0 and gen.eos_token_id == [0, 5] and gen.pad_token_id == 1

    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    text = "Once upon a time, a little dog named Max ran to the park! 123 \u00e9t\u00e9 \U0001f600"
    assert hf_tok(text, add_special_tokens=False).input_ids == story_tokenizer.encode(text)
    assert hf_tok.bos_token_id == story_tokenizer.eot_id and hf_tok.pad_token_id == story_tokenizer.pad_id
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Tell a story."}]
    rendered = hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == render_chat(messages, add_generation_prompt=True)
    ids = hf_tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert list(ids) == story_tokenizer.encode_chat(messages, add_generation_prompt=True)

    card = (out / "README.md").read_text()
    for heading in ("# tiny-test", "## Parameters", "## Data", "## Metrics", "## Intended use", "## Limits"):
        assert heading in card
    assert f"{model.num_params():,}" in card
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_key_value_heads"] == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (dict(norm="layernorm"), "model.norm"),
        (dict(mlp="gelu"), "model.mlp"),
        (dict(pos_emb="learned"), "model.norm"),
        (dict(pos_emb="learned", norm="layernorm", mlp="gelu", n_kv_heads=2), "model.n_kv_heads"),
        (dict(n_experts=4, bias=True), "model.bias"),
        (dict(pos_emb="learned", norm="layernorm", mlp="gelu", n_experts=2), "model.n_experts"),
    ],
)
def test_unrepresentable_configs_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as err:
        hf_architecture(ModelConfig(d_model=32, n_heads=4, **overrides))
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_cli_export_error_is_one_line(tmp_path, story_tokenizer, capsys):
    from slmkit.export.ckpt_folder import write_checkpoint_folder
    from tests.export.conftest import random_model

    model = random_model(ModelConfig(vocab_size=320, d_model=32, n_heads=4, n_layers=1, norm="layernorm"))
    ckpt = write_checkpoint_folder(tmp_path / "ckpt", model, story_tokenizer)
    code = main(["export", "hf", "--ckpt", str(ckpt), "--out", str(tmp_path / "hf")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0 and "model.norm" in err
    assert not (tmp_path / "hf").exists()
