"""The web app's HTTP API (SPEC.md "Local web app"), with FastAPI's test client and a real server."""

from __future__ import annotations

import io
import json
import socket
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import FEET, load, run, top_at, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
with warnings.catch_warnings():  # Starlette's advice to move to httpx2, which FastAPI's client does not need yet
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from insolegen import prescription, template  # noqa: E402
from insolegen.template import builtin_points  # noqa: E402
from insolegen.web.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(workers=2), base_url="http://127.0.0.1:8000") as c:
        yield c


def build(client, rx=None, files=None, **fields):
    data = {"prescription": json.dumps(rx or {}), "resolution": "2", **fields}
    return client.post("/api/build", data=data, files=files)


def fetch_mesh(client, url, tmp_path):
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    path = tmp_path / url.rsplit("/", 1)[1]
    path.write_bytes(answer.content)
    return load(path)


def test_schema_and_profiles(client):
    schema = client.get("/api/schema").json()
    assert schema == prescription.json_schema()
    listed = client.get("/api/profiles").json()
    assert [p["name"] for p in listed["profiles"]] == prescription.profile_names()
    for p in listed["profiles"]:
        assert prescription.validate(p["prescription"]) == prescription.resolve(p["name"])
    assert listed["default"] == prescription.Prescription().model_dump(mode="json")


def test_a_field_is_on_the_exported_mesh(client, tmp_path):
    """heel_lift.height_mm 0 -> 6: the downloaded STL rises 6 mm at the heel and not at the toes."""
    plain, lifted = build(client), build(client, {"heel_lift": {"height_mm": 6}})
    assert plain.status_code == lifted.status_code == 200, (plain.text, lifted.text)
    (tmp_path / "0").mkdir(), (tmp_path / "1").mkdir()
    b0 = fetch_mesh(client, plain.json()["files"]["stl"], tmp_path / "0")
    b = fetch_mesh(client, lifted.json()["files"]["stl"], tmp_path / "1")
    marks = lifted.json()["report"]["landmarks"]
    heel = np.array([marks["heel_centre"]["xy_mm"]])
    toes = np.array([[marks["mtpj1"]["xy_mm"][0] + 25.0, 0.0]])
    assert top_at(b, heel) - top_at(b0, heel) == pytest.approx([6.0], abs=0.05)
    assert top_at(b, toes) - top_at(b0, toes) == pytest.approx([0.0], abs=1e-6)
    assert b.is_watertight and b0.is_watertight
    report = lifted.json()["report"]
    assert report["qa"]["as_built"]["heel_lift_mm"] == pytest.approx(6.0, abs=0.01)
    assert report["mesh"] == "insert-right.stl"  # a file name, never a server path
    # made on first download, the same solid (glTF is in metres)
    other = fetch_mesh(client, lifted.json()["files"]["3mf"], tmp_path / "1")
    assert other.is_watertight and np.allclose(other.bounds, b.bounds, atol=1e-3)
    other = fetch_mesh(client, lifted.json()["files"]["glb"], tmp_path / "1")
    assert other.is_watertight and abs(other.volume) * 1e9 == pytest.approx(b.volume, rel=1e-4)
    assert client.get(lifted.json()["files"]["report"]).json()["qa"] == report["qa"]


def unpack_view(answer):
    """(figures, vertices (n, 3), faces (f, 3)) of a POST /api/view answer."""
    body = answer.content
    length = int.from_bytes(body[:4], "little")
    figures = json.loads(body[4 : 4 + length])
    n, f = figures["vertices"], figures["faces"]
    vertices = np.frombuffer(body, "<f4", 3 * n, 4 + length).reshape(-1, 3)
    faces = np.frombuffer(body, "<u4", 3 * f, 4 + length + 12 * n).reshape(-1, 3)
    assert 4 + length + 12 * (n + f) == len(body)
    return figures, vertices, faces


