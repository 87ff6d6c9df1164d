"""Anchors: the latest hash of every case, written when an auditor chooses.

A hash chain shows that nothing *inside* a history changed, but not that its
tail is still there: whoever can delete the last events can also rewind the
snapshot. An anchor file kept outside the database (and its Merkle root, a
single value an auditor can write down, e-mail or publish) closes that gap:
a later verify finds every case that is now shorter than it was, rewritten
since, or gone without a retention record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from csflow._canonical import canonical_json
from csflow.errors import CsflowError

FORMAT = "csflow-anchor/1"


class AnchorError(CsflowError):
    """An anchor file cannot be used: unreadable, of another format, or edited."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"anchor {path}: {message}")


@dataclass(frozen=True)
class Anchor:
    """``heads`` maps each case id to (its last seq, that event's hash) at ``written_at``."""

    written_at: datetime
    heads: Mapping[str, tuple[int, str]]

    @property
    def root(self) -> str:
        return merkle_root(self.heads)

    def to_json(self) -> bytes:
        return orjson.dumps({
            "format": FORMAT,
            "written_at": self.written_at,
            "root": self.root,
            "cases": {cid: list(head) for cid, head in sorted(self.heads.items())},
        }, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z)

    def write(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> Anchor:
        """Load and check an anchor file; raises :class:`AnchorError` saying what is wrong."""
        where = str(path)
        try:
            doc: Any = orjson.loads(Path(path).read_bytes())
        except OSError as e:
            raise AnchorError(where, f"cannot read it ({e.strerror})") from None
        except orjson.JSONDecodeError as e:
            raise AnchorError(where, f"is not JSON ({e})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise AnchorError(where, f"is not a {FORMAT} file; write one with "
                                     "`csflow audit verify --write-anchor FILE`")
        try:
            heads = {str(cid): (int(seq), str(h)) for cid, (seq, h) in doc["cases"].items()}
            anchor = cls(datetime.fromisoformat(doc["written_at"]), heads)
            root = str(doc["root"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise AnchorError(where, f"is malformed ({type(e).__name__}: {e})") from None
        if anchor.root != root:
            raise AnchorError(where, "its case list does not match its root: the file was "
                                     "edited; compare the root with the one recorded when "
                                     "it was written")
        return anchor


def merkle_root(heads: Mapping[str, tuple[int, str]]) -> str:
    """Merkle root over the heads, in case id order (leaves and nodes domain-separated)."""
    level = [hashlib.sha256(b"\x00" + canonical_json([cid, seq, h])).digest()
             for cid, (seq, h) in sorted(heads.items())]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=False)  # an odd last node moves up
        nxt = [hashlib.sha256(b"\x01" + a + b).digest() for a, b in pairs]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
