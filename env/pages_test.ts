// Expected strings are written by hand from templates/*.html and convert_html_to_text (and were
// cross-checked against the original Jinja + BeautifulSoup pipeline).
import { assertThrows } from "../testing/assert.ts";
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { makeProduct, smallCatalog } from "./_fixtures.ts";
import {
  clickablesOf,
  flaskToJson,
  renderDonePage,
  renderItemPage,
  renderResultsPage,
  renderSearchPage,
  renderSubPage,
} from "./pages.ts";
import { ilGoalText } from "./goals.ts";
import { pyFloatStr, pyJsonDumps, pyStrip } from "./_python.ts";

const INST = "i need red running shoes, and price lower than 30.00 dollars";
const [SHOE, WALK, DRESS] = smallCatalog();

Deno.test("renderSearchPage() matches the search page in both formats", () => {
  assertEquals(
    renderSearchPage("text", INST),
    `WebShop [SEP] Instruction: [SEP] ${INST} [SEP] Search`,
  );
  assertEquals(
    renderSearchPage("text_rich", INST),
    `WebShop\nInstruction: \n${INST}\n[button] Search [button_]\n`,
  );
});

Deno.test("renderResultsPage() shows Prev only from page 2 and marks visited ASINs", () => {
  const visited = new Set(["B000000002"]);
  assertEquals(
    renderResultsPage("text", INST, [SHOE, WALK], 1, 3, visited),
    `Instruction: [SEP] ${INST} [SEP] Back to Search [SEP] Page 1 (Total results: 3) [SEP] ` +
      "Next > [SEP] B000000001 [SEP] Red Running Shoes [SEP] $19.99 [SEP] B000000002 [SEP] " +
      "Blue Walking Shoes [SEP] $25.0 to $30.0",
  );
  assertEquals(
    renderResultsPage("text_rich", INST, [SHOE, WALK], 1, 3, visited),
    `Instruction:\n${INST}\n[button] Back to Search [button_]\nPage 1 (Total results: 3)\n` +
      "[button] Next > [button_]\n" +
      "\n[button] B000000001 [button_]\nRed Running Shoes\n$19.99\n" +
      "\n[clicked button] B000000002 [clicked button_]\nBlue Walking Shoes\n$25.0 to $30.0\n",
  );
  assertEquals(
    renderResultsPage("text_rich", INST, [DRESS], 2, 11, new Set()),
    `Instruction:\n${INST}\n[button] Back to Search [button_]\nPage 2 (Total results: 11)\n` +
      "[button] < Prev [button_]\n[button] Next > [button_]\n" +
      "\n[button] B000000003 [button_]\nLeather Dress Shoes\n$10.0\n",
  );
  // Past the last result WebShop still renders the page, with Next > and no products.
  assertEquals(
    renderResultsPage("text", INST, [], 6, 50, new Set()),
    `Instruction: [SEP] ${INST} [SEP] Back to Search [SEP] Page 6 (Total results: 50) [SEP] ` +
      "< Prev [SEP] Next >",
  );
});

Deno.test("renderItemPage() lists options and marks the chosen ones found in the URL", () => {
  const url = 'http://127.0.0.1:3000/item_page/0/B000000001/red+shoes/1/{"color": "blue | white"}';
  assertEquals(
    renderItemPage("text", INST, SHOE, url),
    `Instruction: [SEP] ${INST} [SEP] Back to Search [SEP] < Prev [SEP] color [SEP] red [SEP] ` +
      "blue | white [SEP] size [SEP] 7 [SEP] 8.5 [SEP] Red Running Shoes [SEP] Price: $19.99 " +
      "[SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now",
  );
  assertEquals(
    renderItemPage("text_rich", INST, SHOE, url),
    `You have clicked blue | white.\nInstruction:\n${INST}\n` +
      "[button] Back to Search [button_]\n[button] < Prev [button_]\n" +
      "color\n  [button] red [button_]\n  [clicked button] blue | white [clicked button_]\n" +
      "size\n  [button] 7 [button_]\n  [button] 8.5 [button_]\n" +
      "Red Running Shoes\nPrice: $19.99\nRating: N.A.\n" +
      "[button] Description [button_]\n[button] Features [button_]\n" +
      "[button] Reviews [button_]\n[button] Buy Now [button_]\n",
  );
  // Two chosen: each prepends its line, so the later label's line comes first.
  const url2 = 'x/{"color": "red", "size": "8.5"}';
  const rich = renderItemPage("text_rich", INST, SHOE, url2, true);
  assertEquals(
    rich.startsWith("You have clicked 8.5.\nYou have clicked red.\nInstruction:\n"),
    true,
  );
  assertEquals(rich.endsWith("[button] Attributes [button_]\n[button] Buy Now [button_]\n"), true);
  // A product without options.
  assertEquals(
    renderItemPage("text", INST, DRESS, "x/{}"),
    `Instruction: [SEP] ${INST} [SEP] Back to Search [SEP] < Prev [SEP] Leather Dress Shoes ` +
      "[SEP] Price: $10.0 [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews " +
      "[SEP] Buy Now",
  );
});

