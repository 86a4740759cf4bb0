"""Plantar pressure (SPEC "Plantar pressure"): the readers against the files themselves, the analysis
on every shared recording, on copies mirrored into the other foot and turned on the plate, and on
broken copies (exit 2, one line naming the file, nothing written)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import run
from insolegen import pressure
from pressure_files import DATA, FILES, MMHG_KPA, _raw, transformed, write_emed

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared pressure recordings not present")


# ---- independent counts, straight from the text of each file ----------------------------------

def emed_pages(path: Path) -> list[dict]:
    """Each page's column numbers, rows {number: (values, force)} and Force row."""
    pages, page = [], None
    for line in path.read_text(encoding="latin-1").splitlines():
        cells = line.split()
        if cells and cells[-1] == "Force" and cells[0].isdigit():
            page = {"cols": [int(c) for c in cells[:-1]], "rows": {}}
        elif page and cells and cells[0].isdigit():
            page["rows"][int(cells[0])] = ([float(c) for c in cells[1:-1]], float(cells[-1]))
        elif page and cells and cells[0] == "Force":
            page["force"] = [float(c) for c in cells[1:]]
            pages.append(page)
            page = None
    return pages


def independent(system: str) -> tuple[float, int, float]:
    """(highest value in kPa, number of sensors that ever read above 0, sensor area mm2) of the
    insole or plate the analysis reports on by default."""
    path = DATA / FILES[system]
    text = path.read_text(encoding="latin-1")
    if system == "emed":
        touched, top = set(), 0.0
        for page in emed_pages(path):
            for r, (vals, _) in page["rows"].items():
                top = max(top, *vals)
                touched |= {(r, c) for c, v in zip(page["cols"], vals) if v > 0}
        return top, len(touched), 25.0
    if system == "fscan":
        body = text.split("ASCII_DATA @@")[1]
        cells = [ln.split(",") for ln in body.splitlines() if "," in ln]
        grid = np.array([[np.nan if c.strip() == "B" else float(c) for c in row] for row in cells]).reshape(-1, 60, 21)
        return float(np.nanmax(grid)), int((np.nan_to_num(grid) > 0).any(axis=0).sum()), 5.08 * 5.08
    if system == "xsensor":
        blocks = re.findall(r"SENSOR,[^\n]*-LF[^\n]*\n(.*?)SENSELS[^\n]*\n((?:[^\n]*\n){62})", text, flags=re.S)
        grids = np.array([[[float(v) for v in ln.split(",")[:11]] for ln in rows.splitlines() if ln.strip(",")] for _, rows in blocks])
        return float(grids.max()) * MMHG_KPA, int((grids > 0).any(axis=0).sum()), 8.6 * 8.6
    lines = [ln.split() for ln in text.splitlines()]
    values = np.array([ln[1:] for ln in lines if len(ln) == 813 and ln[0][0].isdigit()], dtype=float)
    return float(values.max()), int((values > 0).any(axis=0).sum()), 5.28 * 10.28


def report_of(path: Path, capsys, *options) -> dict:
    """The report the command line writes for the recording."""
    code, out, err = run(["pressure", str(path), *options], capsys)
    assert code == 0, err
    return json.loads(out)


# ---- readers agree with the files --------------------------------------------------------------

def test_emed_force_column_is_each_rows_sum_times_sensor_area():
    pages = emed_pages(DATA / FILES["emed"])
    assert len(pages) == 106
    worst = 0.0
    for page in pages:
        vals = np.array([v for v, _ in page["rows"].values()])
        forces = np.array([f for _, f in page["rows"].values()])
        # kPa x 25 mm2 = 0.025 N; printed to 0.01 N
        worst = max(worst, np.abs(vals.sum(axis=1) * 0.025 - forces).max(), np.abs(vals.sum(axis=0) * 0.025 - page["force"][:-1]).max())
        assert abs(vals.sum() * 0.025 - page["force"][-1]) <= 0.01 * len(forces)
    assert worst <= 0.0051
    rec = pressure.read(DATA / FILES["emed"])
    totals = np.array([p["force"][-1] for p in pages])
    assert np.abs(np.nansum(rec.frames, axis=(1, 2)) * rec.cell_area_mm2 * 1e-3 - totals).max() <= 0.3


