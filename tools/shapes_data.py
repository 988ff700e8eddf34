#!/usr/bin/env python3
"""Seeded synthetic visual question answering data: coloured shapes on a plain background.

Every example is a 224x224 RGB image with 2 to 5 non-overlapping shapes and one question whose
answer is one word. The whole example (scene, question, answer) is a pure function of one integer
seed, drawn with Python's `random.Random(seed)` and PIL's ImageDraw, so it is identical on every
machine and Python 3 version.

Scene rules
  * shapes: circle, square, triangle (upright), star (5 points); colours: red, green, blue,
    yellow, purple, orange on a white background; size (bounding box side) 30 to 50 px;
  * every shape lies entirely inside one quadrant of the image (112x112 each, 4 px margin from
    the image border and from the mid lines), bounding boxes at least 4 px apart, so "the shape in
    the top-left corner" is never ambiguous; at most 3 shapes of one kind per image.

Question kinds (the `kind` field), each 1/4 of the evaluation sets, answers balanced within a kind:
  colour    "What colour is the triangle?"          -> red|green|blue|yellow|purple|orange
            (asked only when that shape occurs exactly once)
  count     "How many circles are there?"           -> zero|one|two|three
  left      "Is the square left of the star?"       -> yes|no
            (both shapes unique; their centres are at least 20 px apart horizontally)
  quadrant  "What shape is in the top-left corner?" -> circle|square|triangle|star
            (that quadrant holds exactly one shape)
The kind of example `seed` is KINDS[seed % 4]; its scene is built for that question.

Training only (example(seed, extra_questions=N)): after the primary question, up to N more valid
questions about the same image, from the four kinds above and three easier auxiliary kinds:
  colour_at "What colour is the shape in the top-left corner?"  (that quadrant holds one shape)
  exists    "Is there a red shape?"                             -> yes|no
  total     "How many shapes are there?"                        -> two|three|four|five
and patch_labels(shapes) gives per-patch targets (shape, colour, centre, quadrant) for an auxiliary
vision loss.

Seed ranges (disjoint; see tools/README.md):
  train  TRAIN_BASE + i  for i in [0, 10^9)          drawn on the fly by tools/train_shapes.py
  dev    DEV_BASE + i    for i in [0, 10^6)          models/shapes/eval/ (tuning, model selection)
  test   TEST_BASE + i   for i in [0, 10^6)          models/shapes/test/ (final numbers only)

Usage (writes the evaluation sets only; the model is trained by tools/train_shapes.py):
    .venv/bin/python tools/shapes_data.py --out models/shapes --dev 400 --test 400
    .venv/bin/python tools/shapes_data.py --show 12345          # print one example's scene
"""

import argparse
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

IMAGE_SIZE = 224
HALF = IMAGE_SIZE // 2
MARGIN = 4  # from the image border and from the mid lines
GAP = 4  # between bounding boxes
MIN_SIZE, MAX_SIZE = 30, 50
MAX_PER_SHAPE = 3
MIN_SHAPES, MAX_SHAPES = 2, 5
LEFT_MIN_DX = 20

SHAPES = ("circle", "square", "triangle", "star")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars"}
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 200, 20),
    "purple": (140, 50, 180),
    "orange": (245, 130, 20),
}
BACKGROUND = (255, 255, 255)
COUNT_WORDS = ("zero", "one", "two", "three", "four", "five")
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")  # index = 2 * (y >= HALF) + (x >= HALF)
KINDS = ("colour", "count", "left", "quadrant")  # the evaluated kinds
AUX_KINDS = ("colour_at", "exists", "total")  # extra, easier kinds used only as additional training turns

TRAIN_BASE = 0
DEV_BASE = 1_000_000_000
TEST_BASE = 2_000_000_000
SPLIT_BASE = {"train": TRAIN_BASE, "dev": DEV_BASE, "test": TEST_BASE}
SPLIT_SIZE = {"train": 1_000_000_000, "dev": 1_000_000, "test": 1_000_000}


def split_seed(split, index):
    if not 0 <= index < SPLIT_SIZE[split]:
        raise ValueError(f"{split} index {index} out of range")
    return SPLIT_BASE[split] + index


# ------------------------------------------------------------------------------------------
# Questions

def question_text(kind, arg):
    if kind == "colour":
        return f"What colour is the {arg}?"
    if kind == "count":
        return f"How many {PLURAL[arg]} are there?"
    if kind == "left":
        return f"Is the {arg[0]} left of the {arg[1]}?"
    if kind == "quadrant":
        return f"What shape is in the {QUADRANTS[arg]} corner?"
    if kind == "colour_at":
        return f"What colour is the shape in the {QUADRANTS[arg]} corner?"
    if kind == "exists":
        return f"Is there a {arg} shape?"
    if kind == "total":
        return "How many shapes are there?"
    raise ValueError(kind)


