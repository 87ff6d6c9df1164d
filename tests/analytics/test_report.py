"""Standards, the report as values, the HTML, and the HTML as Chromium draws it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csflow.analytics import (
    AnalyticsError,
    NoData,
    Standard,
    build_report,
    compare,
    kpi_table,
    load_standards,
    read_log,
    render_html,
    service_periods,
)
from csflow.errors import DefinitionError, UnknownDefinition
from csflow.model import Event
from csflow.stores import open_store


def test_bundled_standards_cover_three_areas() -> None:
    areas = {s.area for s in load_standards()}
    assert areas == {"retail", "subscriptions", "delivery"}


def test_a_bad_standards_file_points_at_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("standards:\n  retail:\n    happiness: {min: 0.5}\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"s.yaml:3:.*unknown measure 'happiness'"):
        load_standards(bad)


def test_failings_are_listed_per_period_and_need_four_periods(demo_events: list[Event]) -> None:
    log = read_log(demo_events)
    first = min(c.opened_on for c in log.cases)
    days = service_periods("day", first, max(c.opened_on for c in log.cases))
    rows = kpi_table(log, days, by="business_area")
    strict = [Standard("retail", "csat", min=__import__("decimal").Decimal("1.01"), max=None,
                       source="impossible")]
    failings = compare(rows, strict)
    retail_periods = [r.period for r in rows if r.group == "retail" and r.csat is not None]
    assert [f.period for f in failings] == retail_periods
    assert "against a standard of ≥ 101%" in failings[0].message
    with pytest.raises(AnalyticsError, match="at least 4 consecutive service periods"):
        compare(kpi_table(log, days[:3], by="business_area"), strict)


def test_report_values_and_html_are_complete_and_offline(demo_events: list[Event]) -> None:
    report = build_report(demo_events)
    assert len(report.periods) >= 4 and report.standards_note is None
    assert report.overall.volume == 80
    html = render_html(report)
    for heading in ("What needs attention", "Control charts", "Process steps",
                    "Service standards by business area", "Process re-engineering reviews"):
        assert heading in html
    assert html.count("<svg") >= 5
    assert "nan" not in html.lower().replace("nance", "")  # "maintenance" etc. aside
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html


def test_report_errors_are_clear(demo_events: list[Event]) -> None:
    with pytest.raises(UnknownDefinition, match="unknown business area 'garden'"):
        build_report(demo_events, areas=["garden"])
    with pytest.raises(NoData):
        build_report([])
    only = build_report(demo_events, areas=["retail"])
    assert {c.area for c in only.log.cases} == {"retail"}


def test_cli_writes_the_report_and_fails_cleanly_on_an_empty_store(
    demo_events: list[Event], tmp_path: Path
) -> None:
    import typer

    from csflow.cli.report import report

    app = typer.Typer()
    app.command()(report)
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    store = open_store(url)
    store.close()
    runner = CliRunner()
    empty = runner.invoke(app, ["--db", url, "--out", str(tmp_path / "r.html")])
    assert empty.exit_code == 1 and "no 'complaint' cases" in empty.output
    assert not (tmp_path / "r.html").exists()


# -- rendering in a real browser ---------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(html: Path, png: Path) -> None:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
             "--window-size=1280,2400", html.as_uri()],
            check=True, capture_output=True, timeout=120,
        )


def _count(png: Path, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """Pixels close to ``rgb`` in an 8-bit RGB(A) PNG, decoded with the stdlib."""
    import struct
    import zlib

    data = png.read_bytes()
    pos, idat, width = 8, b"", 0
    channels = 3
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, _h, _depth, colour = struct.unpack(">IIBB", chunk[:10])
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    hits = 0
    for row in range(len(raw) // (stride + 1)):
        f = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for i in range(0, stride, channels):
            if all(abs(line[i + k] - rgb[k]) <= tolerance for k in range(3)):
                hits += 1
        prev = line
    return hits


@pytest.fixture
def chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CSFLOW_REQUIRE_CHROMIUM") == "1":
            pytest.fail("CSFLOW_REQUIRE_CHROMIUM=1 but chromium is not installed "
                        "(apt-get install -y chromium)")
        pytest.skip("chromium not installed: apt-get install -y chromium "
                    "(set CSFLOW_REQUIRE_CHROMIUM=1 to make this a failure)")


@pytest.mark.usefixtures("chromium")
def test_chromium_draws_the_charts(demo_events: list[Event], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(demo_events)), encoding="utf-8")
    shot = tmp_path / "report.png"
    _screenshot(page, shot)
    blue = _count(shot, (0x1F, 0x77, 0xB4))  # data lines and Pareto bars
    red = _count(shot, (0xD6, 0x27, 0x28))  # control limits and the cumulative line
    assert blue > 5000, f"only {blue} chart-blue pixels: charts not drawn"
    assert red > 500, f"only {red} limit-red pixels: control limits not drawn"
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body>nothing</body></html>", encoding="utf-8")
    _screenshot(blank, tmp_path / "blank.png")
    assert _count(tmp_path / "blank.png", (0x1F, 0x77, 0xB4)) == 0  # the counter can say no
