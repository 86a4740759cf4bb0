"""Design from load (SPEC.md "Plantar pressure: the measured load in the design"), proved on the
exported STL files: landmarks from the load, the map laid on the outline (exactly from the same
plate file, else matched), the recess under every sensor above the threshold (vertical rays, a
build with and without it), the met pad behind the measured heads, zones graded from the load.
On every shared recording, and on copies of each mirrored into the other foot and turned.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree
from conftest import footprint, load, run, top_at
from shapely.geometry import box

from insolegen import pressure

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pressure"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/pressure is absent")
FILES = {"emed": "emed_test.lst", "pliance": "pliance_test.asc", "fscan": "fscan_testL.asf", "xsensor": "xsensor_data.csv"}
# The threshold each recording is offloaded at: 200 kPa (the diabetic-foot target) where the load
# reaches it; the pliance mat's step peaks at 140 kPa, so 100 there.
THRESHOLD = {"emed": 200.0, "pliance": 100.0, "fscan": 200.0, "xsensor": 200.0}
KINDS = ("original", "mirrored", "turned")
ROOM = ["--set", "shell.thickness_mm=6"]  # room for a 3 mm recess above the 2 mm minimum
RES = "2"
load = functools.lru_cache(maxsize=None)(load)


def source(system: str, kind: str, folder: Path) -> Path:
    if kind == "original":
        return DATA / FILES[system]
    from pressure_files import transformed  # the pressure readers' own mirrored and turned copies

    return transformed(system, kind, folder)


class Recorded:
    """One recording (or copy): builds from it on the built-in outline, cached."""

    def __init__(self, folder: Path, system: str, kind: str):
        self.folder, self.system, self.kind = folder, system, kind
        self.path = source(system, kind, folder)
        self.threshold = THRESHOLD[system]
        self.cache: dict[tuple, Path] = {}

    def build(self, *extra: str, suffix: str = ".stl") -> Path:
        key = (*extra, suffix)
        if key not in self.cache:
            out = self.folder / f"{self.system}-{self.kind}-{len(self.cache)}{suffix}"
            code, _, err = run(["build", "--pressure", self.path, *ROOM, *extra, "--resolution", RES, "-q", "-o", out], None)
            assert code == 0, err
            self.cache[key] = out
        return self.cache[key]

    def offloaded(self) -> Path:
        return self.build("--set", f"pressure.offload_kpa={self.threshold:g}")


def run(args, capsys):  # noqa: F811 (conftest's run, without capsys: these builds are quiet)
    import contextlib
    import io

    from insolegen.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, "", err.getvalue()


@pytest.fixture(scope="module", params=[(s, k) for s in FILES for k in KINDS], ids=lambda p: "-".join(p))
def rec(request, tmp_path_factory):
    return Recorded(tmp_path_factory.mktemp("load"), *request.param)


def report(path: Path) -> dict:
    return json.loads(path.with_name(f"{path.stem}.report.json").read_text())


def sensors(path: Path, doc: dict) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Each sensor's centre in the insert's frame (the report's transform applied to the sensor grid)
    (n, 2), its peak pressure (n,) kPa (the highest over the frames, counted here), and the pitch."""
    rec = pressure.read(doc["pressure"]["source"], side=doc["pressure"]["side"], step=doc["pressure"]["step"])
    t = np.array(doc["pressure"]["transform_sensor_to_output"])
    centres = rec.centres_mm().reshape(-1, 2)
    peak = np.nan_to_num(rec.frames).max(axis=0).ravel()
    return centres @ t[:2, :2].T + t[:2, 3], peak, rec.pitch_mm


def grown(centres: np.ndarray, t: np.ndarray, pitch, margin: float):
    """The region of the sensors above the threshold (their cells, in the insert's frame) grown by the margin."""
    hx, hy = pitch[0] / 2, pitch[1] / 2
    cells = [shapely.affinity.affine_transform(box(-hx, -hy, hx, hy), [*t[:2, :2].ravel(), *c]) for c in centres]
    return shapely.union_all(cells).buffer(margin)


