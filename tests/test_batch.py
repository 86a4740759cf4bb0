"""`insolegen batch`: good and bad rows, every field, re-runs rebuild nothing."""

from __future__ import annotations

import json

import pytest
from conftest import load, manifest_of, run, run_batch, write_csv

from insolegen.template import builtin_points


def test_batch_mixes_good_and_bad_rows(tmp_path, capsys):
    write_csv(tmp_path / "foot.csv", builtin_points(250, 95)[::-1] * [1, -1])
    every_field = {"id": "all", "outline": "foot.csv", "side": "left", "shell.thickness_mm": 4.0, "shell.min_thickness_mm": 2.5,
                   "shell.length": "sulcus", "arch.height_mm": 14.0, "arch.apex_pct": 45.0, "met_pad.enabled": True,
                   "met_pad.height_mm": 5.0, "met_pad.offset_mm": 7.0, "met_pad.length_mm": 28.0, "met_pad.width_mm": 22.0,
                   "met_pad.across_pct": 50.0, "heel_lift.height_mm": 6.0, "heel_lift.forefoot_fraction": 0.2,
                   "heel_cup.depth_mm": 15.0, "posting.rearfoot_deg": 4.0, "landmarks.heel_centre_pct": 14.0,
                   "landmarks.mtpj1_pct": 72.0, "landmarks.mtpj5_pct": 63.0, "landmarks.sulcus_pct": 81.0}
    rows = [
        every_field,
        {"id": "default"},
        {"id": "profile", "profile": "overpronation", "resolution": 2.0},
        {"id": "bad_range", "arch.height_mm": 99},
        {"id": "bad_outline", "outline": "missing.csv"},
        {"id": "bad_field", "arch.colour": "red"},
        {"id": "bad_resolution", "resolution": "fine"},
    ]
    manifest = manifest_of(tmp_path / "m.jsonl", rows)
    out = tmp_path / "out"
    code, summary = run_batch(manifest, out, capsys, "--jobs", "2")
    assert code == 3
    status = {k: r["status"] for k, r in summary.items()}
    assert status == {"all": "built", "default": "built", "profile": "built",
                      "bad_range": "failed", "bad_outline": "failed", "bad_field": "failed",
                      "bad_resolution": "failed"}
    errors = {k: r["error"] for k, r in summary.items()}
    assert "arch.height_mm" in errors["bad_range"] and "missing.csv" in errors["bad_outline"] and "arch.colour" in errors["bad_field"]
    assert "resolution 'fine' is not a number" in errors["bad_resolution"]
    for name in ("all", "default", "profile"):
        assert load(out / f"{name}.stl").is_watertight
    rep = json.loads((out / "all.report.json").read_text())
    assert rep["prescription"]["posting"]["rearfoot_deg"] == 4.0 and rep["side"] == "left"
    before = {p: p.stat().st_mtime_ns for p in out.glob("*.stl")}
    summary = run_batch(manifest, out, capsys, "--jobs", "1")[1]
    assert {k: r["status"] for k, r in summary.items() if r["status"] != "failed"} == {"all": "skipped", "default": "skipped", "profile": "skipped"}
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("*.stl")}


def test_batch_csv_all_good(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,side,arch.height_mm,met_pad.enabled\na,left,12,true\nb,right,8,false\n")
    code, _, err = run(["batch", manifest, "-o", tmp_path / "o", "--jobs", "1"], capsys)
    assert code == 0, err
    assert load(tmp_path / "o" / "a.stl").is_watertight


def test_batch_csv_from_a_european_spreadsheet(tmp_path, capsys):
    """Saved as CSV where the decimal mark is a comma: semicolons between cells, "12,5" for 12.5."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("id;side;arch.height_mm;heel_lift.height_mm\r\nleft_eu;left;12,5;4,25\r\n", encoding="utf-8-sig")
    code, _, err = run(["batch", manifest, "-o", tmp_path / "o", "--jobs", "1"], capsys)
    assert code == 0, err
    rep = json.loads((tmp_path / "o" / "left_eu.report.json").read_text())
    assert rep["prescription"]["arch"]["height_mm"] == 12.5 and rep["prescription"]["heel_lift"]["height_mm"] == 4.25
    assert rep["qa"]["as_built"]["heel_lift_mm"] == pytest.approx(4.25, abs=0.05)


@pytest.mark.parametrize("text", ["x", "outline,side\nfoot.csv,left\n"])
def test_bad_manifest(tmp_path, capsys, text):
    bad = tmp_path / ("m.txt" if text == "x" else "m.csv")
    bad.write_text(text)
    code, _, err = run(["batch", bad], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(bad) in err


def test_dask_cluster_gives_the_same_files(tmp_path, capsys):
    """--scheduler on a local Dask cluster started here: byte-identical meshes, same summary."""
    distributed = pytest.importorskip("distributed")
    write_csv(tmp_path / "foot.csv", builtin_points(240, 90))
    rows = [{"id": "plain"}, {"id": "file", "outline": "foot.csv", "side": "left", "heel_lift.height_mm": 6},
            {"id": "pad", "met_pad.enabled": True, "profile": "mortons_neuroma"}, {"id": "bad", "arch.height_mm": -1}]
    manifest = manifest_of(tmp_path / "m.jsonl", rows)
    local = run_batch(manifest, tmp_path / "local", capsys, "--jobs", "2")[1]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code, dask = run_batch(manifest, tmp_path / "dask", capsys, "--scheduler", cluster.scheduler_address)
    assert code == 3
    assert {k: (r["status"], r["error"]) for k, r in dask.items()} == {k: (r["status"], r["error"]) for k, r in local.items()}
    for name in ("plain", "file", "pad"):
        assert (tmp_path / "dask" / f"{name}.stl").read_bytes() == (tmp_path / "local" / f"{name}.stl").read_bytes()
        assert load(tmp_path / "dask" / f"{name}.stl").is_watertight


def test_unreachable_scheduler_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    manifest = tmp_path / "m.csv"
    manifest.write_text("id\na\n")
    code, _, err = run(["batch", manifest, "--scheduler", "tcp://127.0.0.1:9", "-o", tmp_path / "o"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "scheduler" in err


def test_ctrl_c_leaves_no_half_written_file(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) in the middle of a batch."""
    import os
    import signal
    import subprocess
    import sys
    import time

    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"r{i}", "resolution": 0.5}) + "\n" for i in range(40)))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "insolegen.cli", "batch", str(manifest), "-o", str(out), "--jobs", "2"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.report.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted" in err.strip().splitlines()[-1]
    assert not list(out.glob(".*.part"))
    built = sorted(out.glob("*.stl"))
    assert 2 <= len(built) < 40
    for mesh in built:  # each mesh delivered is whole, with its report
        assert load(mesh).is_watertight and mesh.with_name(f"{mesh.stem}.report.json").is_file()
