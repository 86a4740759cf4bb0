"""The orthotic prescription: every field the product contract names, validated strictly.

Field names carry their unit. Defaults and ranges come from ``CLINICAL.md``: the whole
clinical range is accepted, values past the usual ones give a warning, not an error.
"""

from __future__ import annotations

import json
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


class HeelCup(_Section):
    depth_mm: float = Field(12.0, ge=0.0, le=30.0, description="how far the rim rises around the heel, mm")


class Posting(_Section):
    rearfoot_deg: float = Field(
        0.0, ge=-10.0, le=10.0, description="rearfoot post; positive tilts the heel seat up on the medial side (varus)"
    )


class Landmarks(_Section):
    """Landmark positions in % of foot length from the heel (CLINICAL.md); override per patient."""

    heel_centre_pct: float = Field(13.5, ge=8.0, le=20.0, description="weight-bearing centre of the heel")
    mtpj1_pct: float = Field(73.0, ge=65.0, le=80.0, description="1st metatarsal head (medial ball of the foot)")
    mtpj5_pct: float = Field(64.0, ge=55.0, le=72.0, description="5th metatarsal head (lateral)")
    sulcus_pct: float = Field(80.0, ge=74.0, le=88.0, description="toe crease, where a sulcus-length insert ends")


class Cast(_Section):
    """Cast (scan) modifications of a scan build (CLINICAL.md, the lab's form)."""

    balance: bool = Field(True, description="heel levelled across, lowest heel and forefoot points on the base thickness")
    inversion_deg: float = Field(0.0, ge=0.0, le=35.0, description="inverted-cast technique: the cast turned medial side up about the long axis, degrees")
    arch_fill_mm: float = Field(0.0, ge=0.0, le=10.0, description="arch fill: the medial arch lowered by this much at its apex, mm (lab values 1.6, 3.2, 6.4)")
    heel_expansion_mm: float = Field(0.0, ge=0.0, le=10.0, description="heel seat widened: the outline grows by this much around the heel, mm")


class Scan(_Section):
    """How a foot scan becomes an outline."""

    trim_height_mm: float = Field(20.0, ge=5.0, le=60.0, description="the outline is the sole's footprint below this height above its lowest point, mm")


class Prescription(_Section):
    """The full prescription. ``Prescription()`` is the default general-support insert."""

    shell: Shell = Field(default_factory=Shell)
    arch: Arch = Field(default_factory=Arch)
    met_pad: MetPad = Field(default_factory=MetPad)
    heel_lift: HeelLift = Field(default_factory=HeelLift)
    heel_cup: HeelCup = Field(default_factory=HeelCup)
    posting: Posting = Field(default_factory=Posting)
    landmarks: Landmarks = Field(default_factory=Landmarks)
    cast: Cast = Field(default_factory=Cast)
    scan: Scan = Field(default_factory=Scan)

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
        return self

    def warnings(self) -> list[str]:
        """Values inside the accepted range but past the usual clinical ones."""
        usual = [
            ("arch.height_mm", self.arch.height_mm, 0.0, 15.0),
            ("arch.apex_pct", self.arch.apex_pct, 38.0, 50.0),
            ("met_pad.height_mm", self.met_pad.height_mm if self.met_pad.enabled else 5.0, 3.0, 7.0),
            ("met_pad.offset_mm", self.met_pad.offset_mm if self.met_pad.enabled else 8.0, 5.0, 10.0),
            ("heel_lift.height_mm", self.heel_lift.height_mm, 0.0, 12.0),
            ("posting.rearfoot_deg", self.posting.rearfoot_deg, -8.0, 8.0),
            ("cast.arch_fill_mm", self.cast.arch_fill_mm, 0.0, 6.4),
            ("cast.heel_expansion_mm", self.cast.heel_expansion_mm, 0.0, 4.0),
        ]
        return [
            f"{name} = {value:g} is past the usual {lo:g} to {hi:g}; check the prescription"
            for name, value, lo, hi in usual
            if not lo <= value <= hi
        ]


FIELDS: dict[str, tuple[type[BaseModel], str]] = {
    f"{section}.{name}": (Prescription.model_fields[section].default_factory, name)  # type: ignore[misc]
    for section in Prescription.model_fields
    for name in Prescription.model_fields[section].default_factory.model_fields  # type: ignore[union-attr]
}
"""Every dotted field name, e.g. ``"arch.height_mm"``."""


def _describe(err: dict[str, Any], source: str) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    where = f"{source}: " if source else ""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "extra_forbidden":
        return f"{where}unknown field '{loc}'; known fields: {', '.join(sorted(FIELDS))}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        section, _, name = loc.partition(".")
        field = Prescription.model_fields[section].default_factory.model_fields[name]  # type: ignore[union-attr]
        lo = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), None)
        hi = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), None)
        return f"{where}{loc} = {value!r} is out of range; allowed {lo:g} to {hi:g}"
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
    """The raw nested dict of a profile, its ``description`` key removed."""
    data = _load_toml(profile_path(name_or_file))
    data.pop("description", None)
    return data


def profile_description(name: str) -> str:
    return str(_load_toml(profile_path(name)).get("description", ""))


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
        section, name = key.split(".")
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise InputError(f"{source}: '{section}' must be a table of fields, not {out[section]!r}")
        if isinstance(value, int) and not isinstance(value, bool) and FIELDS[key][0].model_fields[name].annotation is float:
            value = float(value)
        out[section][name] = value
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