def test_the_pages_view_is_the_downloaded_insert_and_its_report_is_whole(client, tmp_path):
    """POST /api/view (the page's build): its mesh is the solid of the STL made on the first download,
    its figures are the report's, and the report so made has the whole QA (rays, footprint)."""
    rx = {"heel_lift": {"height_mm": 6}, "met_pad": {"enabled": True}}
    answer = client.post("/api/view", data={"prescription": json.dumps(rx), "resolution": "2"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/octet-stream"
    figures, vertices, faces = unpack_view(answer)
    files = figures["files"]
    # nothing made yet but the inputs: the report and meshes come with the first download
    report = client.get(files["report"]).json()
    mesh = fetch_mesh(client, files["stl"], tmp_path)
    assert mesh.is_watertight and len(mesh.faces) == len(faces) == figures["faces"]
    assert np.allclose(np.sort(mesh.vertices, axis=0), np.sort(np.unique(vertices, axis=0), axis=0), atol=1e-4)
    qa = report["qa"]
    assert qa["rays"] > 1000 and "footprint_deviation_mm" in qa and report["mesh"] == "insert-right.stl"
    assert figures["watertight"] == (qa["watertight"] and qa["winding_consistent"]) is True
    assert figures["bodies"] == qa["bodies"] == 1
    assert figures["volume_mm3"] == pytest.approx(qa["volume_mm3"], rel=1e-4)
    assert figures["heel_lift_mm"] == qa["as_built"]["heel_lift_mm"] == pytest.approx(6.0, abs=0.01)
    assert figures["met_pad_mm"] == qa["as_built"]["met_pad"]["height_mm"] > 0
    assert figures["arch_mm"] == qa["as_built"]["arch"]["height_mm"]
    assert figures["thickness_mm"] == [qa["min_thickness_mm"], qa["max_thickness_mm"]]
    milled = client.post("/api/mill", data={"mesh": files["stl"], "stepover_mm": "3"})
    assert milled.status_code == 200, milled.text
    other = client.post("/api/view", data={"prescription": "{}", "resolution": "2"})  # G-code first, then the STL
    other_files = unpack_view(other)[0]["files"]
    assert client.get(other_files["gcode"]).text.startswith("(insolegen cam")
    assert fetch_mesh(client, other_files["3mf"], tmp_path).is_watertight
    bad = client.post("/api/view", data={"prescription": json.dumps({"arch": {"height_mm": 30}})})
    assert bad.status_code == 422 and bad.json()["error"] == "prescription: arch.height_mm = 30.0 is out of range; allowed 0 to 25"


def test_the_pages_view_of_a_lattice_insert_is_the_lattice_downloaded(client, tmp_path):
    """A printed lattice on the page: the mesh drawn is the lattice the STL holds (not the solid it
    was cut from), and the figures give its zones' densities and thinnest wall as the report does."""
    rx = {"lattice": {"type": "gyroid", "cell_mm": 20, "density_pct": 15}, "shell": {"length": "three_quarter", "thickness_mm": 8}}
    answer = client.post("/api/view", data={"prescription": json.dumps(rx), "resolution": "2"})
    assert answer.status_code == 200, answer.text
    figures, vertices, faces = unpack_view(answer)
    mesh = fetch_mesh(client, figures["files"]["stl"], tmp_path)
    assert len(mesh.faces) == len(faces) == figures["faces"] and figures["watertight"] and figures["bodies"] == 1
    assert np.allclose(mesh.bounds, [vertices.min(axis=0), vertices.max(axis=0)], atol=1e-3)
    report = client.get(figures["files"]["report"]).json()
    assert figures["volume_mm3"] == pytest.approx(report["qa"]["volume_mm3"], rel=1e-4)
    lattice = report["qa"]["lattice"]
    assert figures["lattice"]["zones"] == lattice["zones"] and figures["lattice"]["thinnest_wall_mm"] == lattice["thinnest_wall_mm"]
    assert lattice["zones"]["arch"]["density_built_pct"] == pytest.approx(15.0, abs=3.0)


def test_gcode_for_a_build_never_cuts_into_it(client, tmp_path):
    """POST /api/mill for a build's STL: the program's tool tip stays on or above the designed top
    (vertical rays on the downloaded STL) at every move end over the insert."""
    from test_cam import parse

    answer = build(client, {"met_pad": {"enabled": True}})
    files = answer.json()["files"]
    mesh = fetch_mesh(client, files["stl"], tmp_path)
    milled = client.post("/api/mill", data={"mesh": files["stl"], "tool": "ball", "tool_diameter_mm": "6", "stepover_mm": "3"})
    assert milled.status_code == 200, milled.text
    assert milled.json()["report"]["scallop_mm"] == pytest.approx(3 - np.sqrt(9 - 1.5**2), abs=1e-4)
    program = client.get(milled.json()["files"]["gcode"])
    assert program.status_code == 200
    text = program.text
    assert "G21" in text and "G90" in text and "(mesh: insert-right.stl sha256 " in text and "/tmp" not in text
    ends = np.array([m["end"] for m in parse(text) if m["g"] == 1])
    top = top_at(mesh, ends[:, :2])
    over = ~np.isnan(top)
    assert over.sum() > 500
    assert (ends[over, 2] >= top[over] - 0.01).all()
    bad = client.post("/api/mill", data={"mesh": files["stl"], "tool_diameter_mm": "6", "stepover_mm": "8"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("--stepover 8 mm is not less than the tool diameter")
    for mesh_url in ("/etc/passwd", "../insert-right.stl", files["stl"].replace(".stl", ".3mf"), "/files/x/insert-right.stl"):
        refused = client.post("/api/mill", data={"mesh": mesh_url})
        assert refused.status_code == 400 and refused.json()["error"].startswith("mesh:")
    default = client.get(files["gcode"])  # made on first download, with the cam command's defaults
    assert default.status_code == 200 and default.text.startswith("(insolegen cam")


def test_an_uploaded_outline_is_named_as_the_user_named_it(client, tmp_path):
    src = write_csv(tmp_path / "foot.csv", builtin_points(240.0, 92.0)[::-1] * [-1, 1] + [500, 40])
    answer = build(client, files={"outline": ("Patient 7 left.csv", src.read_bytes(), "text/csv")}, side="right")
    assert answer.status_code == 200, answer.text
    report = answer.json()["report"]
    assert report["input"]["outline"] == "Patient 7 left.csv"
    assert report["input"]["foot_length_mm"] == pytest.approx(240.0, abs=0.5)
    mesh = fetch_mesh(client, answer.json()["files"]["stl"], tmp_path)
    assert np.ptp(mesh.bounds[:, 0]) == pytest.approx(240.0, abs=0.5) and mesh.is_watertight


SCAN = FEET.parent / "scans" / "techmed3d_right_plantar.obj"


@pytest.mark.skipif(not SCAN.is_file(), reason="../shared/data/scans is absent")
def test_a_scan_upload_builds_an_insert_molded_to_it(client, tmp_path):
    answer = build(client, files={"scan": ("Mrs K, plantar.obj", SCAN.read_bytes(), "model/obj")})
    assert answer.status_code == 200, answer.text
    report = answer.json()["report"]
    assert report["side"] == "right" and report["input"]["kind"] == "scan"  # the side found from the arch
    assert report["input"]["outline"] == report["scan"]["file"] == "Mrs K, plantar.obj"
    assert str(SCAN.parent) not in answer.text and "/tmp" not in answer.text
    assert answer.json()["files"]["stl"].endswith("/insert-right.stl")
    mesh = fetch_mesh(client, answer.json()["files"]["stl"], tmp_path)
    assert mesh.is_watertight
    assert np.ptp(mesh.bounds[:, 0]) == pytest.approx(report["input"]["foot_length_mm"], abs=1.0)
    # An outline beside the scan is the shoe's insole outline: it trims the molded top (and is named by its own name).
    from insolegen.template import builtin_points

    shoe = "x,y\n" + "".join(f"{x},{y}\n" for x, y in builtin_points(280.0, 95.0))
    both = build(client, files={"scan": ("s.obj", SCAN.read_bytes(), "model/obj"), "outline": ("Shoe 43.csv", shoe.encode(), "text/csv")})
    assert both.status_code == 200, both.text
    assert both.json()["report"]["scan"]["outline"]["file"] == "Shoe 43.csv" and "/tmp" not in both.text
    assert both.json()["report"]["input"]["foot_length_mm"] == pytest.approx(280.0, abs=0.5)
    bad = build(client, files={"scan": ("broken.obj", b"v 0 0 0\nv 1 0 0\n", "model/obj")})
    assert bad.status_code == 400 and bad.json()["error"].startswith("broken.obj")


def test_a_shoe_size_sizes_the_built_in_outline(client, tmp_path):
    answer = build(client, shoe_size="42", size_system="eu")
    assert answer.status_code == 200, answer.text
    length, width = template.foot_for_shoe(42.0, "eu")
    assert answer.json()["report"]["input"]["foot_length_mm"] == pytest.approx(length, abs=0.01)
    mesh = fetch_mesh(client, answer.json()["files"]["stl"], tmp_path)
    assert np.ptp(mesh.bounds[:, 0]) == pytest.approx(length, abs=0.01)
    assert np.ptp(mesh.bounds[:, 1]) == pytest.approx(width, abs=0.01)
    bad = build(client, shoe_size="80", size_system="eu")
    assert bad.status_code == 400 and bad.json()["error"].startswith("--shoe-size 80 is not an adult eu size")
    # Beside an uploaded outline or scan a shoe size is refused, naming the file, as by the command line.
    src = write_csv(tmp_path / "foot.csv", builtin_points(240.0, 92.0))
    beside = build(client, files={"outline": ("Patient 7.csv", src.read_bytes(), "text/csv")}, shoe_size="42")
    assert beside.status_code == 400 and beside.json()["error"].startswith("Patient 7.csv: --shoe-size sizes the built-in outline")
    if SCAN.is_file():
        beside = build(client, files={"scan": ("foot.obj", SCAN.read_bytes(), "model/obj")}, shoe_size="42")
        assert beside.status_code == 400 and beside.json()["error"].startswith("foot.obj: --shoe-size sizes the built-in outline")


def test_bad_input_answers_one_line_like_the_command_line(client, capsys):
    answer = build(client, {"arch": {"height_mm": 30}})
    assert answer.status_code == 422
    code, _, err = run(["build", "--set", "arch.height_mm=30", "-o", "/nonexistent/x.stl"], capsys)
    assert code == 2
    assert answer.json() == {"error": "prescription: arch.height_mm = 30.0 is out of range; allowed 0 to 25"}
    assert err.strip() == "insolegen: error: --set: " + answer.json()["error"].removeprefix("prescription: ")
    cases = [
        (build(client, {"arch": {"height": 3}}), 422, "unknown prescription field 'arch.height'"),
        (client.post("/api/build", data={"prescription": "{arch"}), 400, "prescription: not JSON"),
        (build(client, side="middle"), 400, "side 'middle' is not known"),
        (build(client, resolution="0.01"), 422, "resolution"),
        (build(client, foot_length_mm="40"), 400, "--foot-length 40 mm is not a plausible foot"),
        (build(client, files={"outline": ("C:\\Users\\ann\\foot.csv", b"x,y\n1,2\n", "text/csv")}), 400, "foot.csv: "),
        (build(client, files={"outline": ("foot.xyz", b"1 2\n", "text/plain")}), 400, "foot.xyz: unknown outline format"),
        (build(client, files={"outline": ("foot.svg", b"<svg", "image/svg+xml")}), 400, "foot.svg"),
    ]
    for answer, status, start in cases:
        assert answer.status_code == status, answer.text
        error = answer.json()["error"]
        assert start in error and "\n" not in error
        assert "/tmp" not in error and "insolegen-web" not in error and "upload." not in error  # no server path


FUZZ_VALUES = st.one_of(st.floats(), st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=6), st.none(),
                       st.lists(st.integers(), max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from([*sorted(prescription.FIELDS), "arch.bogus", "arch", "extra"]), FUZZ_VALUES, max_size=5))
def test_any_prescription_is_built_or_answered_in_one_line(client, fields):
    nested: dict = {}
    for key, value in fields.items():
        section, _, name = key.partition(".")
        if name and isinstance(nested.get(section, {}), dict):
            nested.setdefault(section, {})[name] = value
        else:
            nested[section] = value
    answer = client.post("/api/build", data={"prescription": json.dumps(nested), "resolution": "5"})
    assert answer.status_code in (200, 400, 422), answer.text
    if answer.status_code == 200:
        assert answer.json()["report"]["qa"]["watertight"]
    else:
        error = answer.json()["error"]
        assert error.startswith("prescription") and "\n" not in error


def test_an_upload_over_50_mb_is_refused_and_the_server_stays_up(client):
    big = b"0" * (60 * 2**20)
    answer = client.post("/api/build", files={"outline": ("scan.csv", big, "text/csv")})
    assert answer.status_code == 413 and "50 MB" in answer.json()["error"]

    answer = client.post("/api/build", content=chunked_upload(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 413
    assert build(client).status_code == 200


def chunked_upload(megabytes: int = 60):
    """A well-formed multipart body with an outline file of ``megabytes``, sent without a
    Content-Length (chunked): only counting the body as it streams can stop it."""
    yield b'--x\r\nContent-Disposition: form-data; name="outline"; filename="scan.csv"\r\nContent-Type: text/csv\r\n\r\n'
    for _ in range(megabytes):
        yield b"1,2\n" * 2**18
    yield b"\r\n--x--\r\n"


def test_traversal_never_returns_a_file(client):
    token = build(client).json()["files"]["stl"].split("/")[2]
    for url in ["/files/../../etc/passwd", "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd", f"/files/{token}/..%2f..%2fetc%2fpasswd",
                f"/files/{token}/%2e%2e", f"/files/{token}/.%2e/.%2e/etc/passwd", "/files//etc/passwd", "/files/%2fetc%2fpasswd/x",
                "/static/../app.py", "/static/%2e%2e/app.py", "/static/%2e%2e%2fapp.py", "/static//etc/passwd",
                f"/files/{'A' * 22}/insert-right.stl", f"/files/{token}/mesh.npz", f"/files/{token}/insert-right.mesh.npz"]:
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert b"root:" not in answer.content and b"import" not in answer.content


def test_other_sites_cannot_drive_it(client):
    """A page elsewhere posting to the local app, or a rebinding name pointed at 127.0.0.1, is refused."""
    data = {"prescription": "{}", "resolution": "5"}
    foreign = client.post("/api/build", data=data, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403 and "another site" in foreign.json()["error"]
    rebound = client.get("/api/schema", headers={"host": "evil.example:8000"})
    assert rebound.status_code == 400
    assert client.post("/api/build", data=data, headers={"origin": "http://127.0.0.1:8000"}).status_code == 200
    assert client.get("/api/schema", headers={"host": "localhost:8000"}).status_code == 200


def test_pair_lifts_the_short_side_only(client, tmp_path):
    answer = client.post("/api/pair", data={"prescription": json.dumps({"heel_lift": {"height_mm": 5}}), "resolution": "2",
                                            "short_side": "left"})
    assert answer.status_code == 200, answer.text
    pair = answer.json()
    assert [pair[s]["report"]["side"] for s in ("left", "right")] == ["left", "right"]
    heights = {}
    for side in ("left", "right"):
        (tmp_path / side).mkdir()
        mesh = fetch_mesh(client, pair[side]["files"]["stl"], tmp_path / side)
        heel = np.array([pair[side]["report"]["landmarks"]["heel_centre"]["xy_mm"]])
        heights[side] = top_at(mesh, heel)[0]
        assert mesh.is_watertight
    assert heights["left"] - heights["right"] == pytest.approx(5.0, abs=0.05)
    assert client.post("/api/pair", data={"short_side": "both"}).status_code == 400


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_batch_zip_in_zip_out(client, tmp_path):
    outline = write_csv(tmp_path / "a.csv", builtin_points(250.0, 95.0)).read_bytes()
    manifest = b"id,outline,side,arch.height_mm,resolution\nann,feet/a.csv,right,14,2\nbob,,left,,2\nbad,,right,40,2\n"
    answer = client.post("/api/batch", files={"batch": ("clinic.zip", _zip({"clinic/manifest.csv": manifest, "clinic/feet/a.csv": outline}))})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["counts"] == {"built": 2, "skipped": 0, "failed": 1}
    assert "arch.height_mm = 40.0 is out of range" in result["summary"][2]["error"]
    out = zipfile.ZipFile(io.BytesIO(client.get(result["files"]["zip"]).content))
    assert {"ann.stl", "ann.report.json", "bob.stl", "batch-summary.csv"} <= set(out.namelist())
    (tmp_path / "ann.stl").write_bytes(out.read("ann.stl"))
    mesh = load(tmp_path / "ann.stl")
    assert mesh.is_watertight and np.ptp(mesh.bounds[:, 0]) == pytest.approx(250.0, abs=0.5)
    assert json.loads(out.read("ann.report.json"))["qa"]["as_built"]["arch"]["height_mm"] == pytest.approx(14.0, abs=0.05)


def test_batch_never_reaches_outside_its_zip(client):
    bad = [
        ({"../evil.csv": b"id\nx\n"}, "'../evil.csv' is not a plain relative name"),
        ({"/etc/m.csv": b"id\nx\n"}, "is not a plain relative name"),
        ({"m.csv": b"id,outline\nx,../../../../etc/passwd.csv\n"}, "outside the zip"),
        ({"m.csv": b"id,outline\nx,/etc/passwd.csv\n"}, "outside the zip"),
        ({"m.csv": b"id,profile\nx,/etc/passwd\n"}, "profile '/etc/passwd' is not bundled"),
        ({"notes.txt": b"hello"}, "no manifest"),
    ]
    for files, message in bad:
        answer = client.post("/api/batch", files={"batch": ("b.zip", _zip(files))})
        assert answer.status_code == 400 and message in answer.json()["error"], answer.text
        assert answer.json()["error"].startswith("b.zip")
    answer = client.post("/api/batch", files={"batch": ("b.zip", b"not a zip")})
    assert answer.status_code == 400 and "not a zip file" in answer.json()["error"]


def test_a_worker_that_dies_is_replaced():
    import os
    import signal

    with TestClient(create_app(workers=1), base_url="http://127.0.0.1:8000") as fresh:
        assert build(fresh).status_code == 200
        for pid in list(fresh.app.state.pool._processes):  # as the kernel's OOM killer would
            os.kill(pid, signal.SIGKILL)
        died, again = build(fresh), build(fresh)
        assert died.status_code == 500 and "worker process stopped" in died.json()["error"]
        assert again.status_code == 200 and again.json()["report"]["qa"]["watertight"]


@pytest.fixture(scope="module")
def server():
    from web_support import free_port, start_server, stop_server

    port = free_port()
    proc, _ = start_server(port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def test_the_real_server_refuses_60_mb_and_stays_up(server):
    import httpx

    declared = httpx.post(f"{server}/api/build", files={"outline": ("scan.csv", b"0" * (60 * 2**20))}, timeout=120)
    assert declared.status_code == 413 and "50 MB" in declared.json()["error"]
    streamed = httpx.post(f"{server}/api/build", content=chunked_upload(), timeout=120,
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413
    assert httpx.post(f"{server}/api/build", data={"resolution": "5"}, timeout=120).status_code == 200


def test_ten_concurrent_builds_are_all_answered(server):
    import httpx

    def one(height):
        data = {"prescription": json.dumps({"arch": {"height_mm": height}}), "resolution": "2"}
        return httpx.post(f"{server}/api/build", data=data, timeout=120)

    heights = [6.0 + k for k in range(10)]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, heights))
    assert [a.status_code for a in answers] == [200] * 10
    built = [a.json()["report"]["qa"]["as_built"]["arch"]["height_mm"] for a in answers]
    assert built == pytest.approx(heights, abs=0.05)
    assert len({a.json()["files"]["stl"] for a in answers}) == 10


def test_serve_refuses_a_port_in_use(capsys):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        code, _, err = run(["serve", "--port", held.getsockname()[1]], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--port" in err


def test_zones_and_a_top_cover_are_volumes_of_the_downloaded_3mf(client, tmp_path):
    """Three-level sections in the JSON (zones.heel.infill_pct): the 3MF has the cover and the zone as
    PrusaSlicer volumes, the STL the one insert; an unset (null) zone writes no modifier."""
    from test_zones import volumes_of

    rx = {"zones": {"heel": {"infill_pct": 20}, "arch": {"infill_pct": None}}, "top_cover": {"thickness_mm": 2}}
    answer = build(client, rx)
    assert answer.status_code == 200, answer.text
    assert answer.json()["report"]["prescription"]["zones"]["heel"] == {"infill_pct": 20.0, "density_pct": None}
    path = tmp_path / "z.3mf"
    path.write_bytes(client.get(answer.json()["files"]["3mf"]).content)
    volumes = volumes_of(path)
    assert [(v["keys"]["name"], v["keys"].get("fill_density")) for v in volumes] == [
        ("insert", None), ("top cover", None), ("heel zone", "20%")]
    stl = fetch_mesh(client, answer.json()["files"]["stl"], tmp_path)
    assert stl.is_watertight and np.allclose(load(path).bounds, stl.bounds, atol=1e-3)
    bad = build(client, {"zones": {"heel": {"infill_pct": 120}}})
    assert bad.status_code == 422 and "zones.heel.infill_pct" in bad.json()["error"]
