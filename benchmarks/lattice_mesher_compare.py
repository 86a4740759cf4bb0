"""The level-set meshers compared on one job: a 60 x 60 x 15 mm block of gyroid sheet (10 mm cells,
25 %) at a 0.3 mm grid. Seconds, triangles, degenerate triangles, and whether manifold3d takes the
mesh as it is. Needs scikit-image, vtk (pip install vtk) and manifold3d."""

import time

import manifold3d
import numpy as np

from insolegen.construct import gyroid

SIZE, STEP, CELL, DENSITY = (60.0, 60.0, 15.0), 0.3, 10.0, 0.25
HALF = float(gyroid.wall_for(DENSITY, CELL)) / 2


def field(x, y, z):
    """> 0 in the sheet within the block (manifold3d's sign: positive inside)."""
    box = np.minimum(np.minimum(np.minimum(x, SIZE[0] - x), np.minimum(y, SIZE[1] - y)), np.minimum(z, SIZE[2] - z))
    return np.minimum(box, HALF - gyroid.distance(x, y, z, CELL))


def grid():
    axes = [np.arange(-2 * STEP, s + 2 * STEP, STEP, dtype=np.float32) for s in SIZE]
    return axes, field(*np.meshgrid(*axes, indexing="ij", sparse=True))


def report(name, seconds, vertices, faces):
    v = np.asarray(vertices, float)
    f = np.asarray(faces, np.int64)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    try:
        m = manifold3d.Manifold(manifold3d.Mesh(v.astype(np.float32), f.astype(np.uint32)))
        ok = f"manifold3d: {m.status()}, volume {m.volume():.0f} mm^3"
    except Exception as exc:  # noqa: BLE001 - the point is to report it
        ok = f"manifold3d refused: {exc}"
    print(f"{name:12s} {seconds:6.2f} s  {len(f):>9,} triangles  {(area < 1e-8).sum():>6} degenerate; {ok}")


def skimage_mc():
    from skimage.measure import marching_cubes

    start = time.perf_counter()
    axes, values = grid()
    v, f, _, _ = marching_cubes(values, 0.0, spacing=(STEP,) * 3, allow_degenerate=False)
    report("scikit-image", time.perf_counter() - start, v + [a[0] for a in axes], f[:, ::-1])


def vtk_flying_edges():
    import vtk
    from vtk.util import numpy_support

    start = time.perf_counter()
    axes, values = grid()
    image = vtk.vtkImageData()
    image.SetDimensions(*values.shape)
    image.SetSpacing(STEP, STEP, STEP)
    image.SetOrigin(*(a[0] for a in axes))
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(values.ravel(order="F"), deep=True))
    mc = vtk.vtkFlyingEdges3D()
    mc.SetInputData(image)
    mc.SetValue(0, 0.0)
    mc.ComputeNormalsOff()
    mc.Update()
    out = mc.GetOutput()
    v = numpy_support.vtk_to_numpy(out.GetPoints().GetData())
    f = numpy_support.vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    report("VTK FE3D", time.perf_counter() - start, v, f)


def manifold_level_set():
    start = time.perf_counter()
    m = manifold3d.Manifold.level_set(lambda x, y, z: float(field(np.float32(x), np.float32(y), np.float32(z))),
                                      [0.0, 0.0, 0.0, *SIZE], STEP * 1.4)
    mesh = m.to_mesh()
    report("manifold3d", time.perf_counter() - start, mesh.vert_properties[:, :3], mesh.tri_verts)


if __name__ == "__main__":
    skimage_mc()
    vtk_flying_edges()
    manifold_level_set()
