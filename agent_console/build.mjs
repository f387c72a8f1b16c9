// Copies the browser builds of the npm dependencies into static/vendor, served by Flask.
// Government networks are often offline: nothing is loaded from a CDN.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "static", "vendor");
mkdirSync(out, { recursive: true });

const files = [
  ["node_modules/socket.io-client/dist/socket.io.esm.min.js", "socket.io.esm.min.js"],
  ["node_modules/socket.io-client/dist/socket.io.esm.min.js.map", "socket.io.esm.min.js.map"],
  ["node_modules/chart.js/dist/chart.umd.min.js", "chart.umd.js"],
  // the supervision dashboards and the big screen (Apache-2.0)
  ["node_modules/echarts/dist/echarts.min.js", "echarts.min.js"],
];
for (const [from, to] of files) {
  const src = join(here, from);
  if (!existsSync(src)) {
    if (to.endsWith(".map")) continue;
    console.error(`missing ${from}: run npm ci first`);
    process.exit(1);
  }
  copyFileSync(src, join(out, to));
}
console.log(`console assets copied to ${out}`);
