"""Generation from a trained micro checkpoint: KV-cached decoding equals full recomputation, streaming text never
splits a UTF-8 character, `slm generate` streams samples (every sampling option, stop strings, few-shot prompts) and
`slm chat` answers piped messages with the conversation as history."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from slmkit.cli import main
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.infer.text import StreamingDecoder
from slmkit.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def trained_run(micro_checkpoint):
    return micro_checkpoint


def test_greedy_cached_generation_matches_full_recomputation(trained_run):
    loaded = load_checkpoint(trained_run)
    model, tok = loaded.model, loaded.tokenizer
    prompt = [tok.eot_id] + tok.encode("Once upon a time")
    cached = generate(model, [prompt], 20, SamplingParams(temperature=0))[0]
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(20):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    assert cached == ids[len(prompt):]  # no stop ids given, so all 20 tokens are generated


def test_streaming_decoder_holds_back_partial_characters(trained_run):
    tok = Tokenizer.from_file(trained_run / "tokenizer" / "tokenizer.json")
    text = "Lily 🐻 said héllo 你好"
    ids = tok.encode(text)
    decoder = StreamingDecoder(tok)
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)


def test_generate_command_streams_seeded_samples(trained_run, capsys):
    args = ["generate", "--ckpt", str(trained_run), "--prompt", "Once", "--n", "2", "--max-tokens", "15", "--seed", "4"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.count("--- sample") == 2 and first.count("Once") >= 2
    assert main(args) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    assert main(["generate", "--ckpt", str(trained_run), "--temperature", "-1"]) == 2
    assert "temperature: found -1.0" in capsys.readouterr().err


def test_generate_sampling_options_stop_strings_and_few_shot(trained_run, capsys, tmp_path):
    base = ["generate", "--ckpt", str(trained_run), "--prompt", "Once", "--max-tokens", "20", "--temperature", "0"]
    assert main(base) == 0
    greedy = capsys.readouterr().out
    continuation = greedy[len("Once"):-1]
    stop = continuation[len(continuation) // 2 : len(continuation) // 2 + 2]
    assert main([*base, "--stop", stop, "zzzz"]) == 0
    assert capsys.readouterr().out == "Once" + continuation[: continuation.index(stop)] + "\n"
    sampled = ["generate", "--ckpt", str(trained_run), "--prompt", "Once", "--max-tokens", "12", "--seed", "3",
               "--top-k", "20", "--top-p", "0.9", "--min-p", "0.05", "--repetition-penalty", "1.3",
               "--frequency-penalty", "0.5", "--presence-penalty", "0.5"]
    assert main(sampled) == 0
    first = capsys.readouterr().out
    assert main(sampled) == 0 and capsys.readouterr().out == first
    examples = tmp_path / "ex.jsonl"
    examples.write_text('{"input": "a cat", "output": "Tom"}\n{"input": "a dog", "output": "Sue"}\n')
    assert main([*base, "--few-shot", str(examples), "--k", "2", "--prompt", "a bird"]) == 0
    assert capsys.readouterr().out.startswith("Input: a cat\nOutput: Tom\n\nInput: a dog\nOutput: Sue\n\n"
                                              "Input: a bird\nOutput:")
    assert main([*base, "--top-p", "0"]) == 2
    assert "top_p: found 0.0" in capsys.readouterr().err


def test_chat_answers_piped_messages_with_history(trained_run):
    cmd = [sys.executable, "-m", "slmkit", "chat", "--ckpt", str(trained_run), "--max-tokens", "8",
           "--temperature", "0", "--system", "Be kind."]
    stdin = "Hello there\n/reset\nTell me a story\nAnd then?\n"
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines.count("(history cleared)") == 1
    assert sum(line.startswith("assistant> ") for line in lines) == 3


def test_chat_session_keeps_history_within_the_context(trained_run):
    from slmkit.infer.chat import ChatConfig, ChatSession

    loaded = load_checkpoint(trained_run)
    opts = ChatConfig(ckpt=str(trained_run), max_tokens=6, temperature=0)
    session = ChatSession(loaded.model, loaded.tokenizer, opts, system="Be kind.")
    first = session.reply("Hi")
    assert session.history == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": first}]
    for i in range(12):  # far more than a 64-token context holds: the oldest turns are dropped
        session.reply(f"Tell me more about story number {i}")
    assert len(session.prompt_ids()) <= loaded.model.cfg.context_length - 6
    assert session.history[-2]["content"] == "Tell me more about story number 11"
    assert session.system == [{"role": "system", "content": "Be kind."}]
