"""Re-ranking of lookalike candidates: identity similarity plus attribute agreement.

The combined score of a candidate ``c`` for the query ``q`` is::

    score = w_identity   * similarity(q, c)             # cosine of the identity embeddings, -1..1
          + w_gender     * gender_agreement(q, c)       # 0..1
          + w_age        * age_agreement(q, c)          # 0..1
          + w_expression * expression_agreement(q, c)   # 0..1

* ``gender_agreement`` is the probability that both faces have the same
  gender, from each face's gender confidence:
  ``p_q * p_c + (1 - p_q) * (1 - p_c)`` with ``p`` = P(male).
* ``age_agreement`` is ``exp(-|age_q - age_c| / age_scale)`` (``age_scale``
  10 years: 1 for the same age, 0.37 for 10 years apart).
* ``expression_agreement`` is the histogram intersection of the two
  7-class expression distributions (``sum(min(p_q, p_c))``), or 1/0 for
  equal/different labels when a distribution is missing.

A term whose attribute is unknown on either side scores a neutral 0.5. The
default weights (identity 1.0, gender 0.10, age 0.10, expression 0.05) keep
identity in charge: attributes only reorder candidates whose identity
similarities are within about 0.1 of each other, which is exactly the
"several people look equally like me" case the re-rank is for.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from faceplay.errors import ConfigError
from faceplay.face.types import EXPRESSIONS

NEUTRAL = 0.5


@dataclass(frozen=True)
class RerankWeights:
    """Weights of the combined score (see the module docstring)."""

    identity: float = 1.0
    gender: float = 0.10
    age: float = 0.10
    expression: float = 0.05
    age_scale: float = 10.0  #: years over which age agreement falls to 1/e

    @classmethod
    def parse(cls, spec: str | None) -> "RerankWeights":
        """Parse ``"identity=1,gender=0.2,age=0.1,expression=0"`` (unnamed weights keep their default)."""
        if not spec:
            return cls()
        values: dict[str, float] = {}
        for part in spec.split(","):
            if not part.strip():
                continue
            key, sep, val = part.partition("=")
            key = key.strip()
            if not sep or key not in cls.__dataclass_fields__:
                raise ConfigError(f"bad weight {part.strip()!r}: use NAME=VALUE with NAME one of "
                                  f"{', '.join(cls.__dataclass_fields__)}")
            try:
                values[key] = float(val)
            except ValueError:
                raise ConfigError(f"weight {key} must be a number, not {val.strip()!r}") from None
        w = cls(**values)
        if w.age_scale <= 0:
            raise ConfigError("age_scale must be positive")
        return w

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _p_male(attrs: dict[str, Any]) -> float | None:
    g = attrs.get("gender")
    if g not in ("male", "female"):
        return None
    s = attrs.get("gender_score")
    s = 1.0 if s is None else min(max(float(s), 0.0), 1.0)
    return s if g == "male" else 1.0 - s


def gender_agreement(q: dict[str, Any], c: dict[str, Any]) -> float:
    """Probability that both have the same gender (0.5 when either is unknown)."""
    pq, pc = _p_male(q), _p_male(c)
    if pq is None or pc is None:
        return NEUTRAL
    return pq * pc + (1.0 - pq) * (1.0 - pc)


def age_agreement(q: dict[str, Any], c: dict[str, Any], scale: float = 10.0) -> float:
    """``exp(-|Δage| / scale)`` (0.5 when either age is unknown)."""
    aq, ac = q.get("age"), c.get("age")
    if aq is None or ac is None:
        return NEUTRAL
    return math.exp(-abs(float(aq) - float(ac)) / scale)


def expression_agreement(q: dict[str, Any], c: dict[str, Any]) -> float:
    """Histogram intersection of the expression distributions (label equality as a fallback)."""
    sq, sc = q.get("expression_scores"), c.get("expression_scores")
    if sq and sc:
        return float(sum(min(float(sq.get(e, 0.0)), float(sc.get(e, 0.0))) for e in EXPRESSIONS))
    eq, ec = q.get("expression"), c.get("expression")
    if eq is None or ec is None:
        return NEUTRAL
    return 1.0 if eq == ec else 0.0


@dataclass
class Scored:
    """A candidate with its per-term scores and combined score."""

    similarity: float
    terms: dict[str, float] = field(default_factory=dict)  #: unweighted terms, each explained in the module docstring
    contributions: dict[str, float] = field(default_factory=dict)  #: weight * term
    score: float = 0.0


def score(similarity: float, query: dict[str, Any], candidate: dict[str, Any], weights: RerankWeights) -> Scored:
    """The combined score of one candidate, with its terms."""
    terms = {
        "identity": float(similarity),
        "gender": gender_agreement(query, candidate),
        "age": age_agreement(query, candidate, weights.age_scale),
        "expression": expression_agreement(query, candidate),
    }
    contrib = {k: getattr(weights, k) * v for k, v in terms.items()}
    return Scored(similarity=float(similarity), terms=terms, contributions=contrib, score=float(sum(contrib.values())))


def rerank(similarities: list[float], query: dict[str, Any], candidates: list[dict[str, Any]],
           weights: RerankWeights | None = None) -> list[tuple[int, Scored]]:
    """Score candidates (their attribute dicts) and return ``(index, Scored)`` best first.

    Ties in the combined score keep the identity order (stable sort).
    """
    weights = weights or RerankWeights()
    scored = [(i, score(s, query, c, weights)) for i, (s, c) in enumerate(zip(similarities, candidates))]
    return sorted(scored, key=lambda t: -t[1].score)
