"""Deterministic names within AWS limits (the same inputs always give the same name, so a retry finds its resource),
and texts within the patterns AWS enforces on tags and metadata."""

from __future__ import annotations

import hashlib
import re
import unicodedata


def bounded_name(parts: tuple[str, ...], *, unsafe: re.Pattern[str], limit: int, digest_length: int) -> str:
    """`parts` joined by '-', every run of `unsafe` characters made one '-', and when longer than `limit` cut and
    ended with a digest of the parts (so two long names that share a beginning still differ)."""
    raw = "-".join(parts)
    clean = unsafe.sub("-", raw).strip("-")
    if len(clean) <= limit:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:digest_length]
    return f"{clean[: limit - digest_length - 1].rstrip('-')}-{digest}"


# SageMaker's tag keys and values and its CustomerMetadataProperties keys and values all allow only this class
# (botocore's service model, shapes TagKey, TagValue, CustomerMetadataKey, CustomerMetadataValue:
# `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`): letters, separators, numbers and these characters.
_METADATA_CATEGORIES = frozenset("LZN")
_METADATA_CHARACTERS = frozenset("_.:/=+-@")


def metadata_text(text: str, *, limit: int) -> str:
    """`text` as SageMaker accepts it in a tag key or value or a CustomerMetadataProperties key or value: every
    character outside their pattern becomes '_', and the whole is cut to `limit` characters (128 for keys, 256 for
    values). Metric names (`accuracy(top-1)#2`) and Debugger rule names may hold characters the pattern refuses."""
    return "".join(
        char if unicodedata.category(char)[0] in _METADATA_CATEGORIES or char in _METADATA_CHARACTERS else "_"
        for char in text[:limit]
    )
