// Twin.explore(): draw the layers of one JSON document with MapLibre GL JS, offline.
// Every text from the data goes in with textContent, never as HTML.
(function () {
  "use strict";
  window.twinErrors = [];
  const spec = JSON.parse(document.getElementById("twin-explore").textContent);
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#f4f2ee" } }],
  };
  if (spec.basemap) {
    style.sources.basemap = { type: "raster", tiles: [spec.basemap], tileSize: 256 };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  const colour = ["coalesce", ["get", "_colour"], "#3388ff"];
  const drawn = {}; // layer id -> style layer ids
  for (const layer of spec.layers) {
    const id = layer.id;
    const ids = (drawn[id] = []);
    if (layer.kind === "image") {
      style.sources[id] = { type: "image", url: layer.url, coordinates: layer.coordinates };
      style.layers.push({ id: id + "-raster", type: "raster", source: id,
        paint: { "raster-opacity": 0.7, "raster-fade-duration": 0 } });
      ids.push(id + "-raster");
      continue;
    }
    if (layer.kind === "raster") {
      style.sources[id] = { type: "raster", tiles: layer.tiles, tileSize: 256,
        minzoom: layer.minzoom, maxzoom: layer.maxzoom };
      style.layers.push({ id: id + "-raster", type: "raster", source: id,
        paint: { "raster-opacity": 0.7 } });
      ids.push(id + "-raster");
      continue;
    }
    if (layer.kind === "geojson") {
      style.sources[id] = { type: "geojson", data: layer.data };
    } else {
      style.sources[id] = { type: "vector", tiles: layer.tiles,
        minzoom: layer.minzoom, maxzoom: layer.maxzoom };
    }
    const common = { source: id };
    if (layer.kind === "vector") common["source-layer"] = layer.sourceLayer;
    const fill = layer.colour ? layer.colour : colour;
    if (layer.geometry === "polygon") {
      style.layers.push({ ...common, id: id + "-fill", type: "fill",
        paint: { "fill-color": fill, "fill-opacity": 0.15 } });
      style.layers.push({ ...common, id: id + "-line", type: "line",
        paint: { "line-color": fill, "line-width": 1.5, "line-opacity": 0.9 } });
      ids.push(id + "-fill", id + "-line");
    } else if (layer.geometry === "line") {
      style.layers.push({ ...common, id: id + "-line", type: "line",
        paint: { "line-color": fill, "line-width": 2, "line-opacity": 0.9 } });
      ids.push(id + "-line");
    } else {
      style.layers.push({ ...common, id: id + "-circle", type: "circle",
        paint: { "circle-color": fill, "circle-radius": 3, "circle-opacity": 0.8,
                 "circle-stroke-color": "#fff", "circle-stroke-width": 0.5 } });
      ids.push(id + "-circle");
    }
  }

  const map = new maplibregl.Map({
    container: "map",
    style: style,
    bounds: spec.bounds || undefined,
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
  });
  window.map = map;
  map.on("error", (e) => window.twinErrors.push(String(e.error && e.error.message || e)));
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");

  // the layer switcher
  const box = document.getElementById("twin-layers");
  for (const layer of spec.layers) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = true;
    input.dataset.layer = layer.id;
    input.addEventListener("change", () => {
      for (const sid of drawn[layer.id]) {
        map.setLayoutProperty(sid, "visibility", input.checked ? "visible" : "none");
      }
    });
    label.append(input, " " + layer.title);
    box.append(label);
  }

  // legends: a ramp or swatches per layer
  const legend = document.getElementById("twin-legend");
  for (const item of spec.legends) {
    const div = document.createElement("div");
    const title = document.createElement("b");
    title.textContent = item.title;
    div.append(title);
    if (item.ramp) {
      const ramp = document.createElement("div");
      ramp.className = "twin-ramp";
      ramp.style.background = "linear-gradient(to right, " + item.ramp.join(", ") + ")";
      const range = document.createElement("small");
      range.textContent = item.min + " … " + item.max + (item.unit ? " " + item.unit : "");
      div.append(ramp, range);
    }
    for (const [name, c] of item.swatches || []) {
      const row = document.createElement("div");
      const swatch = document.createElement("span");
      swatch.className = "twin-swatch";
      swatch.style.background = c;
      row.append(swatch, name);
      div.append(row);
    }
    legend.append(div);
  }

  // a click shows the feature's fields, labelled, as text
  const clickable = spec.layers.filter((l) => l.kind === "geojson" || l.kind === "vector");
  map.on("click", (e) => {
    const ids = clickable.flatMap((l) => drawn[l.id]).filter((sid) => map.getLayer(sid));
    const hit = map.queryRenderedFeatures(e.point, { layers: ids })[0];
    if (!hit) return;
    const layer = clickable.find((l) => drawn[l.id].includes(hit.layer.id));
    const table = document.createElement("table");
    const caption = document.createElement("caption");
    caption.textContent = layer.title;
    table.append(caption);
    const fields = layer.fields && layer.fields.length ? layer.fields : Object.keys(hit.properties);
    for (const f of fields) {
      if (f === "_colour" || !(f in hit.properties)) continue;
      const row = table.insertRow();
      const th = document.createElement("th");
      th.textContent = (layer.labels && layer.labels[f]) || f;
      row.append(th);
      row.insertCell().textContent = String(hit.properties[f]);
    }
    new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(e.lngLat).setDOMContent(table).addTo(map);
  });
})();
