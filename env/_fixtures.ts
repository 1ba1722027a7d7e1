/**
 * Hand-made products and goals for the env tests (private to env/).
 *
 * @module
 */

import { SHARED_DIR } from "../testing/requires.ts";
import type { Goal, Product } from "./types.ts";

/** A cleaned product with defaults for every field `over` leaves out. */
export function makeProduct(over: Partial<Product> & { asin: string; Title: string }): Product {
  return {
    name: over.Title,
    Description: "",
    BulletPoints: [],
    Attributes: ["DUMMY_ATTR"],
    category: "fashion",
    query: "shoes",
    product_category: "Clothing, Shoes & Jewelry › Shoes",
    pricing: [10],
    Price: "$10.0",
    price: 10,
    options: {},
    option_to_image: {},
    Reviews: [],
    Rating: "N.A.",
    MainImage: null,
    ...over,
  };
}

/** A goal for `p` asking for `attributes` and `options` (synthetic style, by name). */
export function makeGoal(
  p: Product,
  instruction: string,
  attributes: string[],
  options: Record<string, string> = {},
  priceUpper = 1000000,
): Goal {
  return {
    asin: p.asin,
    category: p.category,
    query: p.query,
    name: p.Title,
    product_category: p.product_category,
    instruction_text: instruction,
    attributes,
    price_upper: priceUpper,
    goal_options: options,
    weight: 1,
  };
}

/** Three shoes and a mug: enough for every page kind and a search with a clear winner. */
export function smallCatalog(): Product[] {
  return [
    makeProduct({
      asin: "B000000001",
      Title: "Red Running Shoes",
      Description: "Light running shoes in red.",
      BulletPoints: ["rubber sole", "machine wash"],
      Attributes: ["rubber sole", "machine wash"],
      pricing: [19.99],
      Price: "$19.99",
      price: 19.99,
      options: { color: ["red", "blue | white"], size: ["7", "8.5"] },
      option_to_image: { red: null, "blue | white": null, "7": null, "8.5": null },
    }),
    makeProduct({
      asin: "B000000002",
      Title: "Blue Walking Shoes",
      Description: "Comfortable walking shoes.",
      BulletPoints: ["memory foam"],
      Attributes: ["memory foam"],
      pricing: [25, 30],
      Price: "$25.0 to $30.0",
      price: 27.5,
    }),
    makeProduct({
      asin: "B000000003",
      Title: "Leather Dress Shoes",
      Description: "Formal leather shoes.",
      BulletPoints: ["leather"],
      Attributes: ["leather"],
    }),
    makeProduct({
      asin: "B000000004",
      Title: "Ceramic Coffee Mug",
      Description: "A mug for coffee.",
      BulletPoints: ["dishwasher safe"],
      Attributes: ["dishwasher safe"],
      category: "furniture",
      query: "mugs",
      product_category: "Home & Kitchen › Mugs",
    }),
  ];
}

/** The real WebShop sample beside the project (`../shared/webshop/`), used by tests only. */
export const SHARED = new URL("webshop/", SHARED_DIR);
