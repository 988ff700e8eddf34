#!/usr/bin/env python3
"""Training-only probes of the shapes model (tools/train_shapes.py); none of them is saved.

Vision probe: a linear layer on the vision features that go to the projector predicts, for every
patch, the shape and the colour covering it (or background), which shape's centre it holds (or
none), its quadrant, row and column (shapes_data.patch_labels). Dense labels teach the vision tower
to see shapes and places in a few hundred images, before any question is asked.

Word probes: a linear layer on the language model's hidden state after layer `probe_layer`, at each
shape, quadrant or colour word of a question, predicts facts about what the word names in this
image: for a shape word its count, and (when it is unique) its colour, horizontal position (8
bins) and quadrant; for a quadrant word the shape and colour inside it (when there is one shape);
for a colour word how many shapes have it. They make the word look at its image region early, a
one-step lookup with a dense signal; answering then only needs the word's state. Without them the
language model stayed near chance for thousands of images on a CPU budget.
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes_data as sd  # noqa: E402
from shapes_model import PATCH  # noqa: E402

F = torch.nn.functional
GRID = sd.IMAGE_SIZE // PATCH
COLOURS = list(sd.COLOURS)
# shape, colour, shape centre (shape + 1 or 0), quadrant, row, column (of a PATCH-sized grid)
PATCH_CLASSES = (1 + len(sd.SHAPES), 1 + len(COLOURS), 1 + len(sd.SHAPES), 4, GRID, GRID)
# count, colour, x bin, quadrant (shape words); shape, colour (quadrant words); count (colour words)
WORD_CLASSES = (4, len(COLOURS), 8, 4, len(sd.SHAPES), len(COLOURS), 4)
IGNORE = -100


class VisionProbe(torch.nn.Module):
    def __init__(self, hidden, patch=PATCH):
        super().__init__()
        self.patch, self.grid = patch, sd.IMAGE_SIZE // patch
        self.classes = PATCH_CLASSES[:4] + (self.grid, self.grid)
        self.linear = torch.nn.Linear(hidden, sum(self.classes))

    def labels(self, shapes):
        """[4, grid * grid] int64: shape, colour, centre and quadrant labels of one image."""
        return np.stack(sd.patch_labels(shapes, self.patch)).reshape(4, -1)

    def loss(self, features, labels):
        """features [b, grid * grid, hidden] (CLS dropped), labels [b, 4, grid * grid]."""
        b, g = features.shape[0], self.grid
        pos = torch.arange(g * g, device=features.device)
        targets = [labels[:, 0], labels[:, 1], labels[:, 2], labels[:, 3],
                   (pos // g).expand(b, -1), (pos % g).expand(b, -1)]
        outs = self.linear(features.float()).split(self.classes, dim=-1)
        losses = [F.cross_entropy(o.reshape(-1, o.shape[-1]), t.reshape(-1)) for o, t in zip(outs, targets)]
        # Most patches are background; the shape of the few object patches is what every question
        # needs, so it gets a term of its own.
        shape_logits, shape = outs[0].reshape(-1, PATCH_CLASSES[0]), labels[:, 0].reshape(-1)
        on_object = shape > 0
        losses.append(F.cross_entropy(shape_logits[on_object][:, 1:], shape[on_object] - 1))
        accuracy = (shape_logits[on_object][:, 1:].argmax(-1) == shape[on_object] - 1).float().mean()
        return sum(losses) / len(losses), float(accuracy)


class WordProbe(torch.nn.Module):
    def __init__(self, hidden, tokenizer):
        super().__init__()
        self.linear = torch.nn.Linear(hidden, sum(WORD_CLASSES))

        def token(word):
            i = tokenizer.convert_tokens_to_ids("\u2581" + word)
            assert i != tokenizer.unk_token_id, word
            return i

        self.shape_words = {token(s): s for s in sd.SHAPES}
        self.quadrant_words = {token(q): i for i, q in enumerate(sd.QUADRANTS)}
        self.colour_words = {token(c): c for c in COLOURS}

    def targets(self, shapes, token):
        """The word probe's targets for `token` in an image with `shapes`, or None for other words."""
        t = [IGNORE] * len(WORD_CLASSES)
        if token in self.shape_words:
            same = [s for s in shapes if s.kind == self.shape_words[token]]
            t[0] = min(len(same), 3)
            if len(same) == 1:
                t[1] = COLOURS.index(same[0].colour)
                t[2] = min(7, int(same[0].cx * 8 / sd.IMAGE_SIZE))
                t[3] = same[0].quadrant
        elif token in self.quadrant_words:
            inside = [s for s in shapes if s.quadrant == self.quadrant_words[token]]
            if len(inside) == 1:
                t[4] = sd.SHAPES.index(inside[0].kind)
                t[5] = COLOURS.index(inside[0].colour)
        elif token in self.colour_words:
            t[6] = min(3, sum(1 for s in shapes if s.colour == self.colour_words[token]))
        else:
            return None
        return t

    def batch_targets(self, ids_list, shapes_list):
        """(rows, cols, targets [n, len(WORD_CLASSES)]) of every probed word in a batch."""
        rows, cols, targets = [], [], []
        for b, (ids, shapes) in enumerate(zip(ids_list, shapes_list)):
            for j, token in enumerate(ids):
                t = self.targets(shapes, token)
                if t is not None:
                    rows.append(b)
                    cols.append(j)
                    targets.append(t)
        return torch.tensor(rows), torch.tensor(cols), torch.tensor(targets, dtype=torch.long)

    def loss(self, hidden, rows, cols, targets):
        outs = self.linear(hidden[rows, cols].float()).split(WORD_CLASSES, dim=-1)
        parts = [F.cross_entropy(o, targets[:, i], ignore_index=IGNORE)
                 for i, o in enumerate(outs) if (targets[:, i] != IGNORE).any()]
        return sum(parts) / len(parts)
