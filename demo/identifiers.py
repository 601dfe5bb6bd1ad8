"""Identifier formats the demo sources use: UUIDs, Salesforce ids, account and loyalty numbers."""

import numpy as np
import polars as pl

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def uuid4_strings(rng: np.random.Generator, n: int, name: str = "uuid") -> pl.Series:
    """Draw n random version-4 UUIDs as strings, vectorised.

    Args:
        rng: the seeded generator.
        n: how many.
        name: the series name.

    Returns:
        A string series of n values like `1b4e28ba-2fa1-41d2-883f-0016d3cca427`.
    """
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = _HEX[raw >> 4]
    nibbles[:, 1::2] = _HEX[raw & 0x0F]
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    parts = [nibbles[:, 0:8], dash, nibbles[:, 8:12], dash, nibbles[:, 12:16], dash, nibbles[:, 16:20], dash]
    chars = np.ascontiguousarray(np.hstack([*parts, nibbles[:, 20:32]]))
    # Binary to string is a zero-copy cast in polars; numpy's str conversion is far slower.
    return pl.Series(name, chars.view("S36").ravel()).cast(pl.String)


def salesforce_ids(prefix: str, n: int, rng: np.random.Generator) -> list[str]:
    """Make n distinct 18-character Salesforce record ids with the given key prefix.

    The last three characters are Salesforce's case-safe checksum of the first fifteen, so the ids
    look and validate like real exports.

    Args:
        prefix: the object's three-character key prefix (`00Q` lead, `003` contact, `500` case).
        n: how many.
        rng: the seeded generator (spreads the ids over the id space in a random order).

    Returns:
        A list of n ids.
    """
    numbers = rng.choice(62**6, size=n, replace=False) if n else np.array([], dtype=np.int64)
    ids = []
    for number in numbers.tolist():
        body = ""
        for _ in range(6):
            number, digit = divmod(number, 62)
            body = _BASE62[digit] + body
        base = f"{prefix}8d0000{body}"
        suffix = ""
        for chunk in (base[0:5], base[5:10], base[10:15]):
            flags = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
            suffix += _SF_SUFFIX[flags]
        ids.append(base + suffix)
    return ids


def account_ids(n: int) -> list[str]:
    """Web shop account ids in creation order (`acc_000001`, ...).

    Args:
        n: how many.

    Returns:
        A list of n ids.
    """
    width = max(6, len(str(n)))
    return [f"acc_{k:0{width}d}" for k in range(1, n + 1)]


def loyalty_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """Distinct ten-digit loyalty card numbers starting with 70.

    Args:
        n: how many.
        rng: the seeded generator.

    Returns:
        A list of n card numbers.
    """
    numbers = rng.choice(100_000_000, size=n, replace=False)
    return [f"70{k:08d}" for k in numbers.tolist()]
