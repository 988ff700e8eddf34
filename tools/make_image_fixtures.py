#!/usr/bin/env python3
"""Reference data for lightvlm's image pipeline: decoding, Pillow-identical resizing, and
CLIPImageProcessor pixel values, written under tests/fixtures/images/.

Usage:
    .venv/bin/python tools/make_image_fixtures.py --out tests/fixtures/images

It reads only ../shared/images/*.jpg (real photographs), runs on the CPU in a few seconds and is
deterministic (same Pillow / numpy / transformers versions give byte-identical files). The C++ tests
read what it writes and need no Python. What it writes:

  decode/photo.{png,bmp,ppm,gif,jpg}, photo_progressive.jpg, photo_gray.{png,pgm},
  photo_rgba.png, photo_la.png, photo_palette.png
      one 64x48 photograph in every container and pixel format the decoder handles;
  decode/expected.safetensors
      U8 [h, w, 3] per file: np.asarray(Image.open(file).convert("RGB")), which is what
      transformers' convert_to_rgb produces (it calls PIL's convert("RGB"): alpha is dropped, not
      composited; gray is replicated). The JPEG entries are Pillow's libjpeg-turbo decode, which
      lightvlm equals exactly (tools/make_jpeg_fixtures.py covers JPEG in depth);
  resize/cases.safetensors
      inputs "input/<name>" U8 [h, w, 3] (a 48x36 crop of the photo, 23x17 seeded noise) and, for every filter and size in RESIZE_SIZES, the output
      of Image.resize((w, h), filter) as "<name>/<filter id>/<w>x<h>" U8 [h, w, 3];
  clip/cases.json, clip/<case>.json, clip/*.png, clip/expected.safetensors
      CLIPImageProcessor cases: the preprocessor_config.json of each (written by transformers
      itself, or by hand in the old format with int sizes), the input PNG (lossless, so the C++
      decoder sees exactly the pixels Pillow saw; one case reads tests/fixtures/llava/image.png,
      which tools/make_fixtures.py writes) and the expected pixel_values F32 [3, H, W]. The full
      llava-1.5 case (336x336) is tests/fixtures/llava's golden pixel_values.
"""

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import PIL
import safetensors
import transformers
from PIL import Image
from safetensors.numpy import save_file
from transformers import CLIPImageProcessor

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = REPO_ROOT.parent / "shared" / "images"

SMALL_SIZE = (64, 48)  # (width, height) of the decode and resize inputs
RESIZE_PHOTO_BOX = (8, 6, 56, 42)  # a 48x36 crop of the small photo is the resize input
NOISE_SIZE = (23, 17)  # random pixels with many 0/255 extremes: exercises clipping after each pass
NOISE_SEED = 1234
# Output sizes (width, height) for the 48x36 photo and the 23x17 noise: downscale by non-integer
# factors, upscale, one axis only, both axes in opposite directions, and a 1-pixel edge.
RESIZE_SIZES = {
    "photo": [(21, 15), (67, 50), (48, 23), (61, 36), (25, 53), (1, 5)],
    "noise": [(10, 7), (50, 39), (23, 40), (7, 17)],
}
RESIZE_FILTERS = (0, 1, 2, 3, 4, 5)  # NEAREST, LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
LLAVA15 = dict(
    do_resize=True,
    size={"shortest_edge": 336},
    resample=3,
    do_center_crop=True,
    crop_size={"height": 336, "width": 336},
    do_rescale=True,
    rescale_factor=1 / 255,
    do_normalize=True,
    image_mean=CLIP_MEAN,
    image_std=CLIP_STD,
    do_convert_rgb=True,
)


def small_photo():
    photo = Image.open(IMAGES_DIR / "mmbench_21.jpg").convert("RGB")
    return photo.resize(SMALL_SIZE, Image.Resampling.BICUBIC)


def write_decode_fixtures(out):
    out.mkdir(parents=True, exist_ok=True)
    rgb = small_photo()
    pixels = np.asarray(rgb)
    rgba = np.dstack([pixels, np.linspace(0, 255, SMALL_SIZE[0], dtype=np.uint8)[None, :].repeat(
        SMALL_SIZE[1], axis=0)])
    gray = rgb.convert("L")
    palette = rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    files = {
        "photo.png": (rgb, "PNG", {}),
        "photo.bmp": (rgb, "BMP", {}),
        "photo.ppm": (rgb, "PPM", {}),
        "photo.gif": (rgb, "GIF", {}),
        "photo.jpg": (rgb, "JPEG", {"quality": 90}),
        "photo_progressive.jpg": (rgb, "JPEG", {"quality": 90, "progressive": True}),
        "photo_gray.png": (gray, "PNG", {}),
        "photo_gray.pgm": (gray, "PPM", {}),
        "photo_rgba.png": (Image.fromarray(rgba, "RGBA"), "PNG", {}),
        "photo_la.png": (Image.fromarray(np.dstack([np.asarray(gray), rgba[..., 3]]), "LA"), "PNG", {}),
        # A palette PNG with a transparent entry (tRNS): convert("RGB") keeps the palette colour.
        "photo_palette.png": (palette, "PNG", {"transparency": 0}),
    }
    expected = {}
    for name, (image, fmt, options) in files.items():
        image.save(out / name, fmt, **options)
        with Image.open(out / name) as reloaded:
            expected[name] = np.ascontiguousarray(np.asarray(reloaded.convert("RGB")))
    save_file(expected, str(out / "expected.safetensors"))


