"""llama.cpp itself (llama-cpp-python) runs our GGUF exports: same tokenization as our tokenizer, logits close to
ours and the same greedy tokens, for the llama (dense, GQA, biases, MoE) and gpt2 architectures.

Skipped where llama-cpp-python is not installed (CI does not build it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slmkit.export.gguf import write_gguf
from slmkit.infer.engine import generate
from slmkit.infer.sampling import SamplingParams
from tests.export.conftest import random_model, tiny_config

llama_cpp = pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.llamacpp
F32 = 0  # GGML_TYPE_F32


def load_llama(path, n_ctx: int):
    # f32 KV cache (llama.cpp's default is f16, which alone moves logits by ~1e-3); one thread: worker threads
    # spin-wait, which is very slow on a busy machine
    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=1, n_batch=n_ctx, logits_all=True,
                           type_k=F32, type_v=F32, verbose=False, seed=0)


def llama_greedy(llm, prompt: list[int], n: int, stop: int) -> tuple[list[int], np.ndarray]:
    """Greedy tokens from llama.cpp (argmax of its own logits) and the logits of the prompt."""
    llm.reset()
    llm.eval(prompt)
    prompt_logits = np.array(llm.scores[: len(prompt)])
    out: list[int] = []
    for _ in range(n):
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        if token == stop:
            break
        out.append(token)
        llm.eval([token])
    return out, prompt_logits


@pytest.mark.parametrize("arch", ["llama", "llama-bias-untied", "gpt2", "mixtral"])
def test_llama_cpp_matches_slmkit(arch, tmp_path, story_tokenizer):
    model = random_model(tiny_config(arch))
    tok = story_tokenizer
    path = tmp_path / "m.gguf"
    write_gguf(path, model, tok, "f32")
    llm = load_llama(path, model.cfg.context_length)

    prompt = [tok.eot_id] + tok.encode("Once upon a time, there was")
    with torch.no_grad():
        ours_logits = model(torch.tensor([prompt])).logits[0].numpy()
    ours = generate(model, [prompt], 30, SamplingParams(temperature=0.0), stop_ids={tok.eot_id})[0]
    theirs, their_logits = llama_greedy(llm, prompt, 30, tok.eot_id)
    # llama.cpp's CPU kernels are not all exact fp32 (e.g. GELU goes through an fp16 lookup table): 1e-4 is too tight
    np.testing.assert_allclose(their_logits, ours_logits, atol=2e-3, rtol=0)
    assert theirs == ours and len(ours) > 0


def test_llama_cpp_tokenizes_like_slmkit(tmp_path, story_tokenizer):
    model = random_model(tiny_config("llama"))
    path = tmp_path / "m.gguf"
    write_gguf(path, model, story_tokenizer, "f32")
    llm = load_llama(path, 64)
    texts = ["Once upon a time, Lily's dog didn't want to play.", "  two  spaces\nand a newline\n\n",
             "Numbers 12345 and 3.14!", "caf\u00e9 \u00fcber \u4f60\u597d \U0001f600", "<|user|> is text here"]
    for text in texts:
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == story_tokenizer.encode(text), text
    # llama.cpp adds bos = <|endoftext|> by itself, as `slm generate` does
    assert llm.tokenize(b"Once", add_bos=True) == [story_tokenizer.eot_id] + story_tokenizer.encode("Once")
    assert llm.detokenize(story_tokenizer.encode(texts[3])).decode() == texts[3]