Deno.test("renderSubPage() renders description, features, reviews and attributes", () => {
  const head = `Instruction: [SEP] ${INST} [SEP] Back to Search [SEP] < Prev`;
  const headRich =
    `Instruction:\n${INST}\n[button] Back to Search [button_]\n[button] < Prev [button_]\n`;
  assertEquals(
    renderSubPage("text", INST, SHOE, "Description"),
    `${head} [SEP] Light running shoes in red.`,
  );
  assertEquals(
    renderSubPage("text_rich", INST, SHOE, "Description"),
    `${headRich}Light running shoes in red.\n`,
  );
  assertEquals(
    renderSubPage("text", INST, SHOE, "Features"),
    `${head} [SEP] rubber sole [SEP] machine wash`,
  );
  // The template writes " {{bulletpoint}}": text_rich keeps the leading space.
  assertEquals(
    renderSubPage("text_rich", INST, SHOE, "Features"),
    `${headRich} rubber sole\n machine wash\n`,
  );
  assertEquals(renderSubPage("text", INST, SHOE, "Reviews"), head);
  const reviewed = makeProduct({
    asin: "B0000000R1",
    Title: "T",
    Reviews: [{ title: "Great", score: 5, body: "Fits well." }],
  });
  assertEquals(
    renderSubPage("text_rich", INST, reviewed, "Reviews"),
    `${headRich}"Great"\n5\nFits well.\n`,
  );
  assertEquals(
    renderSubPage("text_rich", INST, SHOE, "Attributes"),
    `${headRich} rubber sole\n machine wash\nfashion\nshoes\nClothing, Shoes & Jewelry › Shoes\n`,
  );
});

Deno.test("renderDonePage() includes the hidden purchase block, tojson options and the reward", () => {
  const opts = { size: "8.5", color: "blue | white" };
  const tail =
    "Target [SEP] asin [SEP] options [SEP] attrs [SEP] price upper [SEP] instuction text " +
    "[SEP] category [SEP] product category [SEP] query [SEP] Goal [SEP] None [SEP] Reward [SEP] " +
    "Your score (min 0.0, max 1.0) [SEP] 0.6666666666666666 [SEP] Reward Details [SEP] None";
  assertEquals(
    renderDonePage("text", "B000000001", opts, 2 / 3),
    "Thank you for shopping with us! [SEP] Your code: [SEP] None [SEP] (Paste it in your MTurk " +
      "interface.) [SEP] Purchased [SEP] asin [SEP] B000000001 [SEP] options [SEP] " +
      '{"color": "blue | white", "size": "8.5"} [SEP] attrs [SEP] None [SEP] category [SEP] None ' +
      "[SEP] query [SEP] None [SEP] product category [SEP] None [SEP] " + tail,
  );
  assertEquals(
    renderDonePage("text_rich", "B000000001", {}, 1),
    "Thank you for shopping with us!\nYour code: \nNone\n (Paste it in your MTurk interface.)\n" +
      "Purchased\nasin\nB000000001\noptions\n{}\nattrs\nNone\ncategory\nNone\nquery\nNone\n" +
      "product category\nNone\nTarget\nasin\noptions\nattrs\nprice upper\ninstuction text\n" +
      "category\nproduct category\nquery\nGoal \nNone\nReward\nYour score (min 0.0, max 1.0)\n" +
      "1.0\nReward Details \nNone\n",
  );
});

