"""Plantar pressure recordings (SPEC.md "Plantar pressure: the measured load in the design").

``read(path, side=None, step=None) -> Recording``: one foot's frames in kPa from an emed, pliance,
F-Scan or XSENSOR export. ``analyse(recording) -> Analysis``: peak and pressure-time-integral images,
footprint, regions, arch index, landmarks, the transform to the output frame and SPEC's report.
"""

from .analysis import REGIONS, Analysis, analyse
from .read import read
from .recording import Recording

__all__ = ["REGIONS", "Analysis", "Recording", "analyse", "read"]
