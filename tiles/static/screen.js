// The screen as a PNG: the map canvas (the map keeps its drawing buffer for this) with the
// title and the villages' legend drawn onto it, downloaded under the title's name.
import { drawLegend } from "./ramp.js";

/** Save the map as a PNG; `opts`: {title, fonts, ramp (or null), legendTitle, format}. */
export function saveScreen(map, opts) {
  const source = map.getCanvas();
  const scale = source.width / source.clientWidth;
  const canvas = document.createElement("canvas");
  canvas.width = source.width;
  canvas.height = source.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(source, 0, 0);
  ctx.scale(scale, scale);
  const width = 280;
  const height = opts.ramp ? 100 : 36;
  const x = 12;
  const y = source.clientHeight - height - 12;
  ctx.fillStyle = "rgba(255, 255, 255, 0.92)";
  ctx.fillRect(x, y, width, height);
  ctx.fillStyle = "#222";
  ctx.font = "600 15px " + opts.fonts;
  ctx.fillText(opts.title, x + 10, y + 22);
  if (opts.ramp) drawLegend(ctx, opts.ramp, x + 10, y + 32, width - 20, opts.legendTitle, opts.format, opts.fonts);
  canvas.toBlob((blob) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = (opts.title || "map").replace(/[\\/:*?"<>|\s]+/g, "_") + ".png";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }, "image/png");
}
