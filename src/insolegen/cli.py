"""The ``insolegen`` command line. Bad input: one line on stderr, exit 2; internal fault: exit 1."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import InputError, warn


def _settings(pairs: tuple[str, ...], shortcuts: dict) -> dict:
    from .prescription import parse_value

    settings = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set '{item}' is not KEY=VALUE; write e.g. --set arch.height_mm=18")
        settings[key.strip()] = parse_value(value)
    settings.update({k: v for k, v in shortcuts.items() if v is not None})
    return settings


OUTLINE_KIND = click.option("--outline-kind", type=click.Choice(["outline", "footprint"]), default="outline", show_default=True,
                            help="footprint: a pressure or ink footprint; its contact patches become an insole outline")
UNITS = click.option("--units", type=click.Choice(["mm", "cm", "in"]), help="units of an outline file that names none (default mm)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="insolegen")
def cli() -> None:
    """Foot outline + orthotic prescription -> watertight, millable 3D insert."""


@cli.command()
@click.option("--outline", type=click.Path(dir_okay=False, path_type=Path), help="outline file (.csv .txt .json .geojson .svg .dxf .lst); default: built-in outline; with --scan: the shoe's insole outline that trims the top")
@OUTLINE_KIND
@UNITS
@click.option("--side", type=click.Choice(["auto", "left", "right"]),
              help="the foot's side [default: right; with --scan, auto: found from the scan]")
@click.option("--scan", type=click.Path(dir_okay=False, path_type=Path),
              help="foot scan (.stl .obj .ply .xyz .csv): a total-contact insert molded to its sole")
@click.option("--scan-units", type=click.Choice(["auto", "mm", "cm", "m", "in"]), default="auto", show_default=True,
              help="units of the scan (auto: from the foot's size)")
@click.option("--foot-length", type=float, default=265.0, show_default=True, help="built-in outline length, mm")
@click.option("--foot-width", type=float, default=100.0, show_default=True, help="built-in outline width, mm")
@click.option("--shoe-size", type=float, help="built-in outline for this adult shoe size (instead of --foot-length/--foot-width)")
@click.option("--size-system", type=click.Choice(["eu", "uk", "us-men", "us-women"]), default="eu", show_default=True,
              help="the system --shoe-size is written in")
@click.option("--profile", help="bundled profile name (see `insolegen profiles`) or a TOML file")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE", help="any prescription field by dotted name, e.g. arch.height_mm=18")
@click.option("--arch-height", type=float, help="= --set arch.height_mm")
@click.option("--leg-length-offset", type=float, help="heel lift under this insert, mm (= --set heel_lift.height_mm)")
@click.option("--met-pad/--no-met-pad", default=None, help="= --set met_pad.enabled")
@click.option("--resolution", type=float, default=1.0, show_default=True, help="mesh spacing, mm")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="mesh file; the suffix picks the format [default: outputs/insert-<side>.stl]")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="report file [default: <output stem>.report.json]")
@click.option("--keep-input-frame", is_flag=True, help="write the mesh in the outline's own position and rotation (mm)")
@click.option("--mold", "mold_path", type=click.Path(path_type=Path),
              help="also write the positive model to form the device over (its top continued 15 mm past the outline, on a flat base)")
@click.option("--ascii", "ascii_stl", is_flag=True, help="text STL instead of binary")
@click.option("--pair", is_flag=True, help="build left and right (files NAME-left, NAME-right)")
@click.option("--short-side", type=click.Choice(["left", "right"]), help="with --pair: the side that gets the heel lift")
@click.option("--outline-left", type=click.Path(dir_okay=False, path_type=Path), help="with --pair: the left foot's outline")
@click.option("--outline-right", type=click.Path(dir_okay=False, path_type=Path), help="with --pair: the right foot's outline")
@click.option("--pressure", type=click.Path(dir_okay=False, path_type=Path),
              help="plantar pressure recording (.lst .asc .asf .csv) to design from: landmarks from the load, pressure.* fields")
@click.option("--step", type=click.IntRange(1), help="with --pressure: the step (plate) or stance phase (in-shoe) to use")
@click.option("-q", "--quiet", is_flag=True, help="no summary on stderr")
def build(outline, outline_kind, units, side, scan, scan_units, foot_length, foot_width, shoe_size, size_system, profile, set_,
          arch_height, leg_length_offset, met_pad, resolution, output, report_path, keep_input_frame, ascii_stl, pair, short_side,
          outline_left, outline_right, pressure, step, quiet, mold_path):
    """Build an insert (or a pair) and write the mesh and its JSON report."""
    from . import api, export, prescription
    from . import report as reports

    load = None
    if pressure is not None:
        if pair:
            raise InputError(f"--pressure {pressure}: a recording is of one foot; build each insert with its own --pressure, without --pair")
        load = api.load_pressure(pressure, side if side in ("left", "right") else None, step)
        if scan is None and side is None:  # the insert is for the recorded foot
            side = load.recording.side
    elif step is not None:
        raise InputError("--step picks a step of a --pressure recording; give --pressure FILE too")

    if shoe_size is not None:
        foot_length, foot_width = _shoe_size_foot(shoe_size, size_system, outline or outline_left or outline_right or scan)

    settings = _settings(set_, {"arch.height_mm": arch_height, "heel_lift.height_mm": leg_length_offset, "met_pad.enabled": met_pad})
    rx = prescription.resolve(profile, settings)
    api.check_resolution(resolution)
    if scan is None and side == "auto":
        raise InputError("--side auto needs --scan (an outline's side is given: --side left or right)")
    side = side or ("auto" if scan else "right")
    if scan is not None:
        if outline_left or outline_right or pair:
            raise InputError("--scan builds one insert from the scan; leave out --outline-left/right and --pair "
                             "(--outline beside it is the shoe's insole outline)")
        molded = api.build(api.load_scan(scan, scan_units, side, outline, units), rx, resolution=resolution, pressure=load)
        jobs = [(export.check_writable(output or Path(f"outputs/insert-{molded.outline.side}.stl")), molded)]
    elif pair:
        if short_side is None:
            raise InputError("--pair needs --short-side left|right: the side that gets the heel lift")
        if report_path:
            raise InputError("--report names one file; with --pair each insert's report goes beside its mesh")
        target = export.check_writable(output or Path("outputs/insert.stl"))
        if outline_left or outline_right:
            if not (outline_left and outline_right):
                raise InputError("give both --outline-left and --outline-right, or one --outline to mirror")
            left, right = api.load_outline(outline_left, units, "left", kind=outline_kind), api.load_outline(outline_right, units, "right", kind=outline_kind)
            _check_shape(left, "it is given as --outline-left"), _check_shape(right, "it is given as --outline-right")
            inserts = api.build_pair(short_side, rx, left=left, right=right, resolution=resolution)
        else:
            one = api.load_outline(outline, units, side, foot_length, foot_width, outline_kind)
            _check_shape(one)
            inserts = api.build_pair(short_side, rx, outline=one, resolution=resolution)
        jobs = list(zip(api.pair_paths(target), inserts))
    else:
        target = export.check_writable(output or Path(f"outputs/insert-{side}.stl"))
        one = api.load_outline(outline, units, side, foot_length, foot_width, outline_kind)
        _check_shape(one)
        jobs = [(target, api.build(one, rx, resolution=resolution, pressure=load))]
    for message in rx.warnings():
        warn(message)
    molds = [None] * len(jobs)
    if mold_path is not None:
        molds = [export.check_writable(p) for p in (api.pair_paths(mold_path) if len(jobs) == 2 else [mold_path])]
    written = []
    try:
        for (path, insert), mold in zip(jobs, molds):
            doc = api.write(insert, path, report_path, ascii_stl=ascii_stl, keep_input_frame=keep_input_frame)
            written.append((path, doc))
            if mold is not None:
                written.append((api.write_mold(insert, mold, ascii_stl=ascii_stl, keep_input_frame=keep_input_frame), None))
            if not quiet:
                click.echo(reports.summary(doc), err=True)
                if mold is not None:
                    from .construct.mold import EXTEND_MM

                    click.echo(f"  mold {mold}: the top continued {EXTEND_MM:g} mm past the outline, on a flat base", err=True)
    except BaseException:
        for path, doc in written:  # a pair is delivered whole or not at all
            Path(path).unlink(missing_ok=True)
            if doc is not None:  # a mold has no report
                Path(path).with_name(f"{Path(path).stem}.report.json").unlink(missing_ok=True)
        raise


def _shoe_size_foot(shoe_size: float, size_system: str, outline_file) -> tuple[float, float]:
    """Foot length and width for the built-in outline from a shoe size; refused beside an outline
    file or an explicit --foot-length/--foot-width (which one would win is not obvious)."""
    from click.core import ParameterSource

    from .template import foot_for_shoe

    if outline_file:
        raise InputError(f"{outline_file}: --shoe-size sizes the built-in outline; drop it or drop the outline file")
    ctx = click.get_current_context()
    for name in ("foot_length", "foot_width"):
        if ctx.get_parameter_source(name) != ParameterSource.DEFAULT:
            raise InputError(f"--shoe-size and --{name.replace('_', '-')} both size the built-in outline; give one of them")
    return foot_for_shoe(shoe_size, size_system)


FOOTPRINT_SHARE = 0.45  # midfoot/forefoot width below which a plain outline is surely a footprint (real outlines: 0.53+)


def _check_shape(outline, declared: str = "") -> None:
    """Warn when the outline's shape disagrees with what was declared (side, outline kind).
    declared: how the side was given, when not by --side."""
    if outline.source == "builtin":
        return
    for note in outline.notes:
        warn(note)
    if outline.apparent_side() != outline.side:
        warn(f"{outline.source}: the outline looks like a {outline.apparent_side()} foot but {declared or f'--side is {outline.side}'}; "
             "check the side (the arch goes on the medial border of the declared side)")
    share = outline.midfoot_share() if outline.kind == "outline" else 1.0
    if share < FOOTPRINT_SHARE:
        warn(f"{outline.source}: the midfoot is only {share:.0%} as wide as the forefoot, as in a footprint; "
             "pass --outline-kind footprint to build a whole insole outline from it")


@cli.command()
@click.argument("mesh", type=click.Path(path_type=Path))
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="also write the QA as JSON here")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.option("--min-thickness", type=float, default=2.0, show_default=True, help="least thickness that passes, mm")
@click.option("--ray-spacing", type=float, default=1.0, show_default=True, help="grid spacing of the vertical rays, mm")
@click.option("--scan", type=click.Path(dir_okay=False, path_type=Path),
              help="the foot scan the insert was built from: also measure how closely the top follows its sole")
@click.option("--lattice/--solid", "lattice", default=None,
              help="a printed lattice insert (hollow: no milling or thickness rules) or a solid one [default: as the report beside it says]")
def check(mesh, report_path, as_json, min_thickness, ray_spacing, scan, lattice):
    """Independent QA of any insert mesh (STL, 3MF, OBJ, PLY): exit 0 when it passes."""
    import json

    from . import check as checks
    from . import export

    result = checks.check_file(mesh, min_thickness, ray_spacing, lattice)
    if scan is not None:
        result["scan_fit"] = checks.scan_fit(mesh, scan)
    if report_path:
        export.write_bytes(report_path, (json.dumps(result, indent=2) + "\n").encode())
    click.echo(json.dumps(result, indent=2) if as_json else checks.table(result))
    if not result["passed"]:
        sys.exit(4)


@cli.command()
@click.argument("mesh", type=click.Path(path_type=Path), required=False)
@click.option("--outline", type=click.Path(dir_okay=False, path_type=Path), help="preview an insert built from this outline instead of a mesh")
@OUTLINE_KIND
@UNITS
@click.option("--side", type=click.Choice(["left", "right"]), default="right", show_default=True, help="with --outline")
@click.option("--profile", help="with --outline: bundled profile name or TOML file")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE", help="with --outline: any prescription field")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="FILE.png or FILE.html [default: beside the mesh, .png]")
@click.option("--scan", type=click.Path(dir_okay=False, path_type=Path), help="with MESH: draw the points of the scan it was built from over it (PNG)")
def preview(mesh, outline, outline_kind, units, side, profile, set_, output, scan):
    """A picture (.png) or a page to turn in a browser (.html) of an insert mesh, or of an outline's insert."""
    import tempfile

    from . import api, prescription
    from .preview import preview as make

    if (mesh is None) == (outline is None):
        raise InputError("give a MESH file or --outline FILE to preview (one of them)")
    if scan is not None:
        if mesh is None:
            raise InputError("--scan previews a MESH built from that scan; give the mesh file too")
        from .preview import scan_preview

        click.echo(str(scan_preview(mesh, scan, output or mesh.with_name(f"{mesh.stem}-scan.png"))))
        return
    if mesh is not None:
        click.echo(str(make(mesh, output or mesh.with_suffix(".png"))))
        return
    shape = api.load_outline(outline, units, side, kind=outline_kind)
    insert = api.build(shape, prescription.resolve(profile, _settings(set_, {})))
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / f"{outline.stem}.stl"
        api.write(insert, built)
        click.echo(str(make(built, output or Path("outputs") / f"{outline.stem}-preview.png")))


