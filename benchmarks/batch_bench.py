"""Batch throughput: 96 inserts at 1.0 mm on all cores (mesh + report per row), worker start-up included."""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from insolegen import batch

folder = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
folder.mkdir(parents=True, exist_ok=True)
manifest = folder / "bench.jsonl"
manifest.write_text("".join(json.dumps({"id": f"b{i}", "arch.height_mm": 6 + i % 9, "side": "left" if i % 2 else "right"}) + "\n" for i in range(96)))
start = time.perf_counter()
results = batch.run(manifest, folder / "batch-out", os.cpu_count() or 1, force=True)
seconds = time.perf_counter() - start
print(f"batch: {len(results)} inserts at 1.0 mm on {os.cpu_count()} cores in {seconds:.2f} s = {len(results) / seconds:.1f} inserts/s")
