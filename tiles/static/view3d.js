// The 2D/3D switch. In 3D the map is pitched, stands on the terrain the served style names
// (metadata["twin:terrain"]: a raster-dem source and its exaggeration) and draws buildings
// as extrusions: style layers with metadata["twin:view"] = "3d" show, their flat fills
// ("2d") hide. In 2D the map looks straight down on flat ground, as it opens.

export const PITCH_3D = 60;

/** Whether a style layer whose metadata says `view` ("2d", "3d" or nothing) is drawn. */
export function inView(view, is3d) {
  return !view || (view === "3d") === is3d;
}

/** What a 3D view of `style` has: its terrain (or null) and whether anything stands up. */
export function view3dOf(style) {
  const meta = style.metadata || {};
  const terrain = meta["twin:terrain"];
  const ground = terrain && style.sources[terrain.source] ? terrain : null;
  const extrusions = style.layers.some((layer) => layer.type === "fill-extrusion");
  return { terrain: ground, any: Boolean(ground) || extrusions };
}

/** Put a live map in 3D or back in 2D (the layers' visibility is the caller's). */
export function setView(map, spec, is3d, animate) {
  const terrain = is3d && spec.terrain ? spec.terrain : null;
  map.setTerrain(terrain ? { source: terrain.source, exaggeration: terrain.exaggeration } : null);
  const target = is3d ? { pitch: Math.max(map.getPitch(), PITCH_3D) } : { pitch: 0, bearing: 0 };
  if (animate) map.easeTo(Object.assign({ duration: 600 }, target));
  else map.jumpTo(target);
}

/** A map control with one button, labelled with the view a click leads to. */
export class ViewControl {
  constructor(t, onToggle) {
    this.t = t;
    this.onToggle = onToggle;
  }

  onAdd() {
    this.container = document.createElement("div");
    this.container.className = "maplibregl-ctrl maplibregl-ctrl-group view-control";
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.id = "view-toggle";
    this.button.addEventListener("click", () => this.onToggle());
    this.container.appendChild(this.button);
    this.container.hidden = true; // until the style says there is something to see in 3D
    return this.container;
  }

  onRemove() {
    this.container.remove();
  }

  /** Show the button (when the style has terrain or buildings) and say where it leads. */
  update(available, is3d) {
    this.container.hidden = !available;
    this.button.textContent = is3d ? this.t("view2d") : this.t("view3d");
    this.button.title = is3d ? this.t("view2dHint") : this.t("view3dHint");
    this.button.setAttribute("aria-label", this.button.title);
    this.button.setAttribute("aria-pressed", String(is3d));
  }
}