@cli.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs"), show_default=True)
@click.option("--jobs", type=click.IntRange(1, 256), help="parallel processes [default: the number of cores]")
@click.option("--force", is_flag=True, help="rebuild rows already built from the same inputs")
@click.option("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS (tcp://host:8786); needs insolegen[dask] "
              "and the files on a shared file system")
def batch(manifest, out_dir, jobs, force, scheduler):
    """Build every row of a CSV or JSON Lines manifest; exit 3 when any row failed."""
    import os

    from . import batch as batches

    rows = batches.read_manifest(manifest)  # a bad manifest or scheduler fails before the progress bar starts
    cluster = batches.connect(scheduler) if scheduler else None
    with click.progressbar(length=len(rows), label="building", file=sys.stderr) as bar:
        def progress(items):
            for item in items:
                bar.update(1)
                yield item

        results = batches.run(manifest, out_dir, jobs or os.cpu_count() or 1, force, progress, cluster)
    counts = {s: sum(r["status"] == s for r in results) for s in ("built", "skipped", "failed")}
    click.echo(f"{counts['built']} built, {counts['skipped']} skipped, {counts['failed']} failed; "
               f"summary in {out_dir / 'batch-summary.csv'}", err=True)
    for r in results:
        if r["status"] == "failed":
            click.echo(f"  {r['id']}: {r['error']}", err=True)
    if counts["failed"]:
        sys.exit(3)