Deno.test("pages follow BeautifulSoup's whitespace-node rules", () => {
  const spaces = makeProduct({ asin: "B0000000W1", Title: "T", Description: "  \t" });
  const newline = makeProduct({ asin: "B0000000W2", Title: "T", Description: "\n  " });
  const head = `Instruction: [SEP] ${INST} [SEP] Back to Search [SEP] < Prev`;
  const headRich =
    `Instruction:\n${INST}\n[button] Back to Search [button_]\n[button] < Prev [button_]\n`;
  // Whitespace without a newline collapses to " " and stays (an empty [SEP] segment).
  assertEquals(renderSubPage("text", INST, spaces, "Description"), `${head} [SEP] `);
  assertEquals(renderSubPage("text_rich", INST, spaces, "Description"), `${headRich} \n`);
  // With a newline it collapses to "\n", which the text env skips.
  assertEquals(renderSubPage("text", INST, newline, "Description"), head);
  assertEquals(renderSubPage("text_rich", INST, newline, "Description"), headRich);
});

Deno.test("clickablesOf() lists buttons, then links or option values, dict-style", () => {
  const results = {
    kind: "results" as const,
    keywords: ["shoes"],
    page: 2,
    results: smallCatalog(),
  };
  // Page 2 of 4 results is empty of products: only the buttons remain.
  assertEquals([...clickablesOf(results).keys()], ["back to search", "< prev", "next >"]);
  assertEquals(
    [...clickablesOf({ ...results, page: 1 }).keys()],
    ["back to search", "next >", "b000000001", "b000000002", "b000000003", "b000000004"],
  );
  const dup = makeProduct({
    asin: "B0000000D1",
    Title: "T",
    options: { color: ["black", "description"], trim: ["black"] },
  });
  const item = clickablesOf({ kind: "item", product: dup });
  // "description" keeps the button's place; "black" ends up as the trim radio.
  assertEquals([...item.keys()], [
    "back to search",
    "< prev",
    "description",
    "features",
    "reviews",
    "buy now",
    "black",
  ]);
  assertEquals(item.get("black"), { kind: "radio", name: "trim", value: "black" });
  assertEquals(item.get("description"), { kind: "radio", name: "color", value: "description" });
  assertEquals([...clickablesOf({ kind: "search" }).keys()], ["search"]);
  assertEquals([...clickablesOf({ kind: "done", product: dup, reward: 0 }).keys()], []);
});

Deno.test("Python string helpers match CPython", () => {
  assertEquals(
    [1, 0.5, 0, 1e-5, 1e16, 123456.789, 2 / 3, -2].map(pyFloatStr),
    ["1.0", "0.5", "0.0", "1e-05", "1e+16", "123456.789", "0.6666666666666666", "-2.0"],
  );
  assertEquals(pyStrip("\x1f\ufeff a \u00a0"), "\ufeff a");
  assertEquals(pyJsonDumps({ b: 'x"é', a: "\n" }), '{"b": "x\\"\\u00e9", "a": "\\n"}');
  assertEquals(
    flaskToJson({ b: "<'&>", a: "1" }),
    '{"a": "1", "b": "\\u003c\\u0027\\u0026\\u003e"}',
  );
  assertThrows(() => renderSearchPage("html" as "text", INST), Error, "observation mode");
});

Deno.test("the search page's text_rich state reduces to the human goal as train_choice_il does", () => {
  // process_goal() strips "webshop\ninstruction:" and "\n[button] search [button_]": both must
  // be exactly where our search page puts them for demonstrations to line up with goals.
  const inst = "I need a Blue wireless headset, and price lower than 40.00 dollars";
  assertEquals(ilGoalText(renderSearchPage("text_rich", inst)), "i need a blue wireless headset");
});
