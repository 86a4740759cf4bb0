"""``insolegen serve``: a local web app (needs the ``[web]`` extra: FastAPI, uvicorn, python-multipart).

The page (``static/``) builds its prescription form from ``GET /api/schema``, shows the insert
with three.js (vendored in ``static/vendor/three``: no request leaves the machine) and calls the
API in :mod:`insolegen.web.app`.
"""