@cli.command()
def profiles():
    """List the bundled prescriptions: starting points for a clinician, not diagnoses."""
    from .prescription import profile_description, profile_names, profile_sources

    names = profile_names()
    width = max(map(len, names), default=0)
    for name in names:  # one line each: a script can take the first word of every line
        sources = profile_sources(name)
        click.echo(f"{name:{width}s} {profile_description(name)}" + (f" (sources: {'; '.join(sources)})" if sources else ""))


@cli.command()
def schema():
    """Print the prescription's JSON Schema."""
    import json

    from .prescription import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@click.argument("mesh", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="G-code file (.nc .ngc .gcode .tap)")
@click.option("--tool", type=click.Choice(["ball", "flat"]), default="flat", show_default=True,
              help="roughing cutter; the finish is a ball of the same diameter (flat: a tool change)")
@click.option("--tool-diameter", type=float, default=6.0, show_default=True, help="cutter diameter, mm")
@click.option("--stepover", type=float, default=1.0, show_default=True, help="finishing row spacing, mm (sets the scallop height)")
@click.option("--feed", type=float, default=1500.0, show_default=True, help="cutting feed, mm/min")
@click.option("--plunge-feed", type=float, default=400.0, show_default=True, help="plunging feed, mm/min")
@click.option("--spindle", type=float, default=18000.0, show_default=True, help="spindle speed, rpm")
@click.option("--stock-top", type=float, help="top of the block, mm above the table [default: mesh top + 1]")
@click.option("--allowance", type=float, default=0.5, show_default=True, help="material roughing leaves on the surface, mm")
@click.option("--step-down", type=float, default=3.0, show_default=True, help="roughing depth per layer, mm")
@click.option("--rough-stepover", type=float, help="roughing row spacing, mm [default: 40% of the diameter]")
@click.option("--safe-z", type=float, help="retract height for rapid moves, mm [default: stock top + 5]")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="toolpath report, JSON [default: <output stem>.cam.json]")
@click.option("--preview", "preview_path", type=click.Path(path_type=Path), help="also draw the toolpath over the insert (PNG)")
@click.option("-q", "--quiet", is_flag=True, help="no summary on stderr")
def cam(mesh, output, tool, tool_diameter, stepover, feed, plunge_feed, spindle, stock_top, allowance, step_down, rough_stepover,
        safe_z, report_path, preview_path, quiet):
    """3-axis milling G-code for an insert mesh: raster roughing, then a ball-end finish of the top."""
    import hashlib
    import json

    from . import export
    from .check import load_mesh
    from .fabrication import mill, toolpath_preview

    if output.suffix.lower() not in mill.GCODE_SUFFIXES:
        raise InputError(f"{output}: unknown G-code suffix '{output.suffix}'; use one of {', '.join(mill.GCODE_SUFFIXES)}")
    if preview_path is not None:
        if preview_path.suffix.lower() != ".png":
            raise InputError(f"--preview {preview_path}: the toolpath preview is a PNG; name it FILE.png")
        toolpath_preview.check_available()
    loaded = load_mesh(mesh)
    options = mill.MillOptions(tool=tool, tool_diameter_mm=tool_diameter, stepover_mm=stepover, feed_mm_per_min=feed,
                               plunge_feed_mm_per_min=plunge_feed, spindle_rpm=spindle, stock_top_mm=stock_top,
                               allowance_mm=allowance, safe_z_mm=safe_z, step_down_mm=step_down, rough_stepover_mm=rough_stepover)
    sha = hashlib.sha256(Path(mesh).read_bytes()).hexdigest()
    text, doc = mill.mill_program(loaded.vertices, loaded.faces, options, mesh_name=Path(mesh).name, mesh_sha256=sha)
    picture = toolpath_preview.png(loaded.vertices, loaded.faces, text, doc) if preview_path else None
    report_path = report_path or output.with_name(f"{output.stem}.cam.json")
    # the program, its report and its picture are delivered together or not at all
    export.write_all(((output, text.encode()), (report_path, (json.dumps(doc, indent=2) + "\n").encode()), (preview_path, picture)))
    if not quiet:
        click.echo(mill.summary(str(output), doc), err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on; another machine can reach the app only if you change it")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="open the page in the default browser")
def serve(host, port, open_browser):
    """A local web app: upload an outline, set the prescription, see and download the insert (needs insolegen[web])."""
    from .web.server import serve as run

    run(host, port, open_browser)


def _return_freed_memory() -> None:
    """Keep glibc's mmap threshold at 128 KiB. By default it rises after the first large array
    is freed, and later arrays then come from a heap that is seldom given back: a 0.25 mm
    build would peak some 40 MB higher. Elsewhere (no glibc) nothing changes."""
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(-3, 128 * 1024)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError, TypeError):
        pass


