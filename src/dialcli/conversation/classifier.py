"""A small trained second opinion for the intent rules: caller line -> outcome.

The rules (``intents``) read the phrasings they were written for exactly; people find
others ("okay listen, I want these calls to stop", "we decided against it"). This
model is a multinomial naive Bayes classifier over the words and word pairs of
the normalized line, trained in the repository from the labelled corpus
(``bench/train_brain_model.py`` on ``tests/data/brain_corpus_*.csv``, held-out lines
excluded) and shipped as package data (``data/brain_model.json``, a few hundred KB at
most): no download, no dependency, a dictionary lookup per word at run time.

``predict(normalized)`` returns the most likely outcome -- OPT_OUT, NOT_INTERESTED,
INTERESTED, CALLBACK, WRONG_NUMBER, VOICEMAIL or CONTINUE -- and its probability.
``intents.read`` consults it only where the rules found nothing decisive, and
believes it only above per-outcome thresholds chosen at training time (stored with
the weights): an opt-out the rules miss is then still caught, a line the rules
understand is never overruled.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "brain_model.json"
OUTCOMES = ("OPT_OUT", "NOT_INTERESTED", "INTERESTED", "CALLBACK", "WRONG_NUMBER", "VOICEMAIL",
            "CONTINUE")


def features(normalized: str) -> list[str]:
    """Words, adjacent word pairs, and the first and last word marked as such."""
    words = normalized.split()
    if not words:
        return []
    out = list(words)
    out += [f"{a}_{b}" for a, b in zip(words, words[1:])]
    out.append(f"^{words[0]}")
    out.append(f"{words[-1]}$")
    return out


class Model:
    """Weights per feature and outcome, a bias per outcome, believed thresholds."""

    def __init__(self, data: dict[str, Any]):
        self.classes: tuple[str, ...] = tuple(data["classes"])
        self.bias: list[float] = [float(b) for b in data["bias"]]
        self.weights: dict[str, tuple[float, ...]] = {k: tuple(float(x) for x in v)
                                                      for k, v in data["weights"].items()}
        self.thresholds: dict[str, float] = {k: float(v) for k, v in
                                             data.get("thresholds", {}).items()}

    def probabilities(self, normalized: str) -> dict[str, float]:
        scores = self.bias
        get = self.weights.get
        for f in features(normalized):
            w = get(f)
            if w is not None:
                scores = [a + b for a, b in zip(scores, w)]
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return {c: e / total for c, e in zip(self.classes, exp)}

    def predict(self, normalized: str) -> tuple[str, float]:
        probs = self.probabilities(normalized)
        label = max(probs, key=probs.__getitem__)
        return label, probs[label]

    def believed(self, normalized: str) -> str | None:
        """The outcome when its probability clears its threshold, else None."""
        label, p = self.predict(normalized)
        if label == "CONTINUE":
            return None
        return label if p >= self.thresholds.get(label, 1.01) else None


#: Training (bench/train_brain_model.py) puts a fold's model here to evaluate it.
MODEL_OVERRIDE: Model | None = None


@lru_cache(maxsize=1)
def model() -> Model | None:
    """The shipped model, or None when the file is missing or unreadable (the rules
    then work alone)."""
    try:
        return Model(json.loads(MODEL_PATH.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def believed(normalized: str) -> str | None:
    m = MODEL_OVERRIDE or model()
    return m.believed(normalized) if m is not None else None
