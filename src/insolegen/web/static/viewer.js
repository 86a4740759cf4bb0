// The 3D view of the web app: meshes drawn with three.js, coloured by height.
import * as THREE from "three";
import { OrbitControls } from "/static/vendor/three/OrbitControls.js";
import { STLLoader } from "/static/vendor/three/STLLoader.js";

const canvas = document.querySelector("#insert");
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(window.devicePixelRatio);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0xeef1f4);
scene.add(new THREE.HemisphereLight(0xffffff, 0x8a94a6, 1.6));
const sun = new THREE.DirectionalLight(0xffffff, 1.8);
sun.position.set(-120, -200, 300);
scene.add(sun);
const camera = new THREE.PerspectiveCamera(35, 1, 1, 5000);
camera.up.set(0, 0, 1);
const controls = new OrbitControls(camera, canvas);
controls.addEventListener("change", render);
let shown = [];
let framed = false;

function render() { renderer.render(scene, camera); }

function resize() {
  const { clientWidth: w, clientHeight: h } = canvas;
  renderer.setSize(w, h, false);
  camera.aspect = w / Math.max(h, 1);
  camera.updateProjectionMatrix();
  render();
}
new ResizeObserver(resize).observe(canvas);
resize();

// height colours (a viridis-like ramp): low is blue-violet, high is yellow
const RAMP = [[0.27, 0.0, 0.33], [0.23, 0.32, 0.55], [0.13, 0.57, 0.55], [0.37, 0.79, 0.38], [0.99, 0.91, 0.14]];
// the peak-pressure map under the insert (a build from load): each loaded sensor a square just
// below the insert's bottom, coloured blue (low) to red (the highest peak), as pressure software does
const HOT = [[0.19, 0.07, 0.23], [0.16, 0.47, 0.93], [0.1, 0.85, 0.6], [0.76, 0.93, 0.2], [0.98, 0.5, 0.1], [0.48, 0.02, 0.01]];
export function showMap(map) {
  if (!map || !shown.length) { render(); return; }
  const positions = [], colours = [];
  map.squares.forEach((sq, i) => {
    const t = Math.min(1, map.peak_kpa[i] / map.max_kpa) * (HOT.length - 1);
    const k = Math.min(HOT.length - 2, Math.floor(t)), f = t - k;
    const c = [0, 1, 2].map((j) => HOT[k][j] * (1 - f) + HOT[k + 1][j] * f);
    for (const v of [0, 1, 2, 0, 2, 3]) { positions.push(sq[v][0], sq[v][1], -0.5); colours.push(...c); }
  });
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(positions, 3));
  geometry.setAttribute("color", new THREE.Float32BufferAttribute(colours, 3));
  shown[0].add(new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ vertexColors: true, side: THREE.DoubleSide })));
  Object.assign(shown[0].material, { transparent: true, opacity: 0.35, depthWrite: false, needsUpdate: true });  // the map seen through the insert
  render();
}

function colourByHeight(geometry, zmax) {
  const pos = geometry.getAttribute("position");
  const colours = new Float32Array(pos.count * 3);
  for (let i = 0; i < pos.count; i++) {
    const t = Math.min(1, Math.max(0, pos.getZ(i) / zmax)) * (RAMP.length - 1);
    const k = Math.min(RAMP.length - 2, Math.floor(t)), f = t - k;
    for (let c = 0; c < 3; c++) colours[3 * i + c] = RAMP[k][c] * (1 - f) + RAMP[k + 1][c] * f;
  }
  geometry.setAttribute("color", new THREE.BufferAttribute(colours, 3));
}

// a binary STL, or { positions: Float32Array (n * 3), index: Uint32Array (f * 3) } (drawn flat shaded as the STL is)
function geometryOf(mesh) {
  if (mesh instanceof ArrayBuffer) return new STLLoader().parse(mesh);
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.BufferAttribute(mesh.positions, 3));
  geometry.setIndex(new THREE.BufferAttribute(mesh.index, 1));
  return geometry;
}

// show meshes side by side (one insert, or a left and right pair); medial: +1 when the
// medial side is +y (a right foot), -1 for a left one: the camera looks from above that side
export function show(buffers, medial = 1) {
  for (const mesh of shown) { scene.remove(mesh); mesh.geometry.dispose(); mesh.children.forEach((c) => c.geometry.dispose()); }
  const geometries = buffers.map(geometryOf);
  geometries.forEach((g) => g.computeBoundingBox());
  const zmax = Math.max(...geometries.map((g) => g.boundingBox.max.z), 1);
  const gap = 20;
  let y = 0;
  shown = geometries.map((g) => {
    colourByHeight(g, zmax);
    const mesh = new THREE.Mesh(g, new THREE.MeshStandardMaterial({ vertexColors: true, roughness: 0.75, flatShading: true }));
    mesh.position.y = y - g.boundingBox.max.y;  // each next insert sits beside the last, towards -y
    y = mesh.position.y + g.boundingBox.min.y - gap;
    scene.add(mesh);
    return mesh;
  });
  const box = new THREE.Box3();
  shown.forEach((m) => box.expandByObject(m));
  const centre = box.getCenter(new THREE.Vector3()), size = box.getSize(new THREE.Vector3());
  if (!framed || buffers.length > 1) {  // keep the user's view across rebuilds of one insert
    controls.target.copy(centre);
    // from above the medial side, far enough that the whole length fits
    const half = THREE.MathUtils.degToRad(camera.fov / 2);
    const fit = Math.min(Math.sin(half), Math.sin(Math.atan(Math.tan(half) * camera.aspect)));
    const d = (0.5 * size.length()) / fit;  // the bounding sphere fits the narrower field of view
    camera.position.copy(centre).add(new THREE.Vector3(-0.3, 0.75 * medial, 0.6).normalize().multiplyScalar(d));
    framed = buffers.length === 1;
  }
  controls.update();
  render();
}
