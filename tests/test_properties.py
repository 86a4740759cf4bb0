"""Property-based: any prescription inside the accepted ranges gives a valid, precise insert."""

from __future__ import annotations

import numpy as np
from conftest import grid_inside, load, top_at
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from insolegen import api, prescription
from insolegen.errors import InputError


@st.composite
def prescriptions(draw):
    width = draw(st.floats(18, 30))
    length = draw(st.floats(20, 45))
    radius = min(width / 2, 0.45 * length)
    return {
        "shell.thickness_mm": draw(st.floats(2.0, 12.0)),
        "shell.length": draw(st.sampled_from(["full", "sulcus", "three_quarter"])),
        "arch.height_mm": draw(st.floats(0.5, 25)),
        "arch.apex_pct": draw(st.floats(30, 60)),
        "met_pad.enabled": True,
        "met_pad.width_mm": width,
        "met_pad.length_mm": length,
        "met_pad.height_mm": draw(st.floats(0.5, min(10.0, prescription.MAX_PAD_STEEPNESS * radius**2))),
        "met_pad.offset_mm": draw(st.floats(3, 20)),
        "met_pad.across_pct": draw(st.floats(30, 70)),
        "heel_lift.height_mm": draw(st.floats(0.5, 20)),
        "heel_cup.depth_mm": draw(st.floats(0, 30)),
        "posting.rearfoot_deg": draw(st.floats(-10, 10)),
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rx=prescriptions(), side=st.sampled_from(["left", "right"]), length=st.floats(220, 300))
def test_any_prescription_keeps_the_contract(tmp_path, rx, side, length):
    outline = api.load_outline(None, side=side, foot_length_mm=length, foot_width_mm=0.376 * length)
    full = api.build(outline, settings=rx, resolution=1.0)
    no_lift = api.build(outline, settings={**rx, "heel_lift.height_mm": 0.0}, resolution=1.0)
    no_arch = api.build(outline, settings={**rx, "arch.height_mm": 0.0}, resolution=1.0)
    paths = {}
    for name, insert in (("full", full), ("no_lift", no_lift), ("no_arch", no_arch)):
        paths[name] = tmp_path / f"{name}.stl"
        insert.export(paths[name])
    mesh = load(paths["full"])
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.body_count == 1 and mesh.volume > 0
    assert full.qa()["manifold3d"] == "NoError"
    xy = grid_inside(mesh, 2.5)
    top = top_at(mesh, xy)
    assert np.nanmin(top) >= rx["shell.thickness_mm"] - 1e-4 >= 2.0 - 1e-4
    lift = top - top_at(load(paths["no_lift"]), xy)
    heel = xy[:, 0] < 0.28 * length
    assert np.abs(lift[heel] - rx["heel_lift.height_mm"]).max() <= 0.05
    if rx["shell.length"] == "full":
        assert np.abs(lift[xy[:, 0] > 0.7 * length]).max() <= 0.05
    arch = full.fields["arch"]
    i = int(np.argmax(arch))
    assert abs(arch[i] - rx["arch.height_mm"]) <= 0.1
    # the crest is a plateau across the medial border, peaking along x at the apex landmark:
    # the highest vertex is the one nearest that x, less than one lattice spacing away
    assert abs(full.points[i, 0] - rx["arch.apex_pct"] / 100 * length) <= 1.0
    assert full.points[i, 1] * outline.medial_sign > 0
    assert np.allclose(full.vertices[:, 2] - no_arch.vertices[:, 2], np.r_[arch, np.zeros(len(full.vertices) - len(arch))])


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(sorted(prescription.FIELDS)),
       value=st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=8), st.booleans(), st.none()))
@example(field="pressure.offload_kpa", value=0.0)  # a strict bound (> 0) once ended in a traceback
def test_any_field_value_is_accepted_or_named(field, value):
    try:
        prescription.resolve(settings={field: value})
    except InputError as exc:
        assert field in str(exc) or "met_pad" in str(exc) or "shell" in str(exc)
        assert "\n" not in str(exc)
