"""The JSON report beside each mesh, and its human summary."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import __version__


def build_key(outline_sha256: str, rx_json: str, side: str, resolution: float, extra: str = "") -> str:
    """sha256 over everything that decides the mesh: same key, same bytes."""
    text = "|".join([__version__, outline_sha256, rx_json, side, repr(resolution), extra])
    return hashlib.sha256(text.encode()).hexdigest()


def make_report(insert, mesh_path: Path, *, keep_input_frame: bool = False, build_key: str = "") -> dict:
    """Everything SPEC.md lists for the report, measured on the built mesh."""
    outline = insert.outline
    doc = {
        "tool": "insolegen",
        "version": __version__,
        "mesh": str(mesh_path),
        "format": mesh_path.suffix.lower().lstrip("."),
        "units": "mm",
        "build_key": build_key,
        "input": {
            "outline": outline.source,
            "sha256": outline.sha256,
            "kind": outline.kind,
            "foot_length_mm": round(outline.length_mm, 3),
            "foot_width_mm": round(outline.width_mm, 3),
        },
        "side": outline.side,
        "resolution_mm": insert.resolution_mm,
        "prescription": insert.prescription.model_dump(mode="json"),
        "transform_input_to_output": [[round(float(v), 9) for v in row] for row in outline.transform],
        "keep_input_frame": keep_input_frame,
        "landmarks": insert.marks.as_dict(),
        "qa": insert.qa(),
        "warnings": insert.warnings,
        "build_seconds": round(insert.build_seconds, 4),
    }
    if outline.cast is not None:
        doc["scan"] = scan_section(insert)
    if insert.prescription.device.type == "shell":
        from .construct.as_built import shell_as_built

        doc["shell"] = shell_as_built(insert)
    if outline.load is not None:
        doc["pressure"] = pressure_section(insert)
    return doc


def pressure_section(insert) -> dict:
    """A build from load's ``pressure`` section: the analysis (SPEC's keys) in the insert's frame,
    the registration, the recess as built and the zones' loads."""
    from .pressure import grading

    load, p = insert.outline.load, insert.prescription.pressure
    doc = load.report()
    recess = insert.fields["pressure_offload"]
    doc["offload"] = {
        "threshold_kpa": p.offload_kpa,
        "sensors_over": int(len(load.hot(p.offload_kpa))) if p.offload_kpa is not None else 0,
        "depth_mm": round(max(0.0, -float(recess.min())), 4),
        "full_depth_within_mm": round(load.reach_mm(p.offload_margin_mm)[0], 3),
        "wall_mm": round(load.reach_mm(p.offload_margin_mm)[1], 3),
    }
    doc["zone_peak_kpa"] = {name: round(v, 2) for name, v in grading.zone_loads(insert).items()}
    return doc


def scan_section(insert) -> dict:
    """A scan build's ``scan`` section: the file, units and side found, the scan-to-output
    transform, the fit, the arch as scanned, what was trimmed, and the cast modifications as built."""
    facts = dict(insert.outline.cast.facts)
    facts["transform_scan_to_output"] = [[round(float(v), 9) for v in row] for row in insert.outline.transform]
    facts["as_built"] = {
        "arch_fill_mm": round(max(0.0, -float(insert.fields["arch_fill"].min())), 4),
        "heel_expansion_mm": insert.outline.cast.heel_expansion_mm,
    }
    from .scan.fair import for_top
    from .scan.rim import as_built

    facts["rim"] = as_built(insert)
    facts["fairing"] = for_top(insert.outline, insert.marks, insert.prescription).figures
    return facts


