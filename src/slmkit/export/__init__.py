"""slmkit.export: checkpoints out to other runtimes, and Hugging Face weights in (see docs/deploy.md).

- `hf`: `slm export hf`, a transformers folder (LlamaForCausalLM / GPT2LMHeadModel / MixtralForCausalLM)
- `gguf`: `slm export gguf`, one GGUF file for llama.cpp / Ollama
- `onnx`: `slm export onnx`, the forward pass for onnxruntime
- `hf_import`: `slm import hf`, a local HF safetensors folder as a slmkit checkpoint
- `hf_layout` (the weight/config mapping both ways), `model_card`, `ckpt_folder`

Optional dependencies (gguf, onnx/onnxruntime) are imported only by the modules that need them; the HF export
writes its folder without transformers (which loads it).
"""
