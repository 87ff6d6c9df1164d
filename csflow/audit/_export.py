"""Exports for other tools: JSON Lines (lossless), CSV, XES (IEEE 1849) and OCEL 2.0 JSON.

JSON Lines is the archive format: one event per line exactly as
:func:`csflow._canonical.event_to_dict` gives it (personal data included, as
stored, so erased values stay erased), re-verifiable anywhere. CSV, XES and
OCEL are for spreadsheets and process-mining tools and leave personal data
out: an analyst mining the process does not need the customer's name.

Each format is streamed case by case, so memory does not grow with the store.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any
from xml.sax.saxutils import quoteattr

import orjson

from csflow._canonical import canonical_json, decision_to_dict, event_to_dict
from csflow.model import Event
from csflow.stores.base import Store

FORMATS = ("jsonl", "csv", "xes", "ocel")

CSV_COLUMNS = (
    "case_id", "seq", "type", "workflow", "workflow_version", "trigger", "source", "dest",
    "actor_id", "actor_role", "occurred_at", "recorded_at", "idempotency_key", "data",
    "decisions", "prev_hash", "hash",
)


def export(store: Store, fmt: str, out: IO[str]) -> int:
    """Write every event of ``store`` to ``out`` in ``fmt``; returns the number of events."""
    writers: dict[str, Callable[[Store, IO[str]], int]] = {
        "jsonl": _jsonl, "csv": _csv, "xes": _xes, "ocel": _ocel,
    }
    try:
        writer = writers[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}") \
            from None
    return writer(store, out)


def _by_case(store: Store) -> Iterator[list[Event]]:
    for case_id in store.case_ids():
        events = store.load_events(case_id)
        if events:
            yield events


def _time(t: datetime) -> str:
    return canonical_json(t).decode().strip('"')


def _jsonl(store: Store, out: IO[str]) -> int:
    n = 0
    for e in store.iter_events():
        out.write(canonical_json(event_to_dict(e)).decode())
        out.write("\n")
        n += 1
    return n


def _csv(store: Store, out: IO[str]) -> int:
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    n = 0
    for e in store.iter_events():
        w.writerow([
            e.case_id, e.seq, e.type, e.workflow, e.workflow_version, e.trigger,
            e.source or "", e.dest, e.actor.id if e.actor else "",
            e.actor.role if e.actor else "", _time(e.occurred_at), _time(e.recorded_at),
            e.idempotency_key or "", canonical_json(e.data).decode(),
            canonical_json([decision_to_dict(d) for d in e.decisions]).decode(),
            e.prev_hash, e.hash,
        ])
        n += 1
    return n


# -- XES ---------------------------------------------------------------------------

# XML 1.0 cannot carry most control characters, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and state" keys="concept:name csflow:dest"/>
  <string key="concept:name" value="csflow event log"/>
"""


def _attr(kind: str, key: str, value: Any) -> str:
    text = _NOT_XML.sub("\ufffd", str(value))
    return f"<{kind} key={quoteattr(key)} value={quoteattr(text)}/>"


def _xes(store: Store, out: IO[str]) -> int:
    out.write(_XES_HEAD)
    n = 0
    for events in _by_case(store):
        first = events[0]
        out.write("  <trace>\n    ")
        out.write(_attr("string", "concept:name", first.case_id))
        out.write("\n    ")
        out.write(_attr("string", "csflow:workflow", first.workflow))
        out.write("\n")
        for e in events:
            attrs = [
                _attr("string", "concept:name", e.trigger),
                _attr("date", "time:timestamp", _time(e.occurred_at)),
                _attr("string", "lifecycle:transition", "complete"),
                _attr("int", "csflow:seq", e.seq),
                _attr("string", "csflow:type", e.type),
                _attr("string", "csflow:source", e.source or ""),
                _attr("string", "csflow:dest", e.dest),
                _attr("string", "csflow:hash", e.hash),
            ]
            if e.actor is not None:
                attrs += [_attr("string", "org:resource", e.actor.id),
                          _attr("string", "org:role", e.actor.role)]
            if e.decisions:
                attrs.append(_attr("string", "csflow:decisions", canonical_json(
                    [decision_to_dict(d) for d in e.decisions]).decode()))
            out.write("    <event>\n      " + "\n      ".join(attrs) + "\n    </event>\n")
            n += 1
        out.write("  </trace>\n")
    out.write("</log>\n")
    return n


# -- OCEL 2.0 ----------------------------------------------------------------------

_EVENT_ATTRIBUTES = (("seq", "integer"), ("source", "string"), ("dest", "string"),
                     ("role", "string"), ("decisions", "string"), ("hash", "string"))


def _ocel(store: Store, out: IO[str]) -> int:
    """OCEL 2.0 JSON: cases (typed by workflow) and actors are the objects.

    Each event relates to its case ("case") and to the actor who fired it
    ("fired by"); a case's ``state`` attribute changes over time, one value
    per event. The document is built in memory: OCEL JSON is one object.
    """
    events: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    actors: dict[str, str] = {}
    activities: set[str] = set()
    workflows: set[str] = set()
    for history in _by_case(store):
        first = history[0]
        workflows.add(first.workflow)
        objects.append({
            "id": first.case_id, "type": first.workflow,
            "attributes": [{"name": "state", "time": _time(e.occurred_at), "value": e.dest}
                           for e in history],
            "relationships": [],
        })
        for e in history:
            activities.add(e.trigger)
            rel = [{"objectId": e.case_id, "qualifier": "case"}]
            if e.actor is not None:
                actors.setdefault(e.actor.id, e.actor.role)
                rel.append({"objectId": f"actor:{e.actor.id}", "qualifier": "fired by"})
            events.append({
                "id": f"{e.case_id}:{e.seq}", "type": e.trigger, "time": _time(e.occurred_at),
                "attributes": [
                    {"name": "seq", "value": e.seq},
                    {"name": "source", "value": e.source or ""},
                    {"name": "dest", "value": e.dest},
                    {"name": "role", "value": e.actor.role if e.actor else ""},
                    {"name": "decisions", "value": canonical_json(
                        [decision_to_dict(d) for d in e.decisions]).decode()},
                    {"name": "hash", "value": e.hash},
                ],
                "relationships": rel,
            })
    objects += [{"id": f"actor:{a}", "type": "actor", "attributes": [], "relationships": []}
                for a in sorted(actors)]
    doc = {
        "objectTypes": [{"name": w, "attributes": [{"name": "state", "type": "string"}]}
                        for w in sorted(workflows)] + [{"name": "actor", "attributes": []}],
        "eventTypes": [{"name": a, "attributes": [{"name": k, "type": t}
                                                  for k, t in _EVENT_ATTRIBUTES]}
                       for a in sorted(activities)],
        "objects": objects,
        "events": events,
    }
    out.write(orjson.dumps(doc).decode())
    return len(events)
