// A schematic tile map of the autonomous region for drilling down: the 12 盟市 placed roughly
// where they lie (west to east, south to north), their 旗县区 as tiles in code order. No
// boundary geometry is drawn: a shippable, licence-clean map of China's borders is not on npm.
import { el } from "./common.js";

// column, row of each 盟市 (row 0 is the north)
const LEAGUES = {
  "152900000000": [0, 2], // 阿拉善盟
  "150800000000": [1, 2], // 巴彦淖尔市
  "150300000000": [1, 3], // 乌海市
  "150200000000": [2, 2], // 包头市
  "150600000000": [2, 3], // 鄂尔多斯市
  "150100000000": [3, 2], // 呼和浩特市
  "150900000000": [4, 2], // 乌兰察布市
  "152500000000": [5, 1], // 锡林郭勒盟
  "150400000000": [6, 2], // 赤峰市
  "150500000000": [7, 1], // 通辽市
  "152200000000": [7, 0], // 兴安盟
  "150700000000": [8, 0], // 呼伦贝尔市
};

// tiles: [{code, name, value, label, level}] ; level: "green" | "amber" | "red" | ""
export function drawTiles(container, tiles, { onPick, leagues }) {
  container.classList.toggle("leagues", Boolean(leagues));
  container.replaceChildren(...tiles.map((tile, i) => {
    const [col, row] = leagues && LEAGUES[tile.code] ? LEAGUES[tile.code] : [i % 6, Math.floor(i / 6)];
    const button = el("button", {
      type: "button", class: `tile-cell ${tile.level ? `level-${tile.level}` : ""}`,
      "data-code": tile.code, "data-testid": `tile-${tile.code}`,
      title: `${tile.name} ${tile.label ?? ""}`,
    }, el("span", { class: "tile-name" }, tile.name), el("span", { class: "tile-value" }, tile.label ?? "—"));
    button.style.gridColumn = String(col + 1);
    button.style.gridRow = String(row + 1);
    if (onPick && tile.drills !== false) button.addEventListener("click", () => onPick(tile.code));
    else button.disabled = true;
    return button;
  }));
}

export function levelOf(value, target, amber) {
  if (value === null || value === undefined) return "";
  if (value >= target) return "green";
  return value >= amber ? "amber" : "red";
}
