"""Dotted data paths, including ``name[*]`` over lists of rows."""

from __future__ import annotations

from csflow._data import get_path, has_path

DATA = {"rows": [{"step": "a", "n": 1}, {"step": "b", "n": 2}], "gap": [{"step": "a"}, {}]}


def test_plain_paths() -> None:
    assert get_path({"x": {"y": 3}}, "x.y") == 3
    assert get_path({"x": {"y": 3}}, "x.z", "none") == "none"


def test_star_takes_the_field_of_every_row() -> None:
    assert get_path(DATA, "rows[*].step") == ["a", "b"]
    assert get_path(DATA, "rows[*]") == DATA["rows"]
    assert get_path({"rows": []}, "rows[*].step") == []


def test_star_is_missing_when_any_row_lacks_the_field_or_it_is_not_a_list() -> None:
    assert not has_path(DATA, "gap[*].step")
    assert not has_path(DATA, "nope[*].step")
    assert not has_path({"rows": "text"}, "rows[*].step")
