// The choropleth world map: world-atlas's countries (110m) drawn with d3-geo in an SVG, coloured
// by a count per gateway country code. The map's features carry ISO 3166-1 numeric ids (or only
// a name, for Kosovo); vendor/country-codes.json, generated from i18n-iso-countries at install,
// turns them into the gateway's codes. No tiles, nothing fetched but the page's own files.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
// Light to dark (GOV.UK blue tints), and a grey for none; contrast against the light ones is
// carried by the outline, and every figure is also in the table beside the map.
const SHADES = ["#d2e2f1", "#8eb8dc", "#5694ca", "#1d70b8", "#003078"];
const NONE = "#f3f2f1";

const worldMap = {
  features: null,
  codes: null,

  async load() {
    if (this.features) return;
    const [topology, codes] = await Promise.all([
      fetch("/static/vendor/countries-110m.json").then((r) => r.json()),
      fetch("/static/vendor/country-codes.json").then((r) => r.json()),
    ]);
    this.features = topojson.feature(topology, topology.objects.countries).features;
    this.codes = codes;
  },

  codeOf(feature) {
    return this.codes[feature.id ?? feature.properties.name] || null;
  },

  /** Thresholds for SHADES: the upper bound of each shade (counts are whole numbers). */
  bins(max) {
    const steps = Math.min(SHADES.length, Math.max(max, 1));
    return Array.from({ length: steps }, (_, i) => Math.ceil((max * (i + 1)) / steps));
  },

  shade(count, bins) {
    if (!count) return NONE;
    const i = bins.findIndex((upper) => count <= upper);
    return SHADES[Math.round((i * (SHADES.length - 1)) / Math.max(bins.length - 1, 1))];
  },

  /** Draws `counts` ({code: n}) into `container`; `pick(code)` on a click on a country. */
  draw(container, counts, what, pick) {
    const width = 960;
    const height = 470;
    const projection = d3.geoEqualEarth().fitSize([width, height], { type: "Sphere" });
    const path = d3.geoPath(projection);
    const max = Math.max(0, ...Object.values(counts));
    const bins = this.bins(max);
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `World map of ${what} by country; the table below gives every figure`);
    const sphere = document.createElementNS(SVG_NS, "path");
    sphere.setAttribute("d", path({ type: "Sphere" }));
    sphere.setAttribute("class", "sphere");
    svg.append(sphere);
    for (const feature of this.features) {
      const code = this.codeOf(feature);
      const count = (code && counts[code]) || 0;
      const shape = document.createElementNS(SVG_NS, "path");
      shape.setAttribute("d", path(feature));
      shape.setAttribute("fill", this.shade(count, bins));
      shape.setAttribute("class", count ? "country has-data" : "country");
      if (code) shape.dataset.code = code;
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `${feature.properties.name}: ${count} ${what}`;
      shape.append(title);
      if (count && pick) shape.addEventListener("click", () => pick(code));
      svg.append(shape);
    }
    container.replaceChildren(svg);
    return { max, bins, shades: bins.map((upper) => this.shade(upper, bins)) };
  },
};
