"""Deterministic names within AWS limits: the same inputs always give the same name, so a retry finds its resource."""

from __future__ import annotations

import hashlib
import re


def bounded_name(parts: tuple[str, ...], *, unsafe: re.Pattern[str], limit: int, digest_length: int) -> str:
    """`parts` joined by '-', every run of `unsafe` characters made one '-', and when longer than `limit` cut and
    ended with a digest of the parts (so two long names that share a beginning still differ)."""
    raw = "-".join(parts)
    clean = unsafe.sub("-", raw).strip("-")
    if len(clean) <= limit:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:digest_length]
    return f"{clean[: limit - digest_length - 1].rstrip('-')}-{digest}"
