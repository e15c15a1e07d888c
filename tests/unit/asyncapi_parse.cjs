// Parse AsyncAPI documents with the official parser; print each one's diagnostics as JSON.
// Usage: NODE_PATH=<prefix>/node_modules node asyncapi_parse.cjs FILE...
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");

async function main() {
  const parser = new Parser();
  const out = {};
  for (const file of process.argv.slice(2)) {
    const { diagnostics } = await parser.parse(fs.readFileSync(file, "utf8"));
    out[file] = diagnostics.map((d) => ({
      severity: d.severity, // 0 error, 1 warning, 2 information, 3 hint
      code: d.code,
      message: d.message,
      path: d.path.join("/"),
    }));
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
