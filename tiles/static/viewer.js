// OneMap Twin viewer: every catalog layer, a layer switcher, raster legends, popups, key figures.
// All catalog text reaches the page through textContent / DOM nodes, never as HTML.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("twin-config").textContent);
  window.twinErrors = [];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatValue(value) {
    if (typeof value === "number") {
      return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
    }
    return String(value);
  }

  document.getElementById("title").textContent = config.title;
  document.title = config.title;

  var mapOptions = { container: "map", style: config.styleUrl, attributionControl: { compact: true } };
  if (config.bounds) {
    mapOptions.bounds = config.bounds;
    mapOptions.fitBoundsOptions = { padding: 30 };
  }
  var map = new maplibregl.Map(mapOptions);
  window.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-right");
  map.on("error", function (event) {
    var message = event && event.error && event.error.message ? event.error.message : String(event);
    window.twinErrors.push(message);
  });

  // Key figures ("one screen shows the whole county").
  var figures = config.figures || [];
  if (figures.length) {
    var list = document.getElementById("figure-list");
    figures.forEach(function (figure) {
      list.appendChild(el("dt", null, figure.label));
      list.appendChild(el("dd", null, formatValue(figure.value) + (figure.unit ? " " + figure.unit : "")));
    });
    document.getElementById("figures").hidden = false;
  }

  function styleLayersOf(name) {
    return map.getStyle().layers.filter(function (layer) {
      return layer.metadata && layer.metadata["twin:layer"] === name;
    });
  }

  // Layer switcher, with a colour ramp legend under each raster layer.
  var layerList = document.getElementById("layer-list");
  config.layers.forEach(function (layer) {
    var item = el("li");
    var label = el("label");
    var box = el("input");
    box.type = "checkbox";
    box.checked = layer.visible !== false;
    box.dataset.layer = layer.name;
    box.addEventListener("change", function () {
      var visibility = box.checked ? "visible" : "none";
      styleLayersOf(layer.name).forEach(function (styleLayer) {
        map.setLayoutProperty(styleLayer.id, "visibility", visibility);
      });
    });
    label.appendChild(box);
    if (layer.color) {
      var swatch = el("span", "swatch");
      swatch.style.backgroundColor = layer.color;
      label.appendChild(swatch);
    }
    label.appendChild(el("span", null, layer.title));
    item.appendChild(label);
    if (layer.legend) {
      var legend = el("div", "legend");
      var ramp = el("div", "ramp");
      ramp.style.background = "linear-gradient(to right, " + layer.legend.colors.join(", ") + ")";
      var labels = el("div", "labels");
      var unit = layer.legend.unit ? " " + layer.legend.unit : "";
      labels.appendChild(el("span", null, formatValue(layer.legend.min) + unit));
      labels.appendChild(el("span", null, formatValue(layer.legend.max) + unit));
      legend.appendChild(ramp);
      legend.appendChild(labels);
      item.appendChild(legend);
    }
    layerList.appendChild(item);
  });

  // Feature popups: a table of the clicked features' properties.
  var vectorLayers = {};
  config.layers.forEach(function (layer) {
    if (layer.kind === "vector") vectorLayers[layer.name] = layer;
  });
  // A feature's name: its label property, else its id (a village without a name: its code).
  function featureName(layer, properties) {
    var keys = layer.label || [];
    for (var i = 0; i < keys.length; i++) {
      var value = properties[keys[i]];
      if (value !== undefined && value !== null && String(value).trim() !== "") return String(value);
    }
    return null;
  }
  map.on("click", function (event) {
    var features = map.queryRenderedFeatures(event.point).filter(function (feature) {
      return Object.prototype.hasOwnProperty.call(vectorLayers, feature.source);
    });
    if (!features.length) return;
    var content = el("div");
    features.slice(0, 3).forEach(function (feature) {
      var table = el("table", "popup-table");
      var layer = vectorLayers[feature.source];
      var name = featureName(layer, feature.properties);
      table.appendChild(el("caption", null, name ? layer.title + ": " + name : layer.title));
      Object.keys(feature.properties).forEach(function (key) {
        var row = el("tr");
        row.appendChild(el("th", null, key));
        row.appendChild(el("td", null, formatValue(feature.properties[key])));
        table.appendChild(row);
      });
      content.appendChild(table);
    });
    new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(event.lngLat).setDOMContent(content).addTo(map);
  });
  map.on("mousemove", function (event) {
    var hit = map.queryRenderedFeatures(event.point).some(function (feature) {
      return Object.prototype.hasOwnProperty.call(vectorLayers, feature.source);
    });
    map.getCanvas().style.cursor = hit ? "pointer" : "";
  });
})();
