"""insolegen: foot outline + orthotic prescription -> watertight, millable 3D insert.

The Python API (the command line uses the same calls)::

    from insolegen import api
    insert = api.build(outline="foot.csv", side="left", settings={"arch.height_mm": 18})
    api.write(insert, "outputs/left.stl")        # mesh + report, atomically
"""

__version__ = "0.1.0"
