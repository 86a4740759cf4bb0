"""The orthotic prescription: every field the product contract names, validated strictly.

Field names carry their unit. Defaults and ranges come from ``CLINICAL.md``: the whole
clinical range is accepted, values past the usual ones give a warning, not an error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError

PROFILE_DIR = Path(__file__).parent / "profiles"
MAX_PAD_STEEPNESS = 0.065  # greatest pad height / (smaller half-size)^2, 1/mm
PAD_FRONT_SHARE = 0.45  # of the pad's length ahead of its apex: the wide, rounded end


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


class Shell(_Section):
    thickness_mm: float = Field(3.0, ge=1.5, le=12.0, description="base thickness of the plain insert under the forefoot, mm")
    min_thickness_mm: float = Field(2.0, ge=1.0, le=10.0, description="the least thickness anywhere, mm")
    length: Literal["full", "sulcus", "three_quarter"] = Field(
        "full", description="full length, to the toe crease (sulcus), or trimmed behind the metatarsal heads"
    )
    distal_taper_mm: float = Field(
        0.0, ge=0.0, le=30.0, description="the last N mm of the distal edge taper to shell.min_thickness_mm, mm (0: no taper)"
    )


class Arch(_Section):
    height_mm: float = Field(10.0, ge=0.0, le=25.0, description="medial arch support height at its apex above the shell, mm")
    apex_pct: float = Field(42.0, ge=30.0, le=60.0, description="arch apex position, % of foot length from the heel")


class MetPad(_Section):
    enabled: bool = Field(False, description="metatarsal (neuroma) pad on or off")
    height_mm: float = Field(5.0, ge=0.0, le=10.0, description="pad height at its apex, mm")
    offset_mm: float = Field(8.0, ge=0.0, le=20.0, description="how far the apex sits behind the metatarsal-head line, mm")
    length_mm: float = Field(30.0, ge=20.0, le=45.0, description="pad length along the metatarsals, mm")
    width_mm: float = Field(22.0, ge=18.0, le=30.0, description="pad width across the metatarsals, mm")
    across_pct: float = Field(
        45.0, ge=30.0, le=70.0,
        description="apex position along the metatarsal-head line, % from the 1st (0) to the 5th (100) head",
    )


class HeelLift(_Section):
    height_mm: float = Field(0.0, ge=0.0, le=20.0, description="heel lift for a leg-length difference, mm")
    forefoot_fraction: float = Field(
        0.0, ge=0.0, le=1.0,
        description="share of the lift kept under the forefoot (0: heel-only lift, 0.5: a full-length lift half as high at the ball)",
    )
    profile: Literal["heel", "full_length"] = Field(
        "heel", description="heel: taper to nothing before the heads; full_length: half the lift at the heads and on to the toe"
    )


class HeelCup(_Section):
    depth_mm: float = Field(12.0, ge=0.0, le=30.0, description="how far the rim rises around the heel, mm")


class Posting(_Section):
    rearfoot_deg: float = Field(
        0.0, ge=-10.0, le=10.0, description="rearfoot post; positive tilts the heel seat up on the medial side (varus)"
    )
    rearfoot_motion_deg: float = Field(
        0.0, ge=0.0, le=8.0,
        description="rearfoot post motion ('4/4'), degrees: the post's tilt eased by this much under the back of the heel",
    )
    forefoot_deg: float = Field(
        0.0, ge=-10.0, le=10.0, description="forefoot post, degrees: the forefoot seat tilted about the long axis, positive = medial side up (varus)"
    )
    forefoot_extent: Literal["sulcus", "toes"] = Field("sulcus", description="the forefoot post runs to the toe crease or to the toes")


class Landmarks(_Section):
    """Landmark positions in % of foot length from the heel (CLINICAL.md); override per patient."""

    heel_centre_pct: float = Field(13.5, ge=8.0, le=20.0, description="weight-bearing centre of the heel")
    mtpj1_pct: float = Field(73.0, ge=65.0, le=80.0, description="1st metatarsal head (medial ball of the foot)")
    mtpj5_pct: float = Field(64.0, ge=55.0, le=72.0, description="5th metatarsal head (lateral)")
    sulcus_pct: float = Field(80.0, ge=74.0, le=88.0, description="toe crease, where a sulcus-length insert ends")
    navicular_pct: float = Field(40.0, ge=34.0, le=50.0, description="navicular tuberosity (medial, just behind the arch apex)")
    cuboid_pct: float = Field(34.0, ge=26.0, le=42.0, description="cuboid (lateral midfoot)")
    calcaneal_tubercle_pct: float = Field(13.0, ge=8.0, le=20.0, description="medial calcaneal tubercle (heel spur site)")
    hallux_pct: float = Field(92.0, ge=84.0, le=97.0, description="hallux (big toe) pad")


class Skive(_Section):
    """Kirby heel skive: a varus (medial) or valgus (lateral) wedge under the plantar heel."""

    medial_mm: float = Field(0.0, ge=0.0, le=8.0, description="medial heel skive depth: the medial plantar heel raised by this much, mm")
    lateral_mm: float = Field(0.0, ge=0.0, le=8.0, description="lateral heel skive depth, mm")
    diameter_mm: float = Field(30.0, ge=20.0, le=40.0, description="diameter of the skived disc under the heel, mm")


class MetBar(_Section):
    enabled: bool = Field(False, description="metatarsal bar on or off: a ridge across the foot just behind the 2nd-5th heads")
    height_mm: float = Field(4.0, ge=0.0, le=8.0, description="bar height at its crest, mm")


class MortonExtension(_Section):
    height_mm: float = Field(0.0, ge=0.0, le=6.0, description="raise under the 1st metatarsal head and the hallux to the toe, mm")


class ReverseMorton(_Section):
    height_mm: float = Field(0.0, ge=0.0, le=6.0, description="raise under the 2nd-5th metatarsal heads and toes, the 1st left free, mm")


class FirstRayCutout(_Section):
    depth_mm: float = Field(0.0, ge=0.0, le=6.0, description="recess under the 1st metatarsal head, mm")


class CuboidPad(_Section):
    height_mm: float = Field(0.0, ge=0.0, le=6.0, description="pad under the cuboid (lateral midfoot), mm")


class NavicularPad(_Section):
    height_mm: float = Field(0.0, ge=0.0, le=6.0, description="pad under the navicular tuberosity (medial, behind the arch apex), mm")


class HeelSpur(_Section):
    depth_mm: float = Field(0.0, ge=0.0, le=6.0, description="recess under the medial calcaneal tubercle, mm")
    diameter_mm: float = Field(30.0, ge=20.0, le=40.0, description="diameter of the heel spur recess, mm")


class Flange(_Section):
    medial_mm: float = Field(0.0, ge=0.0, le=20.0, description="medial midfoot rim raised by this much, mm")
    lateral_mm: float = Field(0.0, ge=0.0, le=20.0, description="lateral midfoot rim raised by this much, mm")


class TopCover(_Section):
    thickness_mm: float = Field(0.0, ge=0.0, le=5.0, description="top cover layer thickness, mm (0: none)")
    extent: Literal["sulcus", "toes"] = Field("toes", description="the top cover runs to the toe crease or to the toes")


# The thinnest shell each material makes (CLINICAL.md, "Functional shells and posts": graphite
# 1-2 mm, fibreglass 2-3, polypropylene and polyethylene 2-9; printed PA12 holds a 1.5 mm sheet).
SHELL_MATERIAL_MIN_MM = {"polypropylene": 2.0, "polyethylene": 2.0, "fibreglass": 2.0, "carbon": 1.0, "nylon": 1.5}


class Device(_Section):
    """What is built: a solid insert, or a functional shell (a sheet following the top)."""

    type: Literal["solid", "shell"] = Field(
        "solid", description="solid: filled down to a flat bottom; shell: a sheet shell.thickness_mm thick along the normal")
    material: Literal["polypropylene", "polyethylene", "fibreglass", "carbon", "nylon"] = Field(
        "polypropylene", description="the shell's material, which sets the thinnest sheet it makes")


class Post(_Section):
    """The rearfoot post under a shell."""

    rearfoot: Literal["none", "intrinsic", "extrinsic"] = Field(
        "none", description="none; intrinsic (the shell's material, one body) or extrinsic (its own body in a 3MF)")
    length_pct: float = Field(30.0, ge=20.0, le=45.0, description="the post's flat bottom ends here, % of foot length; then a bevel")
    thickness_mm: float = Field(3.0, ge=1.5, le=10.0, description="the post at its thinnest under the heel seat, mm")


class Zone(_Section):
    infill_pct: float | None = Field(
        None, ge=0.0, le=100.0,
        description="infill density printed in this zone, %; unset: no zone, the slicer's own density",
    )
    density_pct: float | None = Field(
        None, ge=10.0, le=60.0,
        description="relative density of a gyroid lattice's core in this zone, %; unset: lattice.density_pct",
    )


class Zones(_Section):
    """Print zones: a PrusaSlicer modifier volume in the 3MF for each zone given an infill."""

    heel: Zone = Field(default_factory=Zone, description="heel seat, behind 30% of foot length")
    arch: Zone = Field(default_factory=Zone, description="midfoot, from 30% of foot length to the metatarsal-head line")
    forefoot: Zone = Field(default_factory=Zone, description="from the metatarsal-head line forward")
    met_pad: Zone = Field(default_factory=Zone, description="the metatarsal pad's footprint (where the pad sits, on or off)")


class Lattice(_Section):
    """A printed gyroid lattice for powder-bed and resin printers (SPEC "Printed lattices")."""

    type: Literal["none", "gyroid"] = Field("none", description="none: a solid insert; gyroid: a TPMS sheet lattice under a closed skin")
    skin_mm: float = Field(1.2, ge=0.8, le=3.0, description="top skin and rim wall thickness over the lattice, mm")
    bottom: Literal["open", "skin"] = Field(
        "open", description="open: the lattice open underneath (powder and resin drain); skin: closed, with drain holes"
    )
    cell_mm: float = Field(10.0, ge=6.0, le=20.0, description="gyroid cell size, mm")
    density_pct: float = Field(25.0, ge=10.0, le=60.0, description="relative density of the lattice core, % (zones.<name>.density_pct per zone)")
    min_wall_mm: float = Field(0.8, ge=0.3, le=3.0, description="thinnest sheet the printer makes, mm (PA12 on SLS/MJF: 0.8)")


class Shoe(_Section):
    """The shoe's insole board, which the bottom follows (flat by default, as a mill wants)."""

    heel_pitch_mm: float = Field(
        0.0, ge=0.0, le=40.0,
        description="heel seat raised above the ball by the shoe's heel, mm; falls smoothly to 0 at the ball",
    )
    toe_spring_mm: float = Field(
        0.0, ge=0.0, le=25.0, description="rise of the board at the toe tip, from 0 at the toe crease (sulcus), mm"
    )


