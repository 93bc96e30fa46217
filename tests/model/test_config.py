import pytest

from slmkit.common.errors import ConfigError
from slmkit.config import build_config, to_dict
from slmkit.model import PRESETS, ModelConfig, preset


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"d_model": 130, "n_heads": 4}, "model.d_model"),
        ({"n_heads": 4, "n_kv_heads": 3}, "model.n_kv_heads"),
        ({"n_kv_heads": 0}, "model.n_kv_heads"),
        ({"context_length": 0}, "model.context_length"),
        ({"vocab_size": -1}, "model.vocab_size"),
        ({"n_layers": 0}, "model.n_layers"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"n_experts": 1}, "model.n_experts"),
        ({"n_experts": 4, "moe_top_k": 5}, "model.moe_top_k"),
        ({"n_experts": 4, "moe_capacity_factor": 0.0}, "model.moe_capacity_factor"),
        ({"d_model": 12, "n_heads": 4}, "model.d_model"),  # head_dim 3 is odd: RoPE needs pairs
        ({"d_ff": 0}, "model.d_ff"),
    ],
)
def test_invalid_configs_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        ModelConfig(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_d_model_error_mentions_n_heads():
    with pytest.raises(ConfigError, match=r"model\.d_model: found 130, expected a multiple of model\.n_heads=4"):
        ModelConfig(d_model=130, n_heads=4)


def test_resolved_defaults():
    cfg = ModelConfig(d_model=384, n_heads=6)
    assert cfg.head_dim == 64 and cfg.kv_heads == 6
    assert cfg.ffn_dim == 1024  # 8/3*384 = 1024, already a multiple of 64
    assert ModelConfig(d_model=128).ffn_dim == 384  # 341.3 rounded up to a multiple of 64
    assert ModelConfig(d_model=128, mlp="gelu").ffn_dim == 512
    assert ModelConfig(d_ff=100).ffn_dim == 100
    assert ModelConfig(n_heads=4, n_kv_heads=2).kv_heads == 2


def test_presets_build_and_override():
    assert set(PRESETS) >= {"tiny", "small", "ts-33m", "gpt2-124m", "llama-110m", "moe-tiny"}
    cfg = preset("small", dropout=0.1)
    assert cfg.dropout == 0.1 and PRESETS["small"].dropout == 0.0  # the table itself is untouched
    gpt2 = preset("gpt2-124m")
    layout = (gpt2.pos_emb, gpt2.norm, gpt2.mlp, gpt2.bias, gpt2.tie_embeddings)
    assert layout == ("learned", "layernorm", "gelu", True, True)
    assert (gpt2.vocab_size, gpt2.context_length) == (50257, 1024)
    assert preset("moe-tiny").n_experts > 0


def test_preset_errors():
    with pytest.raises(ConfigError, match="tiny"):
        preset("nope")
    with pytest.raises(ConfigError, match="model.nope"):
        preset("tiny", nope=1)
    with pytest.raises(ConfigError, match="model.n_kv_heads"):
        preset("tiny", n_kv_heads=3)


def test_round_trips_through_plain_dict():
    cfg = preset("gpt2-124m")
    assert build_config(ModelConfig, to_dict(cfg)) == cfg
    assert build_config(ModelConfig, {}, {"d_model": "256", "n_kv_heads": "none"}).d_model == 256
