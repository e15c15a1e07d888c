// Fills ../static/vendor from node_modules (installed by `npm ci` from package-lock.json): GOV.UK
// Frontend (its Sass compiled with the dashboard's font), d3-geo and topojson-client for the map,
// world-atlas's country topology, and a table from world-atlas's numeric ids (ISO 3166-1 numeric)
// to the gateway's codes, made with i18n-iso-countries (features without an id are matched by
// name to the gateway's territories). Run by scripts/build_dashboard.sh; output is deterministic.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const vendor = join(here, "..", "static", "vendor");
const modules = join(here, "node_modules");
mkdirSync(vendor, { recursive: true });

const css = sass.compile(join(here, "govuk.scss"), {
  style: "compressed",
  importers: [new sass.NodePackageImporter()],
  quietDeps: true,
  silenceDeprecations: ["import", "global-builtin", "slash-div"],
});
writeFileSync(join(vendor, "govuk-frontend.min.css"), css.css + "\n");

const copies = {
  "govuk-frontend/dist/govuk/govuk-frontend.min.js": "govuk-frontend.min.js",
  "d3-array/dist/d3-array.min.js": "d3-array.min.js",
  "d3-array/LICENSE": "d3-array.LICENSE.txt",
  "d3-geo/dist/d3-geo.min.js": "d3-geo.min.js",
  "d3-geo/LICENSE": "d3-geo.LICENSE.txt",
  "topojson-client/dist/topojson-client.min.js": "topojson-client.min.js",
  "topojson-client/LICENSE": "topojson-client.LICENSE.txt",
  "world-atlas/countries-110m.json": "countries-110m.json",
  "world-atlas/LICENSE": "world-atlas.LICENSE.txt",
};
for (const [from, to] of Object.entries(copies)) copyFileSync(join(modules, from), join(vendor, to));
// The crest the stylesheet refers to (the package has no licence file: MIT, per its package.json).
mkdirSync(join(vendor, "govuk", "assets", "images"), { recursive: true });
copyFileSync(
  join(modules, "govuk-frontend/dist/govuk/assets/images/govuk-crest.svg"),
  join(vendor, "govuk", "assets", "images", "govuk-crest.svg"),
);
const govuk = JSON.parse(readFileSync(join(modules, "govuk-frontend/package.json"), "utf8"));
writeFileSync(
  join(vendor, "govuk-frontend.LICENSE.txt"),
  `govuk-frontend ${govuk.version}: ${govuk.license} licence, (c) Crown copyright (Government Digital Service)\n`,
);

const countries = require("i18n-iso-countries");
const atlas = JSON.parse(readFileSync(join(modules, "world-atlas/countries-110m.json"), "utf8"));
const territories = JSON.parse(
  readFileSync(join(here, "..", "..", "..", "shared", "reference", "territories.json"), "utf8"),
).entries;
const byName = Object.fromEntries(territories.map((t) => [t.name, t.code]));
const codes = {};
for (const g of atlas.objects.countries.geometries) {
  const code = g.id !== undefined ? countries.numericToAlpha2(g.id) : byName[g.properties.name];
  // The key is what the page finds on a feature: its id, or its name when it has none.
  if (code) codes[g.id ?? g.properties.name] = code;
}
const sorted = Object.fromEntries(Object.entries(codes).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(join(vendor, "country-codes.json"), JSON.stringify(sorted) + "\n");
console.log(`vendored into ${vendor}: ${Object.keys(sorted).length} map features with a code`);