# ---- landmarks and registration ------------------------------------------------------------


def test_landmarks_come_from_the_load(rec):
    """The heel centre (the heel's centre of pressure), the 1st and 5th heads and the hallux (the
    highest pressure peak of their regions: a sensor no neighbour exceeds; else the region's centre
    of pressure) are where the recording
    puts them, counted here from the raw frames in the regions the analysis masks, within 8 mm;
    the report says they came from the pressure, and they lie on the insert."""
    from scipy import ndimage

    out = rec.build()
    doc = report(out)
    assert set(doc["landmarks"]["sources"].values()) == {"pressure"}
    xy, peak, _ = sensors(out, doc)
    raw = pressure.read(doc["pressure"]["source"], side=doc["pressure"]["side"], step=doc["pressure"]["step"])
    regions = pressure.analyse(raw).regions
    image = np.nan_to_num(raw.frames).max(axis=0)
    summit = (image > 0) & (image >= ndimage.maximum_filter(image, size=3, mode="constant"))
    def centre_of_pressure(mask):
        return (xy[mask] * peak[mask, None]).sum(axis=0) / peak[mask].sum()

    assert np.hypot(*(np.array(doc["landmarks"]["heel_centre"]["xy_mm"]) - centre_of_pressure(regions["heel"].ravel()))) <= 8.0
    for name, key in (("mtpj1", "mth1"), ("mtpj5", "mth4_5"), ("hallux", "hallux")):
        pool = (regions[key] & summit).ravel()
        # a region holding only the flank of a neighbour's peak: its centre of pressure
        tops = xy[pool & (peak == peak[pool].max())] if pool.any() else centre_of_pressure(regions[key].ravel())[None]
        assert np.hypot(*(tops - doc["landmarks"][name]["xy_mm"]).T).min() <= 8.0, name
    rim = footprint(load(out))
    for name in ("heel_centre", "mtpj1", "mtpj5", "hallux"):
        assert rim.buffer(3.0).contains(shapely.Point(doc["landmarks"][name]["xy_mm"])), name


def emed_copy(kind: str, folder: Path) -> Path:
    return source("emed", kind, folder)


@pytest.mark.parametrize("kind", KINDS)
def test_same_plate_file_lays_the_map_exactly(kind, tmp_path):
    """--outline X.lst --outline-kind footprint --pressure X.lst: each sensor lands on the centre of
    its own cell of the outline's plate (the outline reader's squares, mapped by the outline's own
    transform). A copy of the file differing by one trailing byte is matched instead, and lands
    within a fraction of a millimetre of the exact place; its residual is reported."""
    plate = emed_copy(kind, tmp_path)
    other = tmp_path / f"other-{kind}.lst"
    other.write_bytes(plate.read_bytes() + b"\n")
    builds = {}
    for name, outline in (("exact", plate), ("matched", other)):
        out = tmp_path / f"{name}.stl"
        code, _, err = run(["build", "--outline", outline, "--outline-kind", "footprint", "--pressure", plate, "--resolution", "2.5",
                            "-q", "-o", out], None)
        assert code == 0, err
        builds[name] = report(out)
    exact, matched = builds["exact"], builds["matched"]
    assert exact["pressure"]["registration"] == {"method": "exact", "residual_mm": 0.0, "mirrored": False}
    assert matched["pressure"]["registration"]["method"] == "matched"
    # the outline reader's squares: cell (row r, column c) spans [c, c+1] x [-(r+1), -r] pitches
    rec = pressure.read(plate)
    cols, rows = np.meshgrid(np.arange(rec.frames.shape[2]) + rec.origin[0], np.arange(rec.frames.shape[1]) + rec.origin[1])
    cell_centres = np.c_[(cols.ravel() + 0.5) * 5.0, -(rows.ravel() + 0.5) * 5.0]
    t_in = np.array(exact["transform_input_to_output"])
    expected = cell_centres @ t_in[:2, :2].T + t_in[:2, 3]
    t = np.array(exact["pressure"]["transform_sensor_to_output"])
    laid = rec.centres_mm().reshape(-1, 2) @ t[:2, :2].T + t[:2, 3]
    assert np.abs(laid - expected).max() <= 1e-4
    tm = np.array(matched["pressure"]["transform_sensor_to_output"])
    contact = np.nanmax(rec.frames, axis=0).ravel() > 0
    moved = rec.centres_mm().reshape(-1, 2)[contact] @ tm[:2, :2].T + tm[:2, 3]
    assert np.hypot(*(moved - laid[contact]).T).max() <= 0.5
    assert matched["pressure"]["registration"]["residual_mm"] <= 1.0


