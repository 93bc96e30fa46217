"""`slm import hf`: tiny random transformers models (GPT-2, Llama, Mixtral) saved with save_pretrained become slmkit
checkpoints with the same logits and greedy tokens; pickled weights and unrepresentable configs are refused."""

from __future__ import annotations

import json

import pytest
import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from slmkit.cli import main
from slmkit.common.errors import ConfigError, InputError
from slmkit.data.synth import generate_stories
from slmkit.export.hf import ExportHFConfig, export_hf_stage
from slmkit.export.hf_import import ImportHFConfig, import_hf_stage
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams

transformers = pytest.importorskip("transformers")

VOCAB = 320


def tiny_hf_model(kind: str):
    common = dict(vocab_size=VOCAB, initializer_range=0.2, bos_token_id=0, eos_token_id=0)
    if kind == "gpt2":
        config = transformers.GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=4, **common)
    elif kind == "llama":
        config = transformers.LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                          rope_theta=5000.0, tie_word_embeddings=False, **common)
    else:
        config = transformers.MixtralConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=2,
                                            max_position_embeddings=64, num_local_experts=4, num_experts_per_tok=2,
                                            sliding_window=None, **common)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():  # random norms so that every tensor's import is checked
        for name, param in model.named_parameters():
            if "norm" in name or "ln_" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return model


def save_hf(model, folder, tokenizer_json: str):
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    return folder


def gpt2_style_tokenizer_json() -> str:
    """A byte-level BPE with only GPT-2's <|endoftext|> special token (not slmkit's others)."""
    hf = HFTokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator([s.text for s in generate_stories(100, seed=5)], trainer=trainer)
    return hf.to_str()


def check_parity(hf_model, ckpt, prompt_text="Once upon a time"):
    loaded = load_checkpoint(ckpt)
    model, tok = loaded.model, loaded.tokenizer
    idx = torch.randint(0, VOCAB, (2, 30))
    with torch.no_grad():
        theirs = hf_model(idx).logits
        torch.testing.assert_close(model(idx).logits[..., :VOCAB], theirs, atol=1e-4, rtol=0)
    prompt = [tok.eot_id] + tok.encode(prompt_text)
    ours = generate(model, [prompt], 20, SamplingParams(temperature=0.0))[0]
    out = hf_model.generate(torch.tensor([prompt]), max_new_tokens=20, do_sample=False, eos_token_id=None,
                            pad_token_id=0, attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    assert out[0, len(prompt):].tolist() == ours
    return loaded


@pytest.mark.parametrize("kind", ["gpt2", "llama", pytest.param("mixtral", marks=pytest.mark.slow)])
def test_import_matches_transformers(kind, tmp_path, story_tokenizer):
    hf_model = tiny_hf_model(kind)
    src = save_hf(hf_model, tmp_path / "hf", story_tokenizer.json_text)
    result = import_hf_stage(ImportHFConfig(src=str(src), out=str(tmp_path / "ckpt")))
    assert result["added_special_tokens"] == [] and result["hf_model_type"] == kind
    loaded = check_parity(hf_model, tmp_path / "ckpt")
    assert loaded.model.cfg.vocab_size == VOCAB
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["stage"] == "import"


def test_import_adds_missing_special_tokens_and_slm_generate_runs(tmp_path, capsys):
    hf_model = tiny_hf_model("gpt2")
    src = save_hf(hf_model, tmp_path / "hf", gpt2_style_tokenizer_json())
    code = main(["import", "hf", "--src", str(src), "--out", str(tmp_path / "ckpt")])
    assert code == 0
    capsys.readouterr()
    loaded = check_parity(hf_model, tmp_path / "ckpt")  # the original ids keep their logits
    tok = loaded.tokenizer
    assert [tok.special_ids[t] for t in ("<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")] == [
        300, 301, 302, 303, 304]
    assert loaded.model.cfg.vocab_size == VOCAB  # the new ids fit in the padded embedding rows
    code = main(["generate", "--ckpt", str(tmp_path / "ckpt"), "--prompt", "Once", "--max-tokens", "5",
                 "--temperature", "0", "--device", "cpu"])
    assert code == 0 and capsys.readouterr().out.startswith("Once")  # (random weights: the rest is noise)


def test_import_grows_the_vocabulary_when_needed(tmp_path):
    hf_model = tiny_hf_model("llama")
    hf_model.resize_token_embeddings(300)  # exactly the tokenizer's 300 ids: 4 new specials need new rows
    hf_model.config.vocab_size = 300
    src = save_hf(hf_model, tmp_path / "hf", gpt2_style_tokenizer_json())
    result = import_hf_stage(ImportHFConfig(src=str(src), out=str(tmp_path / "ckpt")))
    assert len(result["added_special_tokens"]) == 5
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.model.cfg.vocab_size == loaded.tokenizer.vocab_size == 305
    idx = torch.randint(0, 300, (1, 20))
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(idx).logits[..., :300], hf_model(idx).logits, atol=1e-4, rtol=0)


def test_export_then_import_is_lossless(make_ckpt, tmp_path):
    for arch in ("llama-bias-untied", "gpt2", "mixtral"):
        ckpt, model = make_ckpt(arch)
        export_hf_stage(ExportHFConfig(ckpt=str(ckpt), out=str(tmp_path / f"hf-{arch}")))
        import_hf_stage(ImportHFConfig(src=str(tmp_path / f"hf-{arch}"), out=str(tmp_path / f"back-{arch}")))
        back = load_checkpoint(tmp_path / f"back-{arch}").model
        assert back.cfg.__dict__ == {**model.cfg.__dict__, "init_std": back.cfg.init_std}
        for name, tensor in model.state_dict().items():
            assert torch.equal(back.state_dict()[name], tensor), (arch, name)


def test_pickled_weights_are_refused_unopened(tmp_path, capsys, story_tokenizer):
    src = tmp_path / "hf"
    src.mkdir()
    tiny_hf_model("gpt2").config.save_pretrained(src)
    (src / "pytorch_model.bin").write_bytes(b"not opened: a pickle would run code")
    (src / "tokenizer.json").write_text(story_tokenizer.json_text)
    with pytest.raises(InputError, match="pytorch_model.bin.*pickled.*safetensors"):
        import_hf_stage(ImportHFConfig(src=str(src), out=str(tmp_path / "ckpt")))
    assert main(["import", "hf", "--src", str(src), "--out", str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "pickled" in err and err.count("\n") == 0
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope_scaling"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"mlp_bias": True}, "mlp_bias"),
        ({"model_type": "t5"}, "model_type"),
    ],
)
def test_unrepresentable_hf_configs_name_the_field(change, field, tmp_path, story_tokenizer):
    src = save_hf(tiny_hf_model("llama"), tmp_path / "hf", story_tokenizer.json_text)
    config = json.loads((src / "config.json").read_text()) | change
    (src / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError) as err:
        import_hf_stage(ImportHFConfig(src=str(src), out=str(tmp_path / "ckpt")))
    assert f"config.json: {field}" in str(err.value)


def test_sentencepiece_style_tokenizer_is_refused(tmp_path, story_tokenizer):
    src = save_hf(tiny_hf_model("llama"), tmp_path / "hf", story_tokenizer.json_text)
    spec = json.loads(story_tokenizer.json_text)
    spec["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    (src / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match="byte-level BPE"):
        import_hf_stage(ImportHFConfig(src=str(src), out=str(tmp_path / "ckpt")))