class Cast(_Section):
    """Cast (scan) modifications of a scan build (CLINICAL.md, the lab's form)."""

    balance: bool = Field(True, description="heel levelled across, lowest heel and forefoot points on the base thickness")
    inversion_deg: float = Field(0.0, ge=0.0, le=35.0, description="inverted-cast technique: the cast turned medial side up about the long axis, degrees")
    arch_fill_mm: float = Field(0.0, ge=0.0, le=10.0, description="arch fill: the medial arch lowered by this much at its apex, mm (lab values 1.6, 3.2, 6.4)")
    heel_expansion_mm: float = Field(0.0, ge=0.0, le=10.0, description="heel seat widened: the outline grows by this much around the heel, mm")


class Scan(_Section):
    """How a foot scan becomes an outline."""

    trim_height_mm: float = Field(20.0, ge=5.0, le=60.0, description="the outline is the sole's footprint below this height above its lowest point, mm")
    rim_mm: float = Field(5.0, ge=0.0, le=60.0, description="the lateral border and the forefoot ahead of the heads rise at most this far above the seat beside them, mm")


class Pressure(_Section):
    """Design from a plantar pressure recording (``build --pressure FILE``)."""

    offload_kpa: float | None = Field(
        None, gt=0.0, le=2000.0,
        description="recess the top under every region of the peak-pressure map above this, kPa (200: the diabetic-foot "
                    "in-shoe target); unset: no recess",
    )
    offload_depth_mm: float = Field(3.0, ge=0.5, le=10.0, description="depth of the pressure-relief recess, mm")
    offload_margin_mm: float = Field(5.0, ge=0.0, le=10.0, description="the recess reaches this far past the sensors above offload_kpa, mm")
    grade_zones: bool = Field(
        False, description="print zones' infill from the load (the most loaded zone softest); zones set by hand are kept",
    )