def test_matched_to_a_derived_outline_of_the_other_side_of_the_plate(tmp_path):
    """The shared outline derived from the same step (plate coordinates at cell corners, a left
    foot as stored) matched to the right step: mirrored, within 0.5 mm of where its plate puts it."""
    csv = DATA.parent / "feet" / "emed" / "emed_test_footprint_outline_mm.csv"
    if not csv.is_file():
        pytest.skip("../shared/data/feet/emed is absent")
    out = tmp_path / "derived.stl"
    code, _, err = run(["build", "--outline", csv, "--side", "left", "--pressure", DATA / FILES["emed"], "--resolution", "2.5",
                        "-q", "-o", out], None)
    assert code == 0, err
    doc = report(out)
    assert doc["pressure"]["registration"]["mirrored"] is True
    rec = pressure.read(DATA / FILES["emed"])
    contact = np.nanmax(rec.frames, axis=0).ravel() > 0
    grid = rec.centres_mm().reshape(-1, 2)[contact]
    t_in, t = np.array(doc["transform_input_to_output"]), np.array(doc["pressure"]["transform_sensor_to_output"])
    truth = (grid + 2.5) @ t_in[:2, :2].T + t_in[:2, 3]  # the csv: x = column x 5, y = row x 5 at cell corners
    assert np.hypot(*(grid @ t[:2, :2].T + t[:2, 3] - truth).T).max() <= 0.5


# ---- the recess ----------------------------------------------------------------------------


