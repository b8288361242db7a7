// The map's points on WebGL2: one draw call for every point, positions and colours in GPU
// buffers, the view (pan and zoom) a uniform, so that moving the map uploads nothing. Lit points
// are drawn in front of dimmed ones by depth, whatever their order in the buffers. On a software
// renderer (SwiftShader, llvmpipe: no GPU, as in headless browsers) a large map draws one point
// in `stride` while it moves and all of them when it rests, and says so. The canvas is opaque:
// blended points on a see-through canvas would be blended a second time by the page.

const VERTEX = `#version 300 es
in vec2 position;
in vec4 colour;
uniform vec2 centre;
uniform vec2 scale;
uniform float size;
out vec4 tint;
void main() {
  bool lit = colour.a > 0.5;
  gl_Position = vec4((position - centre) * scale, lit ? -0.5 : 0.5, 1.0);
  gl_PointSize = lit ? size : size * 0.75;
  tint = vec4(colour.rgb, lit ? 0.95 : 0.5);
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 tint;
out vec4 outColour;
void main() {
  vec2 d = gl_PointCoord - 0.5;
  if (dot(d, d) > 0.25) discard;
  outColour = tint;
}`;

/** Points a software renderer draws in full while the map moves. */
export const SOFTWARE_MOVING_POINTS = 20_000;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`map shader: ${gl.getShaderInfoLog(shader)}`);
  return shader;
}

export class PointsRenderer {
  /** Why there is no map (no WebGL2), or null. */
  unavailable = null;
  /** The renderer's name, when the browser tells it. */
  rendererName = '';
  software = false;
  count = 0;
  #gl = null;
  #program = null;
  #uniforms = {};
  #positions = null;
  #colours = null;
  #sparse = null;
  #sparseCount = 0;

  constructor(canvas) {
    const gl = canvas.getContext('webgl2', { alpha: false, antialias: false, preserveDrawingBuffer: true });
    if (!gl) {
      this.unavailable = 'this browser gives the page no WebGL2';
      return;
    }
    this.#gl = gl;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    this.rendererName = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    this.software = /swiftshader|llvmpipe|software|softpipe/i.test(this.rendererName);
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.bindAttribLocation(program, 0, 'position');
    gl.bindAttribLocation(program, 1, 'colour');
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`map shaders: ${gl.getProgramInfoLog(program)}`);
    this.#program = program;
    for (const name of ['centre', 'scale', 'size']) this.#uniforms[name] = gl.getUniformLocation(program, name);
    this.#positions = gl.createBuffer();
    this.#colours = gl.createBuffer();
    this.#sparse = gl.createBuffer();
  }

  /** One point in this many is drawn while a large map moves on a software renderer (1: all). */
  get stride() {
    return this.software && this.count > SOFTWARE_MOVING_POINTS ? Math.ceil(this.count / SOFTWARE_MOVING_POINTS) : 1;
  }

  setPositions(positions) {
    const gl = this.#gl;
    if (!gl) return;
    const fresh = positions.length / 2 !== this.count;
    this.count = positions.length / 2;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#positions);
    gl.bufferData(gl.ARRAY_BUFFER, positions, gl.DYNAMIC_DRAW);
    if (fresh && this.stride > 1) {
      const every = Uint32Array.from({ length: Math.ceil(this.count / this.stride) }, (_, i) => i * this.stride);
      this.#sparseCount = every.length;
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.#sparse);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, every, gl.STATIC_DRAW);
    }
  }

  /** RGBA bytes per point; alpha 255 lights a point, anything less dims it. */
  setColours(colours) {
    const gl = this.#gl;
    if (!gl) return;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#colours);
    gl.bufferData(gl.ARRAY_BUFFER, colours, gl.DYNAMIC_DRAW);
  }

  /**
   * Draws the points seen through `view` ({ cx, cy, sx, sy }: centre and scale to clip space);
   * `moving` lets a software renderer draw its sparse set.
   */
  draw(view, { moving = false, pointSize = 4 } = {}) {
    const gl = this.#gl;
    if (!gl) return;
    const canvas = gl.canvas;
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(1, 1, 1, 1);
    gl.clearDepth(1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (this.count === 0) return;
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.#program);
    gl.uniform2f(this.#uniforms.centre, view.cx, view.cy);
    gl.uniform2f(this.#uniforms.scale, view.sx, view.sy);
    gl.uniform1f(this.#uniforms.size, pointSize * (window.devicePixelRatio || 1));
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#positions);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#colours);
    gl.enableVertexAttribArray(1);
    gl.vertexAttribPointer(1, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    if (moving && this.stride > 1) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.#sparse);
      gl.drawElements(gl.POINTS, this.#sparseCount, gl.UNSIGNED_INT, 0);
    } else {
      gl.drawArrays(gl.POINTS, 0, this.count);
    }
  }

  /**
   * Waits until the frame is drawn, for measuring it: reading a pixel back waits for every
   * command before it (Chromium's `finish` returns before its GPU process has drawn).
   */
  finish() {
    const gl = this.#gl;
    if (!gl) return;
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
  }
}
