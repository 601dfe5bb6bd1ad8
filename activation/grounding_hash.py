"""The text of a grounding document and a hash of its content, so syncs send only changed documents.

Every build stamps each document with `as_of` (the run's cut-off) and `generated_at`, so the text
changes on every run even when nothing about the customer did. The content hash covers everything
except such build stamps: two builds that say the same thing about a record give the same hash,
whenever they ran. A mirror therefore keeps a document with the stamps of the build that last
changed what it says: as of then, and still, it says the same.
"""

from __future__ import annotations

import json
from typing import Any

import blake3

# Keys that describe the build rather than the customer.
BUILD_STAMPS = ("as_of", "generated_at")


def document_text_and_hash(document: dict[str, Any]) -> tuple[str, str]:
    """Serialise a grounding document and hash its content without the build stamps.

    Args:
        document: the document, build stamps included.

    Returns:
        The compact JSON text of the whole document (keys in their order) and the hex BLAKE3 hash
        (128 bits) of the document without `BUILD_STAMPS`.
    """
    stamps = [key for key in document if key in BUILD_STAMPS]
    content = {key: value for key, value in document.items() if key not in BUILD_STAMPS}
    body = _dumps(content)
    digest = blake3.blake3(body.encode("utf-8")).hexdigest(length=16)
    keys = list(document)
    if not stamps or keys[-len(stamps) :] != stamps:
        # Stamps in the middle: serialise again rather than change the document's key order.
        return _dumps(document), digest
    # The stamps are the last keys (the usual case): append them to the content's text instead of
    # serialising the whole document twice.
    tail = ",".join(f"{_dumps(key)}:{_dumps(document[key])}" for key in stamps)
    text = f"{body[:-1]},{tail}}}" if content else f"{{{tail}}}"
    return text, digest


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
