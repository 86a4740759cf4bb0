"""Fabrication: what a slicer or a mill is given (print zones in 3MF, shoe fit, milling G-code)."""