def question_args(kind):
    if kind in ("colour", "count"):
        return list(SHAPES)
    if kind == "left":
        return [(a, b) for a in SHAPES for b in SHAPES if a != b]
    if kind in ("quadrant", "colour_at"):
        return list(range(4))
    if kind == "exists":
        return list(COLOURS)
    if kind == "total":
        return [None]
    raise ValueError(kind)


def all_questions(aux=True):
    """Every question string the generator can produce (24 evaluated, 35 with the auxiliary kinds)."""
    return [question_text(k, a) for k in KINDS + (AUX_KINDS if aux else ()) for a in question_args(k)]


def all_answers():
    return list(COLOURS) + list(COUNT_WORDS) + ["yes", "no"] + list(SHAPES)


# ------------------------------------------------------------------------------------------
# Scenes

class Shape:
    __slots__ = ("kind", "colour", "x0", "y0", "size")

    def __init__(self, kind, colour, x0, y0, size):
        self.kind, self.colour, self.x0, self.y0, self.size = kind, colour, x0, y0, size

    @property
    def cx(self):
        return self.x0 + self.size / 2

    @property
    def cy(self):
        return self.y0 + self.size / 2

    @property
    def quadrant(self):
        return 2 * int(self.cy >= HALF) + int(self.cx >= HALF)

    def to_dict(self):
        return {"shape": self.kind, "colour": self.colour, "box": [self.x0, self.y0, self.x0 + self.size,
                                                                    self.y0 + self.size]}


class Retry(Exception):
    pass


def _overlaps(a, x0, y0, size):
    return not (x0 >= a.x0 + a.size + GAP or a.x0 >= x0 + size + GAP or
                y0 >= a.y0 + a.size + GAP or a.y0 >= y0 + size + GAP)


