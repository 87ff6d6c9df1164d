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

import msgspec
import orjson

from csflow._canonical import GENESIS, canonical_json, first_break, pii_digest
from csflow._data import ERASED
from csflow.audit._anchor import Anchor
from csflow.audit._fold import fold, merge_owned
from csflow.errors import CaseNotFound
from csflow.model import Case, Event
from csflow.stores.base import Store

#: Kinds of damage, in the words an auditor would use.
KINDS = ("edited", "deleted", "inserted", "reordered", "foreign", "truncated", "snapshot",
         "missing")


_PROGRESS_EVERY = 5_000


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


# A case being verified: [last seq, its hash, data so far, its snapshot]. A list
# rather than a dataclass: it is read and written once per stored event.
_Running = list[Any]
# A snapshot as verify compares it: (version, last hash, state, sha256 of the
# data's canonical JSON). The digest, not the text, bounds what verify holds
# for a store of millions of cases.
_Snapshot = tuple[int, str, str, bytes]


def verify_store(
    store: Store, *, anchor: Anchor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Verify every case in ``store``.

    ``progress(done, total)`` is called every few thousand events; ``total``
    is what the snapshots promise (the sum of their versions).
    """
    # The stored data text is canonical as the stores write it, so its digest
    # is that of the snapshot's data; text that is not (edited by hand, say)
    # only sends its case to the slow pass, which compares parsed trees.
    snapshots = {cid: (version, last_hash, state, sha256(data.encode()).digest())
                 for cid, version, last_hash, state, data in store.iter_raw_cases()}
    total = sum(v for v, _, _, _ in snapshots.values())
    events, suspects = _fast_pass(store, snapshots, progress, total)
    damage = {cid: _locate(store, cid) for cid in suspects}
    # A suspect the slow pass clears (stored text that is not byte-canonical but
    # means the same) is sound, so its head belongs in an anchor like any other.
    heads = {cid: (v, h) for cid, (v, h, _, _) in snapshots.items()
             if damage.get(cid) is None}
    if anchor is not None:
        for d in _against_anchor(store, anchor, snapshots, damage):
            damage[d.case_id] = d
    found = tuple(d for d in damage.values() if d is not None)
    return VerifyReport(len(snapshots), events, found, heads,
                        None if anchor is None else anchor.root)


class _Delta(msgspec.Struct, gc=False):
    """The fields of a stored event's hashed payload that verify needs of most events.

    Decoding into this skips (while still parsing) everything else, such as
    the decisions. Not tracked by the garbage collector: it holds no cycles,
    and one is made per stored event.
    """

    case_id: str
    seq: int
    data: dict[str, Any]


class _Hashed(_Delta, gc=False):
    """:class:`_Delta` and what verify reads of a case's last event (its state) and of
    an event with personal data (their digests)."""

    dest: str
    pii_digests: dict[str, Any]


_decode_delta = msgspec.json.Decoder(_Delta).decode
_decode_hashed = msgspec.json.Decoder(_Hashed).decode
# What a row whose hash verifies but whose content is not what the engine
# writes can raise here; such a case goes to the slow pass, which says why.
_UNEXPECTED = (ValueError, TypeError, LookupError)


def _fast_pass(
    store: Store, snapshots: Mapping[str, _Snapshot],
    progress: Callable[[int, int], None] | None, total: int,
) -> tuple[int, set[str]]:
    """Stream every stored row once: (rows read, cases the slow pass must look at).

    One flat loop on purpose: it runs once per stored event, and every
    function call or attribute lookup in it costs a measurable share of
    hashing the event (see ``benchmarks/audit.py``). The success path of
    each row ends in ``continue``; falling through means the case broke.
    """
    running: dict[str, _Running] = {}
    done: set[str] = set()
    suspects: set[str] = set()  # cases the fast pass gave up on: the slow pass says why
    events, report_at = 0, _PROGRESS_EVERY
    d: Any  # a _Hashed wherever dest or pii_digests is read (see below), else a _Delta
    for events, (case_id, seq, h, payload, pii) in enumerate(store.iter_raw_events(), 1):
        if events == report_at and progress is not None:
            progress(events, total)
            report_at += _PROGRESS_EVERY
        run = running.get(case_id)
        if run is None:
            if case_id in suspects or case_id in done or case_id not in snapshots:
                suspects.add(case_id)
                continue
            run = running[case_id] = [0, GENESIS, None, snapshots[case_id]]
        try:
            if seq == run[0] + 1:
                # One search, where str.replace would make two.
                head, found, tail = payload.partition(f',"hash":"{h}"')
                body = head + tail
                # A payload without its hash would hash like the body it is, yet
                # no reader could load it: the slow pass reports it.
                if found and sha256((run[1] + body).encode()).hexdigest() == h:
                    snapshot = run[3]
                    last = seq == snapshot[0]
                    # Only the last event's state and sealed values' digests are
                    # read, so the other events skip building them.
                    d = _decode_hashed(body) if last or pii else _decode_delta(body)
                    if d.seq == seq and d.case_id == case_id:
                        data, delta = run[2], d.data
                        if data is None:  # decoded just now, so nobody else holds it
                            data = run[2] = delta
                        else:
                            for key, value in delta.items():
                                if type(value) is dict and type(data.get(key)) is dict:
                                    merge_owned(data[key], value)
                                else:
                                    data[key] = value
                        if not pii or _unseal(data, d.pii_digests, orjson.loads(pii)):
                            if not last:
                                run[0], run[1] = seq, h
                                continue
                            del running[case_id]
                            done.add(case_id)
                            if (h, d.dest, _digest(data)) != snapshot[1:]:
                                suspects.add(case_id)
                            continue
        except _UNEXPECTED:
            pass
        suspects.add(case_id)
        running.pop(case_id, None)
    if progress is not None:
        progress(events, total)
    # Cases whose events stop short of their snapshot (or have none at all).
    suspects.update(c for c in snapshots if c not in done)
    return events, suspects


def _unseal(data: dict[str, Any], digests: Mapping[str, str], sealed: Any) -> bool:
    """Check an event's sealed personal values against its digests, folding them in.

    A value without its salt was erased: :data:`~csflow._data.ERASED` takes
    its place. Each value is put at its dotted path the way
    ``merge(data, nest(path, value))`` would, without building the nest.
    """
    if type(sealed) is not dict:
        return False
    for path, s in sealed.items():
        if type(s) is dict and "value" in s:
            value = s["value"]
            if digests.get(path) != pii_digest(s["salt"], value):
                return False
        else:
            value = ERASED
        node = data
        parents, dot, leaf = path.rpartition(".")
        if dot:
            for part in parents.split("."):
                child = node.get(part)
                if type(child) is not dict:
                    child = node[part] = {}
                node = child
        if type(value) is dict and type(node.get(leaf)) is dict:
            merge_owned(node[leaf], value)
        else:
            node[leaf] = value
    return True


def _digest(data: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(data)).digest()


def _locate(store: Store, case_id: str) -> Damage | None:
    """The first broken link of one case, read the way the engine reads it."""
    try:
        events = store.load_events(case_id)
    except _UNEXPECTED as exc:
        return _unreadable(store, case_id, exc)
    try:
        snapshot: Case | None = store.load_case(case_id)
    except CaseNotFound:
        snapshot = None
    return locate(case_id, events, snapshot)


def _unreadable(store: Store, case_id: str, error: Exception) -> Damage:
    """The first event of a case whose stored row no reader can load (a field cut out)."""
    seq = 1
    try:
        while store.load_events(case_id, seq, seq):
            seq += 1
    except _UNEXPECTED:
        pass
    return Damage(case_id, seq, "edited",
                  f"the stored event cannot be read ({type(error).__name__}: {error}): "
                  "its payload was edited")


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
    store: Store, anchor: Anchor, snapshots: Mapping[str, _Snapshot],
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