def recess_figures(plain: Path, cut: Path, threshold: float) -> dict[str, float]:
    """Vertical rays on two builds, without and with pressure.offload_kpa = threshold: the worst
    departure from the full 3 mm depth over the sensors above the threshold, the largest change
    where the load stays below half the threshold 15 mm from all of them (and how many rays saw
    that), the farthest a recess's centre lies from its grown region's, and the thinnest shell."""
    doc = report(cut)
    xy, peak, pitch = sensors(cut, doc)
    t = np.array(doc["pressure"]["transform_sensor_to_output"])
    hot = xy[peak > threshold]
    m0, m1 = load(plain), load(cut)
    rim = footprint(m0)
    on = hot[shapely.contains_xy(rim.buffer(-1.0), hot[:, 0], hot[:, 1])]
    x0, y0, x1, y1 = rim.bounds
    gx, gy = np.meshgrid(np.arange(x0 + 0.3, x1, 1.5), np.arange(y0 + 0.2, y1, 1.5))
    grid = np.c_[gx.ravel(), gy.ravel()]
    grid = grid[shapely.contains_xy(rim.buffer(-1.0), grid[:, 0], grid[:, 1])]
    top = top_at(m1, grid)
    d = top - top_at(m0, grid)
    # the load at each grid point: the peak of the sensor whose cell holds it (0 off the sensors)
    raw = pressure.read(doc["pressure"]["source"], side=doc["pressure"]["side"], step=doc["pressure"]["step"])
    local = np.linalg.solve(t[:2, :2], (grid - t[:2, 3]).T).T  # back to sensor-grid mm
    j = np.round(local[:, 0] / pitch[0] - raw.origin[0]).astype(int)
    i = np.round(local[:, 1] / pitch[1] - raw.origin[1]).astype(int)
    image = np.nan_to_num(raw.frames).max(axis=0)
    inside = (i >= 0) & (i < image.shape[0]) & (j >= 0) & (j < image.shape[1])
    at = np.zeros(len(grid))
    at[inside] = image[i[inside], j[inside]]
    quiet = (cKDTree(hot).query(grid)[0] >= 15.0) & (at < threshold / 2)
    region = grown(hot, t, pitch, doc["prescription"]["pressure"]["offload_margin_mm"]).intersection(rim)
    parts = [p for p in shapely.get_parts(region) if p.area > 0]
    sunk = d < -0.01
    owner = np.argmin([shapely.distance(p, shapely.points(grid[sunk])) for p in parts], axis=0)
    offsets = []
    for k, part in enumerate(parts):
        w = -d[sunk][owner == k]
        centre = (grid[sunk][owner == k] * w[:, None]).sum(axis=0) / w.sum()
        offsets.append(np.hypot(*(centre - np.asarray(part.centroid.coords[0]))))
    return {
        "hot_sensors": len(on),
        "full_depth_error_mm": float(np.abs(top_at(m1, on) - top_at(m0, on) + 3.0).max()),
        "quiet_rays": int(quiet.sum()),
        "quiet_change_mm": float(np.nanmax(np.abs(d[quiet]))),
        "centre_offset_mm": float(max(offsets)),
        "min_thickness_mm": float(np.nanmin(top - m1.bounds[0, 2])),
        "depth_reported_mm": doc["pressure"]["offload"]["depth_mm"],
    }


def check_recess(figures: dict[str, float]) -> None:
    assert figures["hot_sensors"] > 0
    assert figures["full_depth_error_mm"] <= 0.15, figures
    assert figures["quiet_rays"] > 100 and figures["quiet_change_mm"] <= 0.05, figures
    assert figures["centre_offset_mm"] <= 5.0, figures
    assert figures["min_thickness_mm"] >= 2.0 - 0.01, figures
    assert figures["depth_reported_mm"] == pytest.approx(3.0, abs=1e-3)


def test_offload_recess_on_the_exported_file(rec):
    """Vertical rays on builds with and without pressure.offload_kpa: the full depth (+-0.15 mm)
    over every sensor above the threshold, each recess centred on its grown region (5 mm), the top
    unchanged (<= 0.05 mm) where the load stays below half the threshold 15 mm from every sensor
    above it; the shell never below its minimum."""
    check_recess(recess_figures(rec.build(), rec.offloaded(), rec.threshold))


SCAN = DATA.parent / "scans" / "techmed3d_right_plantar.obj"


@pytest.mark.skipif(not SCAN.is_file(), reason="../shared/data/scans is absent")
def test_offload_on_a_scan_build(tmp_path):
    """A right step laid on a right foot's scan (another foot of about its length): matched to the
    scan's footprint, the residual reported, and the recess as on an outline."""
    outs = []
    for extra in ([], ["--set", "pressure.offload_kpa=200"]):
        out = tmp_path / f"scan{len(outs)}.stl"
        code, _, err = run(["build", "--scan", SCAN, "--pressure", DATA / FILES["emed"], *ROOM, *extra, "--resolution", "2.5",
                            "-q", "-o", out], None)
        assert code == 0, err
        outs.append(out)
    reg = report(outs[1])["pressure"]["registration"]
    assert reg["method"] == "matched" and not reg["mirrored"] and reg["residual_mm"] <= 3.0
    check_recess(recess_figures(*outs, 200.0))