def summary(report: dict) -> str:
    """A few lines for a person reading the terminal."""
    qa, built, rx = report["qa"], report["qa"]["as_built"], report["prescription"]
    bodies = max(1, len((report.get("shell") or {}).get("parts", [])))  # a shell's extrinsic post is a body of its own
    ok = qa["watertight"] and qa["winding_consistent"] and qa["bodies"] == bodies and qa["manifold3d"] == "NoError"
    # A scan build's arch is the foot's own (its scan line below says so), not arch.height_mm.
    arch = "" if report.get("scan") else (
        f"arch {built['arch']['height_mm']:.2f} mm at {built['arch']['at_pct_length']:.0f}% "
        f"(prescribed {rx['arch']['height_mm']:g}); "
    )
    lines = [
        f"{report['mesh']}: {report['side']} insert, {qa['faces']} faces, {qa['volume_mm3'] / 1000:.1f} cm3, "
        f"{'watertight and valid' if ok else 'NOT VALID'}",
        f"  thickness {qa['min_thickness_mm']:.2f}-{qa['max_thickness_mm']:.2f} mm; {arch}"
        f"heel lift {built['heel_lift_mm']:.2f} mm (prescribed {rx['heel_lift']['height_mm']:g})",
    ]
    if rx["met_pad"]["enabled"]:
        lines.append(
            f"  metatarsal pad {built['met_pad']['height_mm']:.2f} mm, "
            f"{built['met_pad']['behind_met_line_mm']:.1f} mm behind the head line"
        )
    lab = [
        f"{name.replace('_', ' ')} {built[name]['height_mm']:.2f} mm"
        for name in ("skive", "met_bar", "morton_extension", "reverse_morton", "first_ray_cutout", "cuboid_pad",
                     "navicular_pad", "heel_spur", "flange")
        if built.get(name) and built[name]["height_mm"] != 0
    ]
    if built.get("forefoot_post_deg"):
        lab.append(f"forefoot post {built['forefoot_post_deg']:.1f} deg")
    if built.get("top_cover_mm"):
        lab.append(f"top cover {built['top_cover_mm']:.2f} mm")
    if built.get("distal_edge_max_thickness_mm") is not None:
        lab.append(f"distal edge {built['distal_edge_max_thickness_mm']:.2f} mm")
    if lab:
        lines.append("  lab: " + ", ".join(lab))
    shell = report.get("shell")
    if shell:
        nt, trim, post = shell["normal_thickness"], shell["trim_edge"], shell["post"]
        line = (f"  shell {shell['material']}: normal thickness min/P5/P50/P95 {nt['min_mm']:.2f}/{nt['p5_mm']:.2f}/"
                f"{nt['p50_mm']:.2f}/{nt['p95_mm']:.2f} mm (prescribed {nt['prescribed_mm']:g})")
        if trim:
            line += f"; trim edge {trim['behind_mtpj1_mm']:.1f} / {trim['behind_mtpj5_mm']:.1f} mm behind the 1st / 5th head"
        lines.append(line)
        if post:
            lines.append(f"  {post['kind']} post: {post['rearfoot_deg']:.1f} deg, motion {post['motion_deg']:.1f} deg, "
                         f"flat to {post['flat_end_pct']:.1f}% ({post['flat_end_mm']:.1f} mm), bottom plane residual "
                         f"{post['bottom_plane_residual_mm']:.3f} mm")
    scan = report.get("scan")
    if scan:
        fit = scan["fit_residuals_mm"]
        lines.append(
            f"  scan {scan['file']}: {scan['units']}, {scan['side']} foot ({scan['side_from']}); fit P50/P95/max "
            f"{fit['p50']:.2f}/{fit['p95']:.2f}/{fit['max']:.2f} mm; arch as scanned {scan['arch_height_mm']:.1f} mm "
            f"(arch.height_mm ignored); arch fill {scan['as_built']['arch_fill_mm']:.2f} mm"
        )
        faired = scan["fairing"]
        if faired["most_mm"] > 0:
            lines.append(f"  faired: creases at 0.5 mm {faired['crease_before_deg']:.1f} -> {faired['crease_after_deg']:.1f} degrees "
                         f"(limit 10); {faired['changed_cm2']:.2f} cm2 moved over 0.05 mm, {faired['most_mm']:.2f} mm at most")
    load = report.get("pressure")
    if load:
        reg, off = load["registration"], load["offload"]
        from_load = [name for name, mark in report["landmarks"].items() if isinstance(mark, dict) and mark.get("source") == "pressure"]
        lines.append(
            f"  pressure {load['system']} {load['side']}: peak {load['peak_kpa']:.0f} kPa; {reg['method']} on the outline"
            + (f" (residual {reg['residual_mm']:.2f} mm)" if reg["method"] == "matched" else "")
            + (f", mirrored onto the {report['side']} insert" if reg["mirrored"] else "")
            + f"; landmarks from load: {', '.join(from_load) or 'none'}"
            + (f"; recess {off['depth_mm']:.2f} mm under {off['sensors_over']} sensors over {off['threshold_kpa']:g} kPa"
               if off["threshold_kpa"] is not None else "")
        )
    return "\n".join(lines)


def encode(report: dict) -> bytes:
    return (json.dumps(report, indent=2) + "\n").encode()