@pytest.mark.parametrize("system", FILES)
def test_peak_and_contact_area_exact(system, capsys):
    top, count, cell_mm2 = independent(system)
    rep = report_of(DATA / FILES[system], capsys)
    assert rep["system"] == system
    assert rep["peak_kpa"] == pytest.approx(top, abs=0.006)
    assert rep["contact_area_cm2"] == pytest.approx(count * cell_mm2 / 100, abs=0.001)
    assert set(rep["regions"]) == {"heel", "midfoot", "mth1", "mth2_3", "mth4_5", "hallux", "lesser_toes"}
    assert all(set(r) == {"peak_kpa", "pti_kpa_s", "area_cm2", "force_n"} for r in rep["regions"].values())
    assert set(rep["landmarks_mm"]) == {"heel_centre", "mth1", "mth5", "hallux"}
    assert np.array(rep["transform_sensor_to_output"]).shape == (4, 4)
    # regions split the contact: their areas add up to it, and the highest region is the peak
    assert sum(r["area_cm2"] for r in rep["regions"].values()) == pytest.approx(rep["contact_area_cm2"], abs=0.01)
    assert max(r["peak_kpa"] for r in rep["regions"].values()) == pytest.approx(rep["peak_kpa"])


def test_pitch_units_and_frame_time_from_the_headers(capsys):
    expect = {"emed": ([5.0, 5.0], 0.01), "fscan": ([5.08, 5.08], 0.032), "xsensor": ([8.6, 8.6], 0.013), "pliance": ([5.28, 10.28], 0.04167)}
    for system, (pitch, frame_s) in expect.items():
        rep = report_of(DATA / FILES[system], capsys)
        assert rep["sensor_pitch_mm"] == pytest.approx(pitch) and rep["frame_s"] == pytest.approx(frame_s, abs=1e-3)


def test_sides_read_right_and_both_insoles(capsys):
    """The shared emed step is a right foot (its table, rows as y, looks like a left one: the
    transform mirrors); F-Scan's is a left insole; XSENSOR holds both insoles."""
    rep = report_of(DATA / FILES["emed"], capsys)
    assert rep["side"] == "right" and np.linalg.det(np.array(rep["transform_sensor_to_output"])[:2, :2]) == pytest.approx(-1)
    assert report_of(DATA / FILES["fscan"], capsys)["side"] == "left"
    left = report_of(DATA / FILES["xsensor"], capsys, "--side", "left")
    right = report_of(DATA / FILES["xsensor"], capsys, "--side", "right")
    auto = report_of(DATA / FILES["xsensor"], capsys)
    assert (left["side"], right["side"], auto["side"]) == ("left", "right", "left")  # auto: the more loaded
    assert right["peak_kpa"] == pytest.approx(929.46 * MMHG_KPA, abs=0.01) or right["peak_kpa"] < left["peak_kpa"]
    assert right["peak_kpa"] != left["peak_kpa"]


def test_landmarks_within_8mm_of_the_peaks_they_stand_for():
    for system, name in FILES.items():
        a = pressure.analyse(pressure.read(DATA / name))
        xy = a.centres_out()
        peak = np.nan_to_num(a.peak)
        padded = np.pad(peak, 1)
        local_max = np.ones_like(peak, bool)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                local_max &= peak >= padded[1 + di: 1 + di + peak.shape[0], 1 + dj: 1 + dj + peak.shape[1]]
        for mark, region in (("mth1", "mth1"), ("hallux", "hallux"), ("mth5", "mth4_5")):
            mask = a.regions[region] & local_max & (peak > 0)
            if mask.any():
                d = np.linalg.norm(xy[mask] - a.landmarks_mm[mark], axis=1).min()
            else:  # no peak of its own (the flank of a neighbour's): the region's centre of pressure
                r = a.regions[region]
                d = np.linalg.norm((xy[r] * peak[r, None]).sum(axis=0) / peak[r].sum() - a.landmarks_mm[mark])
            assert d <= 8.0, (system, mark, d)
        heel = a.regions["heel"]
        cop = (xy[heel] * peak[heel, None]).sum(axis=0) / peak[heel].sum()
        assert np.linalg.norm(cop - a.landmarks_mm["heel_centre"]) <= 8.0
        # in the output frame: heel at the back, the heads ahead, the 1st head medial of the 5th
        medial = 1 if a.recording.side == "right" else -1
        assert a.landmarks_mm["heel_centre"][0] < a.landmarks_mm["mth5"][0] < a.landmarks_mm["hallux"][0]
        assert (a.landmarks_mm["mth1"][1] - a.landmarks_mm["mth5"][1]) * medial > 20


