// Validates an AsyncAPI document (standard input) with the AsyncAPI Initiative's parser,
// installed by .ci/run under the folder given as the first argument. Prints one JSON object:
// {"parsed": true|false, "diagnostics": [{"severity", "code", "message", "path"}, ...]}.
const path = require("path");
const { Parser } = require(path.join(path.resolve(process.argv[2]), "node_modules", "@asyncapi", "parser"));

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const { document, diagnostics } = await new Parser().parse(Buffer.concat(chunks).toString("utf8"));
  const found = diagnostics.map((d) => ({
    severity: d.severity,
    code: String(d.code),
    message: d.message,
    path: (d.path || []).join("."),
  }));
  process.stdout.write(JSON.stringify({ parsed: document !== undefined, diagnostics: found }));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(2);
});