class Prescription(_Section):
    """The full prescription. ``Prescription()`` is the default general-support insert."""

    shell: Shell = Field(default_factory=Shell)
    arch: Arch = Field(default_factory=Arch)
    met_pad: MetPad = Field(default_factory=MetPad)
    heel_lift: HeelLift = Field(default_factory=HeelLift)
    heel_cup: HeelCup = Field(default_factory=HeelCup)
    posting: Posting = Field(default_factory=Posting)
    landmarks: Landmarks = Field(default_factory=Landmarks)
    skive: Skive = Field(default_factory=Skive)
    met_bar: MetBar = Field(default_factory=MetBar)
    morton_extension: MortonExtension = Field(default_factory=MortonExtension)
    reverse_morton: ReverseMorton = Field(default_factory=ReverseMorton)
    first_ray_cutout: FirstRayCutout = Field(default_factory=FirstRayCutout)
    cuboid_pad: CuboidPad = Field(default_factory=CuboidPad)
    navicular_pad: NavicularPad = Field(default_factory=NavicularPad)
    heel_spur: HeelSpur = Field(default_factory=HeelSpur)
    flange: Flange = Field(default_factory=Flange)
    top_cover: TopCover = Field(default_factory=TopCover)
    zones: Zones = Field(default_factory=Zones)
    lattice: Lattice = Field(default_factory=Lattice)
    shoe: Shoe = Field(default_factory=Shoe)
    cast: Cast = Field(default_factory=Cast)
    scan: Scan = Field(default_factory=Scan)
    device: Device = Field(default_factory=Device)
    post: Post = Field(default_factory=Post)
    pressure: Pressure = Field(default_factory=Pressure)

    @model_validator(mode="after")
    def _consistent(self) -> "Prescription":
        if self.shell.thickness_mm < self.shell.min_thickness_mm:
            raise ValueError(
                f"shell.thickness_mm {self.shell.thickness_mm:g} is below shell.min_thickness_mm "
                f"{self.shell.min_thickness_mm:g}; raise the thickness or lower the minimum"
            )
        pad = self.met_pad
        # Steeper domes bend more than 10 degrees between faces at 0.5 mm (cos^2 peak curvature 4.93 h/r^2).
        radius = min(pad.width_mm / 2, PAD_FRONT_SHARE * pad.length_mm)
        if pad.enabled and pad.height_mm > MAX_PAD_STEEPNESS * radius**2:
            raise ValueError(
                f"met_pad.height_mm {pad.height_mm:g} is too high for a {pad.width_mm:g} x {pad.length_mm:g} mm pad; "
                f"lower it to {MAX_PAD_STEEPNESS * radius**2:.1f} mm or make the pad wider and longer"
            )
        if self.landmarks.mtpj5_pct >= self.landmarks.mtpj1_pct:
            raise ValueError("landmarks.mtpj5_pct must be below landmarks.mtpj1_pct (the 5th head sits behind the 1st)")
        if self.landmarks.sulcus_pct <= self.landmarks.mtpj1_pct:
            raise ValueError("landmarks.sulcus_pct must lie beyond landmarks.mtpj1_pct")
        for problem in self._lab_conflicts():
            raise ValueError(problem)
        for problem in self._device_conflicts():
            raise ValueError(problem)
        if self.lattice.type != "none":
            self._check_lattice_walls()
        return self

    def _device_conflicts(self) -> list[str]:
        """A post without a shell to stand on it, a sheet thinner than its material makes, a recess that leaves too little sheet."""
        out = []
        if self.device.type == "solid" and self.post.rearfoot != "none":
            out.append(f"post.rearfoot = {self.post.rearfoot} needs a shell to stand on it: a solid insert is its own post; "
                       "set device.type=shell or post.rearfoot=none")
        floor = SHELL_MATERIAL_MIN_MM[self.device.material]
        if self.device.type == "shell" and self.shell.thickness_mm < floor:
            out.append(f"shell.thickness_mm {self.shell.thickness_mm:g} is thinner than a {self.device.material} shell can be "
                       f"made; use {floor:g} mm or more, or another device.material")
        if self.device.type == "shell":
            # The board bends a solid insert's bottom; a shell has no bottom of its own to bend (SPEC: its post stands flat).
            for name, value in self._bent_board():
                out.append(f"{name} {value:g} bends a solid insert's bottom to the shoe's insole board; a shell stands on its "
                           f"flat post or its own underside: set {name}=0 or device.type=solid")
        if self.device.type == "shell":  # a recess thins the sheet (its underside does not follow it)
            for name, depth in (("first_ray_cutout.depth_mm", self.first_ray_cutout.depth_mm), ("heel_spur.depth_mm", self.heel_spur.depth_mm)):
                if self.shell.thickness_mm - depth < self.shell.min_thickness_mm:
                    out.append(f"{name} {depth:g} leaves {self.shell.thickness_mm - depth:g} mm of the {self.shell.thickness_mm:g} mm "
                               f"shell under the recess, below shell.min_thickness_mm {self.shell.min_thickness_mm:g}; make it at most "
                               f"{self.shell.thickness_mm - self.shell.min_thickness_mm:g} mm or raise shell.thickness_mm")
        return out

    def _bent_board(self) -> list[tuple[str, float]]:
        """(field, value) of each ``shoe.*`` bend asked (over 0)."""
        return [(name, value) for name, value in (("shoe.heel_pitch_mm", self.shoe.heel_pitch_mm),
                                                  ("shoe.toe_spring_mm", self.shoe.toe_spring_mm)) if value > 0]

    def _check_lattice_walls(self) -> None:
        """A density and cell size whose sheet would be thinner than the printer's least wall."""
        from .construct import gyroid

        lat = self.lattice
        if self.device.type != "solid":
            raise ValueError(f"lattice.type = {lat.type} fills a solid insert's core; set device.type=solid or lattice.type=none")
        bent = ", ".join(f"{name} {value:g}" for name, value in self._bent_board())
        if lat.bottom == "open" and bent:
            # Cut by the slope, the sheet's foot measures 0.57-0.70 mm one mesh step above it; over a skin it is whole.
            raise ValueError(f"lattice.bottom = open on a bent board ({bent}) leaves walls under lattice.min_wall_mm "
                             "where the slope cuts the sheet; set lattice.bottom=skin (drained through holes) or a flat board")
        asked = [("lattice.density_pct", lat.density_pct)] + [
            (f"zones.{name}.density_pct", zone.density_pct)
            for name, zone in self.zones if zone.density_pct is not None
        ]
        for name, pct in asked:
            wall = float(gyroid.wall_for(pct / 100, lat.cell_mm))
            if wall < lat.min_wall_mm:
                least = float(gyroid.density_of(lat.min_wall_mm, lat.cell_mm)) * 100
                cell = lat.min_wall_mm / wall * lat.cell_mm
                cell = math.ceil(cell * 10) / 10
                bigger = f", or lattice.cell_mm {cell:g} or more" if cell <= Lattice.model_fields["cell_mm"].metadata[1].le else ""
                raise ValueError(
                    f"{name} {pct:g} at lattice.cell_mm {lat.cell_mm:g} makes {wall:.2f} mm sheets, under "
                    f"lattice.min_wall_mm {lat.min_wall_mm:g}; ask {math.ceil(least * 10) / 10:g} % or more{bigger}"
                )

    def _lab_conflicts(self) -> list[str]:
        """Fields that undo each other: the lab would send the form back."""
        out = []
        if self.morton_extension.height_mm > 0 and self.first_ray_cutout.depth_mm > 0:
            out.append("morton_extension.height_mm and first_ray_cutout.depth_mm fight: one raises the 1st metatarsal "
                       "head, the other recesses it; set one of them to 0")
        if self.morton_extension.height_mm > 0 and self.reverse_morton.height_mm > 0:
            out.append("morton_extension.height_mm and reverse_morton.height_mm fight: one holds the 1st ray up, the other "
                       "lets it drop (together they only lift the forefoot); set one of them to 0")
        if self.skive.medial_mm > 0 and self.skive.lateral_mm > 0:
            out.append("skive.medial_mm and skive.lateral_mm fight: a heel is skived on one side; set one of them to 0")
        motion, post = self.posting.rearfoot_motion_deg, abs(self.posting.rearfoot_deg)
        if motion > post:
            out.append(f"posting.rearfoot_motion_deg {motion:g} is more than the post itself (posting.rearfoot_deg {post:g}); "
                       "the motion left in a post is at most its angle ('4/4')")
        if self.heel_lift.profile == "full_length" and self.heel_lift.forefoot_fraction > 0:
            out.append("heel_lift.profile = full_length keeps half the lift under the forefoot; leave "
                       "heel_lift.forefoot_fraction at 0 or use profile = heel with the fraction you want")
        return out

    def lab_warnings(self) -> list[str]:
        """The lab's rules of thumb (CLINICAL.md), each with its reason."""
        out = []
        skive = max(self.skive.medial_mm, self.skive.lateral_mm)
        # A warning, not an error: a shallower cup is the clinician's call (shoe room), the skive still builds.
        if skive > 0 and self.heel_cup.depth_mm < 14.0:
            out.append(f"a {skive:g} mm heel skive with heel_cup.depth_mm {self.heel_cup.depth_mm:g}: labs ask for a heel cup "
                       "of at least 14 mm so the heel stays on the skive; set heel_cup.depth_mm=14 or more")
        if self.heel_lift.height_mm > 6.0 and self.heel_lift.profile == "heel" and self.heel_lift.forefoot_fraction == 0:
            out.append(f"heel_lift.height_mm {self.heel_lift.height_mm:g} is over 6 mm as a heel-only lift: the foot slides "
                       "forward and the ankle is held in plantarflexion; labs build it full length (heel_lift.profile=full_length)")
        if self.met_pad.enabled and self.reverse_morton.height_mm > 0:
            out.append("met_pad and reverse_morton both work under the 2nd-4th metatarsals: the pad lifts the shafts to "
                       "spread the heads, the reverse Morton's raises the heads themselves; usually one is enough")
        if self.met_pad.enabled and self.met_bar.enabled:
            out.append("met_pad and met_bar both sit behind the metatarsal heads: the bar already lifts every shaft; "
                       "usually one is enough")
        if self.met_bar.enabled and self.reverse_morton.height_mm > 0:
            out.append("met_bar and reverse_morton both raise the 2nd-5th metatarsals: the reverse Morton's lifts the very "
                       "heads the bar offloads; usually one is enough")
        return out

    def warnings(self) -> list[str]:
        """Values inside the accepted range but past the usual clinical ones."""
        usual = [
            ("arch.height_mm", self.arch.height_mm, 0.0, 15.0),
            ("arch.apex_pct", self.arch.apex_pct, 38.0, 50.0),
            ("met_pad.height_mm", self.met_pad.height_mm if self.met_pad.enabled else 5.0, 3.0, 7.0),
            ("met_pad.offset_mm", self.met_pad.offset_mm if self.met_pad.enabled else 8.0, 5.0, 10.0),
            ("heel_lift.height_mm", self.heel_lift.height_mm, 0.0, 12.0),
            ("posting.rearfoot_deg", self.posting.rearfoot_deg, -8.0, 8.0),
            ("posting.forefoot_deg", self.posting.forefoot_deg, -6.0, 6.0),
            ("skive.medial_mm", self.skive.medial_mm, 0.0, 6.0),
            ("skive.lateral_mm", self.skive.lateral_mm, 0.0, 6.0),
            ("met_bar.height_mm", self.met_bar.height_mm if self.met_bar.enabled else 4.0, 3.0, 6.0),
            ("morton_extension.height_mm", self.morton_extension.height_mm, 0.0, 4.0),
            ("flange.medial_mm", self.flange.medial_mm, 0.0, 15.0),
            ("flange.lateral_mm", self.flange.lateral_mm, 0.0, 15.0),
            ("top_cover.thickness_mm", self.top_cover.thickness_mm, 0.0, 3.0),
            ("shoe.heel_pitch_mm", self.shoe.heel_pitch_mm, 0.0, 25.0),
            ("shoe.toe_spring_mm", self.shoe.toe_spring_mm, 0.0, 15.0),
            ("cast.arch_fill_mm", self.cast.arch_fill_mm, 0.0, 6.4),
            ("cast.heel_expansion_mm", self.cast.heel_expansion_mm, 0.0, 4.0),
        ]
        return [
            f"{name} = {value:g} is past the usual {lo:g} to {hi:g}; check the prescription"
            for name, value, lo, hi in usual
            if not lo <= value <= hi
        ] + self.lab_warnings()


