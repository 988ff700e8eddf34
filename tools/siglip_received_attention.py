#!/usr/bin/env python3
"""The attention each patch receives in the SmolVLM fixture tower's last layer, by transformers.

VisionZip ranks a class-token-less tower's patches by the attention each receives from all
patches, averaged over patches and heads (docs/ALGORITHM.md, visionzip). This prints that, by
transformers' eager attention (output_attentions), for the first sub-image of the fixture's
photograph: the values SiglipVisionTowerTest checks lightvlm's against.

  .venv5/bin/python tools/siglip_received_attention.py tests/fixtures/smolvlm
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText


def main():
    fixture = sys.argv[1]
    model = AutoModelForImageTextToText.from_pretrained(fixture + "/model",
                                                        attn_implementation="eager")
    pixels = load_file(fixture + "/golden.safetensors")["pixel_values.mmbench_21"]
    sub_image = pixels.reshape(-1, 3, pixels.shape[-2], pixels.shape[-1])[:1]
    with torch.no_grad():
        out = model.model.vision_model(pixel_values=sub_image, output_attentions=True)
    received = out.attentions[-1][0].mean(dim=(0, 1))  # over heads and rows -> [patches]
    order = torch.argsort(received, descending=True).tolist()
    print("patches", received.numel(), "sum", float(received.sum()))
    for patch in order[:5] + order[-3:]:
        print(f"{{{patch}, {float(received[patch]):.9g}}},")


if __name__ == "__main__":
    main()