@cli.command(name="pressure")
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="the peak-pressure map, PNG (needs the preview extra)")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="the analysis, JSON [default: printed]")
@click.option("--side", type=click.Choice(["auto", "left", "right"]), default="auto", show_default=True,
              help="in-shoe pair: the insole to analyse (auto: the more loaded); plate: the foot's side (auto: from the load)")
@click.option("--step", type=click.IntRange(min=1), help="plate: the step to analyse [default: the most complete]; in-shoe: the stance phase [default: all]")
def pressure_cmd(recording, output, report_path, side, step):
    """Analyse a plantar pressure recording (emed .lst, pliance .asc, F-Scan .asf, XSENSOR .csv)."""
    import json

    from . import export, pressure
    from .pressure import picture

    if output is not None and output.suffix.lower() != ".png":
        raise InputError(f"{output}: the pressure map is a PNG; name it FILE.png")
    analysis = pressure.analyse(pressure.read(recording, side=side, step=step, relabel=True))
    doc = (json.dumps(analysis.report(), indent=2) + "\n").encode()
    image = picture.png(analysis) if output else None
    export.write_all(((output, image), (report_path, doc)))  # the map and the report together or not at all
    if report_path is None:
        click.echo(doc.decode(), nl=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps bad input to one stderr line and exit 2."""
    _return_freed_memory()
    try:
        cli.main(args=argv, prog_name="insolegen", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        print("insolegen: interrupted; no output file was left half-written", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        print(f"insolegen: error: {exc.format_message()}".replace("\n", " "), file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"insolegen: error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("insolegen: interrupted; no output file was left half-written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