def test_regions_disjoint_inside_contact_and_ordered_from_heel_to_toes():
    for name in FILES.values():
        a = pressure.analyse(pressure.read(DATA / name))
        stack = np.array([a.regions[r] for r in pressure.REGIONS])
        assert stack.sum(axis=0).max() == 1 and (stack.any(axis=0) == a.contact).all()
        x = a.centres_out()[..., 0]
        assert x[a.regions["heel"]].mean() < x[a.regions["mth2_3"]].mean() < x[a.regions["hallux"]].mean()
        assert 0.0 <= a.arch_index < 0.5


# ---- transformed and broken copies (written by these tests, in tmp) ----------------------------

@pytest.mark.parametrize("kind", ["mirrored", "turned"])
@pytest.mark.parametrize("system", FILES)
def test_mirrored_and_turned_copies_read_the_same_load(system, kind, tmp_path, capsys):
    original = report_of(DATA / FILES[system], capsys)
    copy = report_of(transformed(system, kind, tmp_path), capsys)
    other = {"left": "right", "right": "left"}
    assert copy["side"] == (other[original["side"]] if kind == "mirrored" else original["side"])
    assert copy["peak_kpa"] == pytest.approx(original["peak_kpa"], abs=0.006)
    assert copy["contact_area_cm2"] == pytest.approx(original["contact_area_cm2"], abs=0.01)
    assert copy["arch_index"] == pytest.approx(original["arch_index"], abs=0.02)
    for name, stats in original["regions"].items():
        assert copy["regions"][name]["peak_kpa"] == pytest.approx(stats["peak_kpa"], rel=0.02, abs=1.0), name
    for name, xy in original["landmarks_mm"].items():
        sign = -1 if kind == "mirrored" else 1  # y is the wearer's left: the mirror image's medial side is the other way
        assert np.hypot(copy["landmarks_mm"][name][0] - xy[0], copy["landmarks_mm"][name][1] - sign * xy[1]) <= 2.0, name


def _cut(path: Path, share: float, folder: Path) -> Path:
    """The file cut off part-way through a line, at the given share of its length."""
    data = path.read_bytes()
    out = folder / f"cut{path.suffix}"
    out.write_bytes(data[: int(len(data) * share)])
    return out


def _edit(path: Path, folder: Path, old: str, new: str, suffix: str | None = None) -> Path:
    text = path.read_bytes().decode("latin-1")
    assert old in text
    out = folder / f"edited{suffix or path.suffix}"
    out.write_bytes(text.replace(old, new).encode("latin-1"))
    return out


def _two_feet(folder: Path) -> Path:
    f = _raw("emed")[0].frames
    both = np.zeros((f.shape[0], f.shape[1], 2 * f.shape[2] + 8))
    both[:, :, : f.shape[2]] = f[:, :, ::-1]  # a left foot beside the right one
    both[:, :, f.shape[2] + 8:] = f
    return write_emed(folder / "two_feet.lst", both)