def _place(rng, shapes, kind, colour, quadrants, tries=60):
    """Add one shape at a random free spot inside one of `quadrants`; Retry if none is found."""
    for _ in range(tries):
        q = rng.choice(quadrants)
        size = rng.randint(MIN_SIZE, MAX_SIZE)
        qx, qy = (q % 2) * HALF, (q // 2) * HALF
        x0 = rng.randint(qx + MARGIN, qx + HALF - MARGIN - size)
        y0 = rng.randint(qy + MARGIN, qy + HALF - MARGIN - size)
        if not any(_overlaps(a, x0, y0, size) for a in shapes):
            s = Shape(kind, colour, x0, y0, size)
            shapes.append(s)
            return s
    raise Retry()


def _counts(shapes):
    c = {k: 0 for k in SHAPES}
    for s in shapes:
        c[s.kind] += 1
    return c


def _fill(rng, shapes, n_total, allowed_kinds, quadrants=(0, 1, 2, 3)):
    """Add shapes of `allowed_kinds` (respecting MAX_PER_SHAPE) until there are n_total."""
    while len(shapes) < n_total:
        counts = _counts(shapes)
        kinds = [k for k in allowed_kinds if counts[k] < MAX_PER_SHAPE]
        if not kinds:
            raise Retry()
        _place(rng, shapes, rng.choice(kinds), rng.choice(list(COLOURS)), list(quadrants))


def _scene_for(rng, kind):
    """A scene built so that a question of `kind` with a balanced answer is valid; returns
    (shapes, arg, answer)."""
    if kind == "colour":
        target, colour = rng.choice(SHAPES), rng.choice(list(COLOURS))
        shapes = []
        _place(rng, shapes, target, colour, [0, 1, 2, 3])
        _fill(rng, shapes, rng.randint(MIN_SHAPES, MAX_SHAPES), [k for k in SHAPES if k != target])
        return shapes, target, colour
    if kind == "count":
        target, n = rng.choice(SHAPES), rng.randint(0, 3)
        shapes = []
        for _ in range(n):
            _place(rng, shapes, target, rng.choice(list(COLOURS)), [0, 1, 2, 3])
        _fill(rng, shapes, rng.randint(max(MIN_SHAPES, n), MAX_SHAPES), [k for k in SHAPES if k != target])
        return shapes, target, COUNT_WORDS[n]
    if kind == "left":
        a, b = rng.sample(SHAPES, 2)
        yes = rng.random() < 0.5
        shapes = []
        sa = _place(rng, shapes, a, rng.choice(list(COLOURS)), [0, 1, 2, 3])
        sb = _place(rng, shapes, b, rng.choice(list(COLOURS)), [0, 1, 2, 3])
        if abs(sa.cx - sb.cx) < LEFT_MIN_DX:
            raise Retry()
        if (sa.cx < sb.cx) != yes:  # mirror both shapes horizontally to get the wanted answer
            for s in (sa, sb):
                s.x0 = IMAGE_SIZE - s.x0 - s.size
            if _overlaps(sa, sb.x0, sb.y0, sb.size):
                raise Retry()
        _fill(rng, shapes, rng.randint(MIN_SHAPES, MAX_SHAPES), [k for k in SHAPES if k not in (a, b)])
        return shapes, (a, b), "yes" if yes else "no"
    if kind == "quadrant":
        q, target = rng.randrange(4), rng.choice(SHAPES)
        shapes = []
        _place(rng, shapes, target, rng.choice(list(COLOURS)), [q])
        _fill(rng, shapes, rng.randint(MIN_SHAPES, MAX_SHAPES), SHAPES, [p for p in range(4) if p != q])
        return shapes, q, target
    raise ValueError(kind)


def answer_for(shapes, kind, arg):
    """The answer to question (kind, arg) about `shapes`, or None when the question is not valid."""
    counts = _counts(shapes)
    if kind == "colour":
        return next(s.colour for s in shapes if s.kind == arg) if counts[arg] == 1 else None
    if kind == "count":
        return COUNT_WORDS[counts[arg]]
    if kind == "left":
        a, b = arg
        if counts[a] != 1 or counts[b] != 1:
            return None
        sa = next(s for s in shapes if s.kind == a)
        sb = next(s for s in shapes if s.kind == b)
        if abs(sa.cx - sb.cx) < LEFT_MIN_DX:
            return None
        return "yes" if sa.cx < sb.cx else "no"
    if kind in ("quadrant", "colour_at"):
        inside = [s for s in shapes if s.quadrant == arg]
        if len(inside) != 1:
            return None
        return inside[0].kind if kind == "quadrant" else inside[0].colour
    if kind == "exists":
        return "yes" if any(s.colour == arg for s in shapes) else "no"
    if kind == "total":
        return COUNT_WORDS[len(shapes)]
    raise ValueError(kind)


def valid_questions(shapes, kind):
    """All (arg, answer) pairs of `kind` that are valid for this scene."""
    out = []
    for arg in question_args(kind):
        ans = answer_for(shapes, kind, arg)
        if ans is not None:
            out.append((arg, ans))
    return out


def scene(seed):
    """The scene and its primary question for one seed: (shapes, kind, arg, answer, rng).

    The kind cycles with the seed (seed % 4), so any 4 consecutive seeds hold one of each kind.
    `rng` is returned positioned after the scene, for drawing extra questions deterministically.
    """
    rng = random.Random(seed)
    kind = KINDS[seed % 4]
    for _ in range(1000):
        try:
            shapes, arg, answer = _scene_for(rng, kind)
        except Retry:
            continue
        rng.shuffle(shapes)  # drawing order carries no information
        assert answer_for(shapes, kind, arg) == answer, (seed, kind, arg, answer)
        return shapes, kind, arg, answer, rng
    raise RuntimeError(f"seed {seed}: no scene found")


# ------------------------------------------------------------------------------------------
# Drawing

def _star_points(x0, y0, size):
    import math
    cx, cy, r_out = x0 + size / 2, y0 + size / 2, size / 2
    r_in = r_out * 0.45
    pts = []
    for i in range(10):
        ang = -math.pi / 2 + i * math.pi / 5
        r = r_out if i % 2 == 0 else r_in
        pts.append((cx + r * math.cos(ang), cy + r * math.sin(ang)))
    return pts


def _draw_one(d, s, fill):
    x0, y0, x1, y1 = s.x0, s.y0, s.x0 + s.size - 1, s.y0 + s.size - 1
    if s.kind == "circle":
        d.ellipse([x0, y0, x1, y1], fill=fill)
    elif s.kind == "square":
        d.rectangle([x0, y0, x1, y1], fill=fill)
    elif s.kind == "triangle":
        d.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
    elif s.kind == "star":
        d.polygon(_star_points(x0, y0, s.size), fill=fill)


def draw(shapes):
    img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), BACKGROUND)
    d = ImageDraw.Draw(img)
    for s in shapes:
        _draw_one(d, s, COLOURS[s.colour])
    return img


def _pick(rng, cands):
    """One (arg, answer) of a kind, answers as balanced as the scene allows: an answer value is
    chosen uniformly among the distinct values, then an argument giving it."""
    by_answer = {}
    for arg, ans in cands:
        by_answer.setdefault(ans, []).append(arg)
    ans = rng.choice(sorted(by_answer))
    return rng.choice(by_answer[ans]), ans


