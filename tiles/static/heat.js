// A point layer with thousands of features as a density surface at low zoom.

/** The heatmap layer drawn under `maxzoom` from the points of style layer `layer`. */
export function heatLayer(layer, name, maxzoom) {
  return {
    id: name + "-heat",
    type: "heatmap",
    source: layer.source,
    "source-layer": layer["source-layer"],
    maxzoom: maxzoom + 1,
    metadata: layer.metadata,
    paint: {
      "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 8, 3, maxzoom, 12],
      // thousands of points: a low intensity so that only real clusters turn dark
      "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 8, 0.1, maxzoom, 0.5],
      "heatmap-color": [
        "interpolate", ["linear"], ["heatmap-density"],
        0, "rgba(255, 255, 255, 0)", 0.2, "rgba(254, 217, 118, 0.55)", 0.5, "#fd8d3c",
        0.8, "#e31a1c", 1, "#800026",
      ],
      "heatmap-opacity": ["interpolate", ["linear"], ["zoom"], maxzoom - 1, 0.8, maxzoom + 1, 0],
    },
  };
}