def _leaves(model: type[BaseModel], prefix: str = ""):
    """(dotted name, (owning section, field name)) of every field, through nested sections."""
    for name, info in model.model_fields.items():
        inner = info.default_factory
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _leaves(inner, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", (model, name)


FIELDS: dict[str, tuple[type[BaseModel], str]] = dict(_leaves(Prescription))
"""Every dotted field name, e.g. ``"arch.height_mm"`` or ``"zones.heel.infill_pct"``."""


def _describe(err: dict[str, Any], source: str) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    where = f"{source}: " if source else ""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "extra_forbidden":
        return f"{where}unknown field '{loc}'; known fields: {', '.join(sorted(FIELDS))}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        owner, name = FIELDS[loc]
        field = owner.model_fields[name]
        bound = {key: getattr(m, key) for m in field.metadata for key in ("ge", "gt", "le", "lt") if getattr(m, key, None) is not None}
        lo = f"{bound['ge']:g}" if "ge" in bound else f"more than {bound['gt']:g}"  # a strict bound (offload_kpa > 0) said so
        hi = f"{bound['le']:g}" if "le" in bound else f"under {bound['lt']:g}"
        return f"{where}{loc} = {value!r} is out of range; allowed {lo} to {hi}"
    if kind == "literal_error":
        return f"{where}{loc} = {value!r} is not allowed; expected {ctx.get('expected')}"
    if kind == "value_error":
        return f"{where}{err['msg'].removeprefix('Value error, ')}"
    expected = kind.replace("_type", "").replace("_parsing", "")
    return f"{where}{loc or 'prescription'} = {value!r} has the wrong type; expected {expected}"


def validate(data: dict[str, Any], source: str = "") -> Prescription:
    """A :class:`Prescription` from nested ``data``; errors name the field, value and allowed range."""
    try:
        return Prescription.model_validate(data)
    except ValidationError as exc:
        raise InputError(_describe(exc.errors()[0], source)) from None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: profile file not found; give a TOML file or a bundled name ({', '.join(profile_names())})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not a valid TOML prescription ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the profile ({exc.strerror})") from None


def profile_names() -> list[str]:
    """Names of the bundled profiles (``profiles/*.toml``)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def profile_path(name_or_file: str) -> Path:
    """A bundled profile by name, or a TOML file by path."""
    bundled = PROFILE_DIR / f"{name_or_file}.toml"
    return bundled if bundled.is_file() else Path(name_or_file)


def profile_data(name_or_file: str) -> dict[str, Any]:
    """The raw nested dict of a profile, its ``description`` and ``sources`` keys removed."""
    data = _load_toml(profile_path(name_or_file))
    data.pop("description", None)
    data.pop("sources", None)
    return data


def profile_description(name: str) -> str:
    return str(_load_toml(profile_path(name)).get("description", ""))


def profile_sources(name: str) -> list[str]:
    """Where a bundled profile's figures come from (its ``sources`` key)."""
    return [str(s) for s in _load_toml(profile_path(name)).get("sources", [])]


def parse_value(text: str) -> Any:
    """``--set`` value: a TOML/JSON literal (``18``, ``true``, ``"full"``) or a bare word."""
    lowered = text.strip()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return json.loads(lowered)
    except ValueError:
        return lowered


def apply_settings(data: dict[str, Any], settings: dict[str, Any], source: str = "--set") -> dict[str, Any]:
    """Copy of nested ``data`` with dotted ``settings`` (``{"arch.height_mm": 18}``) applied."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for key, value in settings.items():
        if key not in FIELDS:
            raise InputError(f"{source}: unknown prescription field '{key}'; known fields: {', '.join(sorted(FIELDS))}")
        *sections, name = key.split(".")
        table = out
        for depth, section in enumerate(sections):
            inner = table.setdefault(section, {})
            if not isinstance(inner, dict):
                raise InputError(f"{source}: '{'.'.join(sections[: depth + 1])}' must be a table of fields, not {inner!r}")
            table[section] = table = dict(inner)  # a copy: the caller's nested tables stay as they were
        if isinstance(value, int) and not isinstance(value, bool) and FIELDS[key][0].model_fields[name].annotation is float:
            value = float(value)
        table[name] = value
    return out


def resolve(profile: str | None = None, settings: dict[str, Any] | None = None, settings_from: str = "--set") -> Prescription:
    """The prescription from an optional profile (name or TOML path) and dotted overrides.

    settings_from: where the overrides came from, for error messages (``--set``, a manifest row).
    """
    source = str(profile_path(profile)) if profile else ""
    data = profile_data(profile) if profile else {}
    if settings:
        data = apply_settings(data, settings, settings_from)
        source = settings_from if not profile else f"{source} with {settings_from}"
    return validate(data, source or "prescription")


def json_schema() -> dict[str, Any]:
    """The prescription's JSON Schema (units in the names, ranges as minimum/maximum)."""
    return Prescription.model_json_schema()
