"""Whole-store verification: every case's hash chain, gapless seqs, snapshot and anchor.

Two passes, because the common case is that nothing is wrong:

* a fast pass streams every stored event row once, in recorded order, and
  checks it on the stored text: ``sha256(prev_hash || payload without its
  hash)`` must equal the hash, and the decoded seq and case must be the row's;
  the decoded data is folded into the case's state, which must equal the
  snapshot once the snapshot's version is reached. Reading the text instead
  of building :class:`~csflow.model.Event` values keeps verify close to the
  speed of reading and hashing the rows at all.
* for every case that fails, a slow pass loads its history as the engine
  would (:meth:`Store.load_events`) and finds the first broken link and what
  kind of damage explains it.

Removing ``,"hash":"<h>"`` from the canonical text gives exactly the bytes
that were hashed, because keys are sorted and serialised independently; if
the result hashes to ``h``, the text is what the writer hashed (a collision
aside), wherever else the string might appear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import orjson

from csflow._canonical import GENESIS, canonical_json, first_break, pii_digest
from csflow.audit._anchor import Anchor
from csflow.audit._fold import fold, fold_owned
from csflow.errors import CaseNotFound
from csflow.model import Case, Event
from csflow.stores.base import Store

#: Kinds of damage, in the words an auditor would use.
KINDS = ("edited", "deleted", "inserted", "reordered", "foreign", "truncated", "snapshot",
         "missing")


_PROGRESS_EVERY = 5_000
_NONE: dict[str, Any] = {}


@dataclass(frozen=True)
class Damage:
    """The first broken link of one case: where (``seq``) and what kind."""

    case_id: str
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        at = f" at seq {self.seq}" if self.seq is not None else ""
        return f"case {self.case_id}{at}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    """What verify found: counts, damage per case, and the heads for an anchor."""

    cases: int
    events: int
    damage: tuple[Damage, ...]
    heads: Mapping[str, tuple[int, str]] = field(repr=False)
    anchor_root: str | None = None

    @property
    def ok(self) -> bool:
        return not self.damage

    def anchor(self, written_at: Any) -> Anchor:
        """An anchor of the heads verified (only meaningful when :attr:`ok`)."""
        return Anchor(written_at, dict(self.heads))


# A case being verified: [last seq, its hash as bytes, its state, data so far]. A
# list rather than a dataclass: it is read and written once per stored event.
_Running = list[Any]
_GENESIS = GENESIS.encode()


def verify_store(
    store: Store, *, anchor: Anchor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Verify every case in ``store``.

    ``progress(done, total)`` is called every few thousand events; ``total``
    is what the snapshots promise (the sum of their versions).
    """
    snapshots = {c.id: (c.version, c.last_hash, c.state, _digest(c.data))
                 for c in store.iter_cases()}
    total = sum(v for v, _, _, _ in snapshots.values())
    running: dict[str, _Running] = {}
    done: set[str] = set()
    suspects: set[str] = set()  # cases the fast pass gave up on: the slow pass says why
    events, report_at = 0, _PROGRESS_EVERY
    for case_id, seq, h, payload, pii in store.iter_raw_events():
        events += 1
        if events == report_at and progress is not None:
            progress(events, total)
            report_at += _PROGRESS_EVERY
        if case_id in suspects:
            continue
        run = running.get(case_id)
        if run is None:
            if case_id in done or case_id not in snapshots:
                suspects.add(case_id)
                continue
            run = running[case_id] = [0, _GENESIS, None, {}]
        if not _advance(run, case_id, seq, h, payload, pii):
            suspects.add(case_id)
            del running[case_id]
            continue
        snapshot = snapshots[case_id]
        if seq == snapshot[0]:
            if (h, run[2], _digest(run[3])) != snapshot[1:]:
                suspects.add(case_id)
            done.add(case_id)
            del running[case_id]
    if progress is not None:
        progress(events, total)
    # Cases whose events stop short of their snapshot (or have none at all).
    suspects.update(c for c in snapshots if c not in done)
    damage = {cid: _locate(store, cid) for cid in suspects}
    heads = {cid: (v, h) for cid, (v, h, _, _) in snapshots.items() if cid not in damage}
    if anchor is not None:
        for d in _against_anchor(store, anchor, snapshots, damage):
            damage.setdefault(d.case_id, d)
    found = tuple(d for d in damage.values() if d is not None)
    return VerifyReport(len(snapshots), events, found, heads,
                        None if anchor is None else anchor.root)


def _advance(run: _Running, case_id: str, seq: int, h: str, payload: str,
             pii: str | None) -> bool:
    """Check one stored row against the case so far and fold it in; False if it breaks."""
    if seq != run[0] + 1:
        return False
    body = payload.replace(f',"hash":"{h}"', "", 1).encode()
    if sha256(run[1] + body).hexdigest() != h:
        return False
    d = orjson.loads(body)
    if d["seq"] != seq or d["case_id"] != case_id:
        return False
    sealed: dict[str, Any] = orjson.loads(pii) if pii else _NONE
    if sealed:
        digests = d["pii_digests"]
        for path, s in sealed.items():
            if "value" in s and digests.get(path) != pii_digest(s["salt"], s["value"]):
                return False
    run[0], run[1], run[2] = seq, h.encode(), d["dest"]
    fold_owned(run[3], d["data"], sealed)
    return True


