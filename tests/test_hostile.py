"""Hostile and broken files: nothing is fetched, expanded without bound, or crashes; one line, exit 2."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insolegen import api, readers
from insolegen.errors import InputError
from insolegen.template import builtin_points

PATH_D = "M " + " L ".join(f"{x!r},{-y!r}" for x, y in builtin_points().tolist()) + " Z"
SVG_HEAD = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="300mm" height="150mm" viewBox="0 -75 300 150">'

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
          + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
          + f']>{SVG_HEAD}<text>&j;</text><path d="{PATH_D}"/></svg>')

HOSTILE = {
    "laughs.svg": LAUGHS,
    "external_entity.svg": f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>{SVG_HEAD}<text>&x;</text></svg>',
    "parameter_entity.svg": f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>{SVG_HEAD}</svg>',
    "utf16.svg": (f'<?xml version="1.0" encoding="UTF-16"?>{SVG_HEAD}<path d="{PATH_D}"/></svg>').encode("utf-16"),
    "broken.svg": f"{SVG_HEAD}<path d=",
    "no_path.svg": f"{SVG_HEAD}<text>foot</text></svg>",
    "junk.dxf": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
    "text_junk.dxf": "0\nSECTION\n2\nENTITIES\n0\nLWPOLYLINE\n10\nnot a number\n",
    "empty.dxf": "",
    "two_outlines.geojson": json.dumps({"type": "MultiPolygon", "coordinates": [
        [builtin_points().tolist()], [(builtin_points() + [0, 300]).tolist()]]}),
    "point.geojson": json.dumps({"type": "Point", "coordinates": [0, 0]}),
    # Found by the fuzz tests below, kept:
    "not_a_plate.lst": "Pict-No.: 1\n\t1\t2\tForce\n1\t0.0\t9.0\t0\n",
    "no_pressure.lst": "Sensor size: 0.500x0.500 cm\n\t1\t2\tForce\n1\t0.00\t0.00\t0\n",
    "deep.json": "[" * 100_000 + "]" * 100_000,  # RecursionError in json
    "one_char.csv": b"\x01",  # the csv module could not find a delimiter in it (csv.Error)
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_fail_cleanly(tmp_path, capsys, name):
    path = tmp_path / name
    data = HOSTILE[name]
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    out = tmp_path / "x.stl"
    start = time.perf_counter()
    code, _, err = run(["build", "--outline", path, "-o", out], capsys)
    assert time.perf_counter() - start < 30  # a generous bound against hangs, not a speed figure
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert name in err and "root:" not in err
    assert not out.exists()


def test_svg_references_to_local_files_get_nothing(tmp_path, capsys):
    """An SVG that points at a real outline on disk builds nothing from it."""
    secret = tmp_path / "secret.svg"
    secret.write_text(f'{SVG_HEAD}<path id="foot" d="{PATH_D}"/></svg>')
    for i, body in enumerate([f'<use href="{secret}#foot"/>', f'<use xlink:href="file://{secret}#foot"/>',
                              f'<image href="{secret}" width="300" height="150"/>',
                              f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret}"/>']):
        probe = tmp_path / f"probe{i}.svg"
        probe.write_text(f"{SVG_HEAD}{body}</svg>")
        code, _, err = run(["build", "--outline", probe, "-o", tmp_path / "x.stl"], capsys)
        assert code == 2 and "no path" in err, body


def test_several_outlines_point_to_footprint_mode(tmp_path, capsys):
    path = tmp_path / "two_outlines.geojson"
    path.write_text(HOSTILE["two_outlines.geojson"])
    code, _, err = run(["build", "--outline", path, "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "--outline-kind footprint" in err


def test_a_page_frame_around_the_outline_is_named_with_sizes(tmp_path, capsys):
    """A drawing with the page's border still in it: the error gives each shape's size."""
    path = tmp_path / "framed.svg"
    path.write_text(f'{SVG_HEAD}<rect x="0" y="-75" width="300" height="150" fill="none"/><path d="{PATH_D}"/></svg>')
    code, _, err = run(["build", "--outline", path, "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "2 separate outlines (300 x 150, 265 x 100 mm)" in err and "page frame" in err
    assert not (tmp_path / "x.stl").exists()


@pytest.mark.parametrize("limit, value", [("MAX_FILE_BYTES", 1000), ("MAX_POINTS", 100)])
def test_too_large_for_an_outline(tmp_path, capsys, monkeypatch, limit, value):
    monkeypatch.setattr(readers, limit, value)
    path = tmp_path / "big.csv"
    path.write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in builtin_points().tolist()))
    code, _, err = run(["build", "--outline", path, "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "too" in err and "limit" in err and len(err.strip().splitlines()) == 1


def _load(tmp_path, suffix: str, data: bytes):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        return api.load_outline(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return None


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = st.sampled_from(sorted(readers.READERS))


@FUZZ
@given(suffix=SUFFIXES, data=st.binary(max_size=2000))
def test_fuzz_bytes_never_crash_a_reader(tmp_path, suffix, data):
    _load(tmp_path, suffix, data)


NUM = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-10**6, 10**6))


@FUZZ
@given(points=st.lists(st.tuples(NUM, NUM), max_size=40), units=st.sampled_from(["mm", "cm", "in", "m", "ft", "px", "", "mm;"]))
def test_fuzz_structured_files_never_crash(tmp_path, points, units):
    """Well-formed files with wild numbers and units in every format: an outline or one clear error."""
    import ezdxf

    ring = [[float(x), float(y)] for x, y in points]
    text = {
        ".csv": "x,y\n" + "".join(f"{x},{y}\n" for x, y in ring),
        ".json": json.dumps({"units": units, "points": ring}),
        ".geojson": json.dumps({"type": "Polygon", "coordinates": [ring]}),
        ".svg": f'<svg xmlns="http://www.w3.org/2000/svg" width="300{units}" height="100{units}">'
                f'<path d="M {" L ".join(f"{x},{y}" for x, y in ring) or "0,0"} Z"/></svg>',
    }
    for suffix, body in text.items():
        _load(tmp_path, suffix, body.encode())
    doc = ezdxf.new()
    finite = [p for p in ring if np.isfinite(p).all()]
    if finite:
        doc.modelspace().add_lwpolyline(finite, close=True)
    doc.saveas(tmp_path / "fuzz.dxf")
    _load(tmp_path, ".dxf", (tmp_path / "fuzz.dxf").read_bytes())