def test_recess_deeper_than_the_shell_allows_is_refused(tmp_path, capsys):
    out = tmp_path / "deep.stl"
    code, _, err = run(["build", "--pressure", DATA / FILES["emed"], "--set", "pressure.offload_kpa=200", "--resolution", "2.5",
                        "-o", out], capsys)
    assert code == 2
    assert "pressure.offload_depth_mm" in err and "shell.min_thickness_mm" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not out.with_name("deep.report.json").exists()


# ---- met pad and zones -----------------------------------------------------------------------


def test_met_pad_sits_behind_the_measured_heads(tmp_path):
    """The pad's highest point (pad on minus pad off, by rays) lies offset_mm behind the line
    through the 1st and 5th heads the load located, between them."""
    src = DATA / FILES["emed"]
    outs = []
    for pad in ("--met-pad", "--no-met-pad"):
        out = tmp_path / f"pad{pad}.stl"
        code, _, err = run(["build", "--pressure", src, pad, "--resolution", "1.5", "-q", "-o", out], None)
        assert code == 0, err
        outs.append(out)
    doc = report(outs[0])
    heads = doc["pressure"]["landmarks_mm"]
    m1, m5 = np.array(heads["mth1"]), np.array(heads["mth5"])
    m_on, m_off = load(outs[0]), load(outs[1])
    rim = footprint(m_off)
    mid = (m1 + m5) / 2  # rays over the ball only: the pad lies within its length of the heads' line
    gx, gy = np.meshgrid(np.arange(mid[0] - 45.0, mid[0] + 10.0, 0.5), np.arange(mid[1] - 40.0, mid[1] + 40.0, 0.5))
    grid = np.c_[gx.ravel(), gy.ravel()]
    grid = grid[shapely.contains_xy(rim.buffer(-1.0), grid[:, 0], grid[:, 1])]
    d = top_at(m_on, grid) - top_at(m_off, grid)
    apex = grid[np.nanargmax(d)]
    line = (m5 - m1) / np.linalg.norm(m5 - m1)
    normal = np.array([line[1], -line[0]]) * np.sign(line[1])  # toward the toes (+x)
    normal = normal if normal[0] > 0 else -normal
    assert (m1 - apex) @ normal == pytest.approx(8.0, abs=1.0)
    share = (apex - m1) @ line / np.linalg.norm(m5 - m1)
    assert 0.3 <= share <= 0.6


def test_zones_graded_from_the_load(tmp_path):
    """pressure.grade_zones: the 3MF's most loaded zone (the highest peak among its sensors) prints
    softest and the least loaded firmest; a zone set by hand keeps its density."""
    from test_zones import volumes_of

    out = tmp_path / "graded.3mf"
    code, _, err = run(["build", "--pressure", DATA / FILES["fscan"], "--set", "pressure.grade_zones=true",
                        "--set", "zones.met_pad.infill_pct=55", "--resolution", "2.5", "-q", "-o", out], None)
    assert code == 0, err
    doc = report(out)
    xy, peak, _ = sensors(out, doc)
    from insolegen.api import build
    from insolegen.fabrication import zones

    # the zones' regions on the same insert, its load counted here
    regions = zones.regions(build(None, settings={"pressure.grade_zones": False}, side=doc["side"], resolution=2.5,
                                  pressure=DATA / FILES["fscan"]))
    loads = {name: peak[shapely.contains_xy(r, xy[:, 0], xy[:, 1])].max(initial=0.0) for name, r in regions.items()}
    density = {v["keys"]["name"].removesuffix(" zone"): float(v["keys"]["fill_density"].rstrip("%"))
               for v in volumes_of(out)[1:]}
    assert density["met_pad"] == 55.0
    graded = {k: v for k, v in density.items() if k != "met_pad"}
    assert min(graded, key=graded.get) == max(graded, key=lambda k: loads[k])
    assert max(graded, key=graded.get) == min(graded, key=lambda k: loads[k])


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("args, named", [
    (["--set", "pressure.offload_kpa=200"], "pressure.offload_kpa"),
    (["--set", "pressure.grade_zones=true"], "pressure.grade_zones"),
    (["--step", "2"], "--step"),
    (["--pressure", "missing.lst"], "missing.lst"),
    (["--pressure", "PLATE", "--pair", "--short-side", "left"], "--pair"),
])
def test_design_from_load_without_a_usable_recording_is_refused(args, named, tmp_path, capsys):
    out = tmp_path / "x.stl"
    args = [str(DATA / FILES["emed"]) if a == "PLATE" else a for a in args]
    code, _, err = run(["build", *args, "-o", out], capsys)
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