def _digest(data: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(data)).digest()


def _locate(store: Store, case_id: str) -> Damage | None:
    """The first broken link of one case, read the way the engine reads it."""
    events = store.load_events(case_id)
    try:
        snapshot: Case | None = store.load_case(case_id)
    except CaseNotFound:
        snapshot = None
    return locate(case_id, events, snapshot)


def locate(case_id: str, events: Sequence[Event], snapshot: Case | None) -> Damage | None:
    """Classify the first broken link of ``events`` (one case, in stored order), or None."""
    brk = first_break(events, case_id)
    if brk is not None:
        return _classify(case_id, events, brk.seq, brk.kind, str(brk))
    if snapshot is None:
        return Damage(case_id, 1 if events else None, "inserted",
                      "events of a case that has no snapshot")
    n = len(events)
    if n < snapshot.version:
        return Damage(case_id, n + 1, "truncated",
                      f"the snapshot is at seq {snapshot.version} but only {n} events are "
                      "stored: the tail was deleted")
    if n > snapshot.version:
        return Damage(case_id, snapshot.version + 1, "inserted",
                      f"{n - snapshot.version} event(s) after the snapshot's seq "
                      f"{snapshot.version}")
    data: Mapping[str, Any] = {}
    for e in events:
        data = fold(data, e.data, e.pii)
    last = events[-1]
    if last.hash != snapshot.last_hash:
        return Damage(case_id, n, "snapshot", "the snapshot's last hash is not the last event's")
    if last.dest != snapshot.state:
        return Damage(case_id, n, "snapshot",
                      f"the snapshot says state {snapshot.state!r}, the events {last.dest!r}")
    if canonical_json(data) != canonical_json(snapshot.data):
        paths = _differences(data, snapshot.data)
        return Damage(case_id, n, "snapshot",
                      f"the snapshot's data differs from the events at {', '.join(paths)}")
    return None


def _classify(case_id: str, events: Sequence[Event], seq: int, kind: str,
              detail: str) -> Damage:
    """Turn first_break's verdict into the damage that explains it."""
    if kind == "gap":
        i = seq - 1
        found = events[i].seq
        if any(e.seq == found for e in events[:i]):
            return Damage(case_id, found, "inserted",
                          f"a second event claims seq {found}: one was inserted")
        if any(e.seq == seq for e in events[i + 1:]):
            return Damage(case_id, seq, "reordered",
                          f"seq {found} is stored where seq {seq} belongs")
        if found > seq:
            gone = f"seq {seq}" if found == seq + 1 else f"seqs {seq}-{found - 1}"
            return Damage(case_id, seq, "deleted", f"{gone} missing")
        return Damage(case_id, seq, "reordered", f"seq {found} is stored where {seq} belongs")
    if kind == "relinked":
        i = seq - 1
        if i >= 2 and events[i].prev_hash == events[i - 2].hash:
            return Damage(case_id, seq - 1, "inserted",
                          f"seq {seq} links to seq {seq - 2}: the event between was inserted")
        return Damage(case_id, seq - 1, "edited",
                      f"seq {seq - 1} was changed and re-hashed: seq {seq} still links to "
                      "its old hash")
    return Damage(case_id, seq, kind, detail.split(": ", 1)[-1])


def _differences(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        path = f"{prefix}{key}"
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            out.extend(_differences(x, y, path + "."))
        elif canonical_json(x) != canonical_json(y):
            out.append(path)
    return out


def _against_anchor(
    store: Store, anchor: Anchor, snapshots: Mapping[str, tuple[int, str, str, bytes]],
    damage: Mapping[str, Damage | None],
) -> list[Damage]:
    purged = {r.case_id for r in store.audit_records() if r.kind == "retention_purge"}
    out = []
    for case_id, (seq, h) in sorted(anchor.heads.items()):
        if damage.get(case_id) is not None:
            continue
        if case_id not in snapshots:
            if case_id not in purged:
                out.append(Damage(case_id, None, "missing",
                                  f"anchored at seq {seq} but gone, with no retention record"))
            continue
        if snapshots[case_id][0] < seq:
            out.append(Damage(case_id, snapshots[case_id][0] + 1, "truncated",
                              f"anchored at seq {seq} but now ends at seq "
                              f"{snapshots[case_id][0]}: the tail was deleted"))
            continue
        stored = store.load_events(case_id, seq, seq)
        if not stored or stored[0].hash != h:
            out.append(Damage(case_id, seq, "edited",
                              "the history up to the anchored seq was rewritten since"))
    return out