def noise_image():
    rng = np.random.default_rng(NOISE_SEED)
    values = rng.integers(0, 256, size=(NOISE_SIZE[1], NOISE_SIZE[0], 3), dtype=np.uint8)
    extremes = rng.random(values.shape) < 0.4
    values[extremes] = np.where(rng.random(values.shape) < 0.5, 0, 255)[extremes]
    return Image.fromarray(values, "RGB")


def write_resize_fixtures(out):
    out.mkdir(parents=True, exist_ok=True)
    inputs = {"photo": small_photo().crop(RESIZE_PHOTO_BOX), "noise": noise_image()}
    tensors = {}
    for name, image in inputs.items():
        tensors[f"input/{name}"] = np.ascontiguousarray(np.asarray(image))
        for resample in RESIZE_FILTERS:
            for width, height in RESIZE_SIZES[name]:
                resized = image.resize((width, height), resample=resample)
                tensors[f"{name}/{resample}/{width}x{height}"] = np.ascontiguousarray(np.asarray(resized))
    save_file(tensors, str(out / "cases.safetensors"))


def clip_config(**changes):
    config = dict(LLAVA15)
    config.update(changes)
    return config


# Each case: input image (a path under tests/fixtures), processor settings or a hand-written
# old-format JSON, and what it exercises. llava-1.5's own settings on the 512x387 photograph are
# checked against tests/fixtures/llava (its image.png and golden pixel_values, written by
# make_fixtures.py), so that photograph is stored once and is also the input of "photo_lanczos".
LLAVA_PHOTO = "llava/image.png"
ODD_WIDE = "images/clip/odd_101x37.png"
ODD_TALL = "images/clip/odd_37x101.png"
CLIP_CASES = [
    # Strong downscale of a real photograph (512x387 -> 84x64, Lanczos support widened ~6x).
    ("photo_lanczos", LLAVA_PHOTO,
     clip_config(size={"shortest_edge": 64}, resample=1, crop_size={"height": 48, "width": 48}), None),
    # llava-1.5 settings except the crop: 101x37 is upscaled to 917x336 (bicubic), then a 32x32
    # centre crop at x=442, y=152.
    ("upscale_crop32", ODD_WIDE, clip_config(crop_size={"height": 32, "width": 32}), None),
    # Tall image (w <= h branch of the shortest-edge rule): 37x101 -> 50x136 -> 40x40 crop.
    ("tall", ODD_TALL, clip_config(size={"shortest_edge": 50}, crop_size={"height": 40, "width": 40}), None),
    # Crop taller than the image: 101x37 -> 65x24 (bilinear), crop 40x30 pads 8 zero rows above.
    ("pad_bilinear", ODD_WIDE,
     clip_config(size={"shortest_edge": 24}, resample=2, crop_size={"height": 40, "width": 30}), None),
    # Fixed height/width resize with NEAREST, no crop, no normalization (rescale only).
    ("fixed_nearest", ODD_WIDE,
     clip_config(size={"height": 30, "width": 45}, resample=0, do_center_crop=False, do_normalize=False), None),
    # No resize and no rescale: normalize raw 0..255 values; crop 20x24 from 101x37.
    ("no_resize", ODD_WIDE,
     clip_config(do_resize=False, crop_size={"height": 20, "width": 24}, do_rescale=False), None),
    # Old file format: "size" and "crop_size" as ints, scalar mean/std, Lanczos.
    ("old_format", ODD_WIDE, None, {
        "crop_size": 16, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": 0.5, "image_std": 0.25,
        "resample": 1, "size": 20}),
]


def write_clip_fixtures(out, fixtures_root):
    out.mkdir(parents=True, exist_ok=True)
    llava_photo = fixtures_root / LLAVA_PHOTO
    if not llava_photo.exists():
        sys.exit(f"{llava_photo} is missing: run tools/make_fixtures.py --family llava first")
    odd = Image.open(IMAGES_DIR / "mmbench_1156.jpg").convert("RGB").resize((101, 37), Image.Resampling.BOX)
    odd.save(fixtures_root / ODD_WIDE)
    odd.transpose(Image.Transpose.TRANSPOSE).save(fixtures_root / ODD_TALL)

    expected, manifest = {}, []
    for case, image_file, settings, raw_json in CLIP_CASES:
        config_path = out / f"{case}.json"
        if raw_json is None:
            CLIPImageProcessor(**settings).to_json_file(config_path)
        else:
            config_path.write_text(json.dumps(raw_json, indent=2, sort_keys=True) + "\n")
        # The reference reads the file back, so the file is exactly what was computed with.
        processor = CLIPImageProcessor.from_json_file(config_path)
        with Image.open(fixtures_root / image_file) as image:
            pixels = processor(images=image, return_tensors="np")["pixel_values"][0]
        assert pixels.dtype == np.float32 and pixels.shape[0] == 3, (case, pixels.dtype, pixels.shape)
        expected[case] = np.ascontiguousarray(pixels)
        manifest.append({"case": case, "image": image_file, "config": config_path.name,
                         "shape": list(pixels.shape)})
    save_file(expected, str(out / "expected.safetensors"))
    versions = {"pillow": PIL.__version__, "numpy": np.__version__, "transformers": transformers.__version__,
                "safetensors": safetensors.__version__}
    (out / "cases.json").write_text(json.dumps({"versions": versions, "cases": manifest}, indent=2) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output directory, normally tests/fixtures/images")
    args = ap.parse_args(argv)
    write_decode_fixtures(args.out / "decode")
    write_resize_fixtures(args.out / "resize")
    write_clip_fixtures(args.out / "clip", args.out.resolve().parent)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