# ---- preview and the web app ------------------------------------------------------------------


def red_share(png: Path) -> float:
    """The share of a picture's pixels in the red of the pressure colour map's high end (the
    insert's own colours, viridis, hold no such red)."""
    import matplotlib.image

    rgb = matplotlib.image.imread(png)[..., :3]
    red = (rgb[..., 0] > 0.6) & (rgb[..., 0] < 0.9) & (rgb[..., 1] < 0.35) & (rgb[..., 2] < 0.2)  # not the landmarks' pure red
    return float(red.mean())


def test_preview_lays_the_map_under_the_insert(tmp_path, capsys):
    """The preview of a build from load shows the peak map (its high-pressure reds) under the top
    view; with the recording gone, the same mesh's preview has none."""
    pytest.importorskip("matplotlib")
    recording = tmp_path / "step.lst"
    recording.write_bytes((DATA / FILES["emed"]).read_bytes())
    out = tmp_path / "insert.stl"
    assert run(["build", "--pressure", recording, "--resolution", "2.5", "-q", "-o", out], capsys)[0] == 0
    assert run(["preview", out, "-o", tmp_path / "with.png"], capsys)[0] == 0
    recording.unlink()
    assert run(["preview", out, "-o", tmp_path / "without.png"], capsys)[0] == 0
    assert red_share(tmp_path / "with.png") > 0.0005 > red_share(tmp_path / "without.png")


def test_web_build_from_an_uploaded_recording(tmp_path):
    """POST /api/build with a pressure file: the report's pressure section (named as uploaded), the
    landmarks from the load, and the map's squares where the report's transform lays the sensors."""
    pytest.importorskip("fastapi")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from insolegen.web.app import create_app

    with TestClient(create_app(workers=1), base_url="http://127.0.0.1:8000") as client:
        data = {"prescription": json.dumps({"shell": {"thickness_mm": 6.0}, "pressure": {"offload_kpa": 200.0}}),
                "resolution": "2.5", "side": "right"}
        answer = client.post("/api/build", data=data, files={"pressure": ("Mr P step 2.lst", (DATA / FILES["emed"]).read_bytes())})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        doc = body["report"]
        assert doc["pressure"]["source"] == "Mr P step 2.lst" and doc["pressure"]["offload"]["depth_mm"] == pytest.approx(3.0)
        assert set(doc["landmarks"]["sources"].values()) == {"pressure"}
        rec = pressure.read(DATA / FILES["emed"])
        t = np.array(doc["pressure"]["transform_sensor_to_output"])
        image = np.nan_to_num(rec.frames).max(axis=0)
        loaded = rec.centres_mm()[image > 0] @ t[:2, :2].T + t[:2, 3]
        squares = np.array(body["pressure_map"]["squares"])
        assert squares.shape == (len(loaded), 4, 2)
        assert np.abs(np.sort(squares.mean(axis=1), axis=0) - np.sort(loaded, axis=0)).max() <= 0.01
        assert sorted(body["pressure_map"]["peak_kpa"]) == pytest.approx(sorted(image[image > 0]), abs=0.05)
        bad = client.post("/api/build", data=data, files={"pressure": ("notes.lst", b"hello\n")})
        assert bad.status_code == 400 and bad.json()["error"].startswith("notes.lst")