BROKEN = {
    "emed truncated": lambda d: _cut(DATA / FILES["emed"], 0.6, d),
    "emed header lies (sensor size)": lambda d: _edit(DATA / FILES["emed"], d, "Sensor size: 0.500x0.500", "Sensor size: 0.600x0.600"),
    "emed header lies (area)": lambda d: _edit(DATA / FILES["emed"], d, "Sensor area: 0.25", "Sensor area: 0.36"),
    "emed header lies (matrix)": lambda d: _edit(DATA / FILES["emed"], d, "Matrix: 64x95", "Matrix: 40x60"),
    "emed no contact": lambda d: write_emed(d / "empty.lst", np.zeros((5, 10, 10))),
    "emed two feet at once": _two_feet,
    "emed heel alone": lambda d: write_emed(d / "heel.lst", _raw("emed")[0].frames * (np.arange(54) >= 35)[None, :, None]),
    "emed forefoot alone": lambda d: write_emed(d / "fore.lst", _raw("emed")[0].frames * (np.arange(54) < 30)[None, :, None]),
    "fscan truncated": lambda d: _cut(DATA / FILES["fscan"], 0.5, d),
    "fscan header lies (rows)": lambda d: _edit(DATA / FILES["fscan"], d, "ROWS 60", "ROWS 59"),
    "fscan header lies (frames)": lambda d: _edit(DATA / FILES["fscan"], d, "END_FRAME 205", "END_FRAME 300"),
    "xsensor truncated": lambda d: _cut(DATA / FILES["xsensor"], 0.7, d),
    "xsensor header lies (peak)": lambda d: _edit(DATA / FILES["xsensor"], d, "Peak Pressure (mmHg),2674.44", "Peak Pressure (mmHg),1674.44"),
    "pliance truncated": lambda d: _cut(DATA / FILES["pliance"], 0.4, d),
    "pliance header lies (units)": lambda d: _edit(DATA / FILES["pliance"], d, "pressure values in kPa", "pressure values in N/cm2"),
    "unknown format": lambda d: _edit(DATA / FILES["emed"], d, "Page 1", "Page 1", ".txt"),
    "pedar": lambda d: DATA / "pedar_example.asc",
    "footscan": lambda d: DATA / "footscan_test.xls",
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_copies_one_line_exit_2_nothing_written(case, tmp_path, capsys):
    bad = BROKEN[case](tmp_path)
    png, report = tmp_path / "out" / "map.png", tmp_path / "out" / "r.json"
    code, out, err = run(["pressure", str(bad), "-o", str(png), "--report", str(report)], capsys)
    assert code == 2, (case, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in err, err
    assert not png.exists() and not report.exists() and not out


def test_steps_the_most_complete_unless_asked(tmp_path, capsys):
    """A plate recording with two steps: the whole one, then one cut off by the end of the
    recording; the whole one by default, the other with --step 2."""
    f = _raw("emed")[0].frames
    k, nr, nc = f.shape
    plate = np.zeros((k + 60, nr, 2 * nc + 10))
    plate[:k, :, :nc] = f
    plate[k - 20:, :, nc + 10:] = f[: 80]  # the second step begins before the first ends (walking)
    path = write_emed(tmp_path / "walk.lst", plate)
    first = report_of(path, capsys)
    assert (first["step"], first["steps"], first["frames"]) == (1, 2, k)
    second = report_of(path, capsys, "--step", "2")
    assert (second["step"], second["frames"]) == (2, 80) and second["peak_kpa"] <= first["peak_kpa"]
    code, _, err = run(["pressure", str(path), "--step", "3"], capsys)
    assert code == 2 and "--step 3" in err and len(err.strip().splitlines()) == 1


def test_map_picture(tmp_path, capsys):
    png = tmp_path / "map.png"
    code, _, err = run(["pressure", str(DATA / FILES["emed"]), "-o", str(png), "--report", str(tmp_path / "r.json")], capsys)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_side_given_for_a_plate_is_kept_and_a_single_insole_is_not_the_other(capsys):
    code, out, err = run(["pressure", str(DATA / FILES["emed"]), "--side", "left"], capsys)
    assert code == 0 and json.loads(out)["side"] == "left" and "looks like a right foot" in err
    code, out, err = run(["pressure", str(DATA / FILES["fscan"]), "--side", "right"], capsys)
    assert code == 0 and json.loads(out)["side"] == "right" and "looks like a left foot" in err


def test_units_as_the_file_says(tmp_path, capsys):
    """An emed export in N/cm2 (its Force column is then sum x area in cm2) reads as the same kPa."""
    f = _raw("emed")[0].frames
    path = write_emed(tmp_path / "ncm2.lst", f / 10.0)
    text = path.read_text(encoding="latin-1")
    # the writer prints forces for kPa (x 0.025 N); in N/cm2 each force is ten times that
    text = re.sub(r"\t([0-9.]+)$", lambda m: f"\t{float(m.group(1)) * 10:.2f}", text, flags=re.M)
    path.write_text(text, encoding="latin-1")
    assert report_of(path, capsys)["peak_kpa"] == pytest.approx(370.0, abs=0.01)


def test_in_shoe_stance_phases(capsys):
    whole = report_of(DATA / FILES["fscan"], capsys)
    first = report_of(DATA / FILES["fscan"], capsys, "--step", "1")
    assert whole["step"] is None and whole["steps"] == first["steps"] >= 2
    assert first["step"] == 1 and 0 < first["frames"] < whole["frames"] and first["peak_kpa"] <= whole["peak_kpa"]


def test_transform_takes_the_files_own_sensor_numbers_to_the_output_frame(capsys):
    """emed prints its plate's row and column numbers: sensor (row, column) is at (column x 5,
    row x 5) mm; the report's transform lays every loaded one between the heel (x = 0) and the toes."""
    rep = report_of(DATA / FILES["emed"], capsys)
    tf = np.array(rep["transform_sensor_to_output"])
    loaded = {(r, c) for page in emed_pages(DATA / FILES["emed"]) for r, (vals, _) in page["rows"].items()
              for c, v in zip(page["cols"], vals) if v > 0}
    pts = np.array([(c * 5.0, r * 5.0, 0.0, 1.0) for r, c in loaded]) @ tf.T
    assert 0.0 < pts[:, 0].min() <= 5.0 and pts[:, 0].max() <= rep["foot_length_mm"]
    assert np.allclose(tf[:3, :3] @ tf[:3, :3].T, np.eye(3), atol=1e-5) and np.allclose(pts[:, 2], 0)
    hallux, heel = np.array(rep["landmarks_mm"]["hallux"]), np.array(rep["landmarks_mm"]["heel_centre"])
    assert hallux[1] > heel[1]  # a right foot: the hallux lies medially, to the wearer's left (+y)


@pytest.mark.parametrize("system", FILES)
def test_cut_anywhere_or_garbled_never_crashes(system, tmp_path, capsys):
    """Copies cut at many places and copies with bytes garbled: a clean refusal (exit 2, one line)
    or, where the cut falls between whole frames, a shorter recording; never a traceback."""
    data = (DATA / FILES[system]).read_bytes()
    rng = np.random.default_rng(7)
    suffix = Path(FILES[system]).suffix
    copies = [data[: int(len(data) * share)] for share in (0.001, 0.01, 0.05, 0.13, 0.31, 0.77, 0.999)]
    for _ in range(4):
        garbled = bytearray(data)
        for at, byte in zip(rng.integers(0, len(data), 20), rng.choice(list(b"0123456789.,;-eB x\n"), 20)):
            garbled[int(at)] = int(byte)
        copies.append(bytes(garbled))
    copies.append(data.replace(b"2", b"2" * 12, 50))  # a few enormous row or column numbers
    for i, content in enumerate(copies):
        path = tmp_path / f"copy{i}{suffix}"
        path.write_bytes(content)
        code, _, err = run(["pressure", str(path)], capsys)
        assert code in (0, 2) and "Traceback" not in err, (i, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and str(path) in err


def test_side_in_the_api_picks_an_insole_and_never_relabels_a_foot_unless_asked(capsys):
    """read(side=...) picks an in-shoe pair's insole; a plate's foot keeps its own side (build
    mirrors it onto the other insert); relabel=True (the command line) takes the side given."""
    assert pressure.read(DATA / FILES["emed"], side="left").side == "right"
    assert pressure.read(DATA / FILES["fscan"], side="right").side == "left"
    assert pressure.read(DATA / FILES["xsensor"], side="right").side == "right"
    assert "looks like" not in capsys.readouterr().err
    assert pressure.read(DATA / FILES["emed"], side="left", relabel=True).side == "left"
    assert "looks like a right foot" in capsys.readouterr().err