def patch_labels(shapes, patch=14, min_fraction=0.2):
    """Per-patch targets for an auxiliary training loss on the vision tower: arrays [g, g] (g = 224 /
    patch) of the shape index + 1 and the colour index + 1 covering most of each patch (0 =
    background: less than min_fraction of the patch is covered by any shape), the shape index + 1
    where the patch holds the centre of a shape's bounding box (else 0), and the quadrant index of
    the patch (0..3, as QUADRANTS)."""
    import numpy as np
    code = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    d = ImageDraw.Draw(code)
    colours = list(COLOURS)
    for s in shapes:
        c = 1 + SHAPES.index(s.kind) * len(colours) + colours.index(s.colour)
        _draw_one(d, s, c)
    g = IMAGE_SIZE // patch
    a = np.asarray(code, dtype=np.int64).reshape(g, patch, g, patch).transpose(0, 2, 1, 3).reshape(g, g, -1)
    n_codes = 1 + len(SHAPES) * len(colours)
    a = a.reshape(g * g, -1)
    a[:, :] += (np.arange(g * g) * n_codes)[:, None]
    hist = np.bincount(a.ravel(), minlength=g * g * n_codes).reshape(g, g, n_codes)
    hist[..., 0] = 0
    best = hist.argmax(-1)
    best[hist.max(-1) < min_fraction * patch * patch] = 0
    shape = np.where(best > 0, (best - 1) // len(colours) + 1, 0)
    colour = np.where(best > 0, (best - 1) % len(colours) + 1, 0)
    centre = np.zeros((g, g), dtype=np.int64)
    for s in shapes:
        centre[int(s.cy) // patch, int(s.cx) // patch] = 1 + SHAPES.index(s.kind)
    half = np.arange(g) >= g // 2
    quadrant = 2 * half[:, None].astype(np.int64) + half[None, :]
    return shape, colour, centre, quadrant


def example(seed, extra_questions=0, aux=True):
    """One example: dict(image=PIL image, shapes, qa=[(kind, question, answer), ...]).

    qa[0] is the primary (balanced) question, the one in the evaluation sets. With
    extra_questions > 0, up to that many more distinct valid questions about the same image follow
    (training only: several answers per image for the cost of one image), kinds taken in turn in a
    random order from the evaluated kinds and, with aux=True, the auxiliary kinds.
    """
    shapes, kind, arg, answer, rng = scene(seed)
    qa = [(kind, question_text(kind, arg), answer)]
    if extra_questions > 0:
        kinds = list(KINDS + (AUX_KINDS if aux else ()))
        rng.shuffle(kinds)
        pools = {k: valid_questions(shapes, k) for k in kinds}
        pools[kind] = [(a, b) for a, b in pools[kind] if a != arg]
        while len(qa) < 1 + extra_questions and any(pools.values()):
            for k in kinds:
                if pools[k] and len(qa) < 1 + extra_questions:
                    a2, ans2 = _pick(rng, pools[k])
                    pools[k] = [(a, b) for a, b in pools[k] if a != a2]
                    qa.append((k, question_text(k, a2), ans2))
    return {"image": draw(shapes), "shapes": shapes, "qa": qa}


# ------------------------------------------------------------------------------------------
# Evaluation sets on disk

def write_split(out_dir, split, n):
    """Write n examples of a split: <out_dir>/images/<split>_<index>.png and <out_dir>/questions.jsonl."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        seed = split_seed(split, i)
        ex = example(seed)
        kind, q, a = ex["qa"][0]
        rel = f"images/{split}_{i:05d}.png"
        ex["image"].save(out_dir / rel, format="PNG", optimize=False, compress_level=9)
        lines.append(json.dumps({"image": rel, "question": q, "answer": a, "kind": kind, "seed": seed,
                                 "shapes": [s.to_dict() for s in ex["shapes"]]}))
    (out_dir / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_dir / "questions.jsonl"


def read_jsonl(path):
    path = Path(path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="writes <out>/eval (dev split) and <out>/test (test split)")
    ap.add_argument("--dev", type=int, default=400)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--show", type=int, nargs="*", help="print the scene and questions of these seeds")
    args = ap.parse_args(argv)
    if args.show:
        for seed in args.show:
            ex = example(seed, extra_questions=3)
            print(seed, [s.to_dict() for s in ex["shapes"]])
            for kind, q, a in ex["qa"]:
                print(f"   [{kind}] {q} -> {a}")
    if args.out:
        print(write_split(args.out / "eval", "dev", args.dev))
        print(write_split(args.out / "test", "test", args.test))
    return 0


if __name__ == "__main__":
    sys.exit(main())
