#!/usr/bin/env python3
"""The third column of tools/peer_bench.py: Hugging Face transformers on PyTorch (CPU, bf16) on
the same shaped LLaVA checkpoint, one measurement per process, printed as JSON.
  ttft     processor + generate(max_new_tokens=1) on the image prompt (cold, as lightvlm's)
  prefill  the language model's body over N token ids, then lm_head on the last row (one
           untimed run first, as lightvlm's --warmup 1)
  decode   generate after a P-token text prompt: (time for 1 + G tokens - time for 1) / G
"""
import argparse
import json
import time
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoProcessor, LlavaConfig, LlavaForConditionalGeneration


def prompt_ids(count, seed=0):
    # Ids of the fixture tokenizer's ordinary tokens (3..999), like the other engines' filler.
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, 1000, (1, count), generator=generator)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--question", default="Describe the image in detail.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--test", choices=["ttft", "prefill", "decode"], required=True)
    parser.add_argument("--tokens", type=int, default=512, help="prefill: prompt tokens")
    parser.add_argument("--prompt-tokens", type=int, default=256, help="decode: prompt tokens")
    parser.add_argument("--generated", type=int, default=32, help="decode: tokens timed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # The shaped checkpoints' safetensors carry no "format" metadata, which from_pretrained's file
    # reader insists on: the model is built from its config and handed the tensors instead.
    weights = {}
    for path in sorted(Path(args.checkpoint).glob("*.safetensors")):
        weights.update(load_file(path))
    torch.set_default_dtype(torch.bfloat16)
    model = LlavaForConditionalGeneration(LlavaConfig.from_pretrained(args.checkpoint))
    # The shaped checkpoints leave out CLIP's post_layernorm, which LLaVA (reading layer -2) never
    # uses; anything else missing or left over is an error.
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any("post_layernorm" not in name for name in missing):
        raise SystemExit(f"{args.checkpoint}: missing {missing}, unexpected {unexpected}")
    model.eval()
    with torch.inference_mode():
        if args.test == "ttft":
            processor = AutoProcessor.from_pretrained(args.checkpoint)
            conversation = [{"role": "user", "content": [{"type": "image"},
                                                         {"type": "text", "text": args.question}]}]
            text = processor.apply_chat_template(conversation, add_generation_prompt=True)
            image = Image.open(args.image).convert("RGB")
            start = time.perf_counter()
            inputs = processor(images=image, text=text, return_tensors="pt")
            model.generate(**inputs, max_new_tokens=1, do_sample=False)
            result = {"ttft_ms": (time.perf_counter() - start) * 1e3,
                      "prompt_tokens": int(inputs["input_ids"].shape[1])}
        elif args.test == "prefill":
            ids = prompt_ids(args.tokens)
            body, head = model.language_model.model, model.language_model.lm_head
            for _ in range(2):  # the second run is the one kept
                start = time.perf_counter()
                head(body(input_ids=ids).last_hidden_state[:, -1])
                elapsed = time.perf_counter() - start
            result = {"tokens": args.tokens, "tokens_per_s": args.tokens / elapsed}
        else:
            ids = prompt_ids(args.prompt_tokens)
            times = []
            for new_tokens in (1, 1 + args.generated):
                start = time.perf_counter()
                model.language_model.generate(input_ids=ids, max_new_tokens=new_tokens,
                                              min_new_tokens=new_tokens, do_sample=False)
                times.append(time.perf_counter() - start)
            result = {"prompt_tokens": args.prompt_tokens,
                      "tokens_per_s": args.generated / (times[1] - times[0])}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
