import { assertRejects, assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { listZip, parsePth, type PyGlobal, readPth, readZipEntry, unpickle } from "./pth.ts";
import { TensorFileError } from "./safetensors.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;

/** Truth for pth_misc.pth, written by make_bert_parity.py from the torch tensors themselves. */
async function miscTruth(): Promise<Record<string, { shape: number[]; data: number[] }>> {
  return JSON.parse(await Deno.readTextFile(`${FIXTURES}pth_misc.json`));
}

async function assertMisc(path: string): Promise<void> {
  const got = await readPth(path);
  const truth = await miscTruth();
  assert.deepEqual([...got.keys()].sort(), Object.keys(truth).map((k) => `model.${k}`).sort());
  for (const [k, t] of Object.entries(truth)) {
    const g = got.get(`model.${k}`)!;
    assert.deepEqual(g.shape, t.shape, k);
    assert.deepEqual([...g.data], t.data.map(Math.fround), k);
  }
}

Deno.test("readPth() reads strided, offset, shared, half, bfloat16, double, long, 0-d tensors", async () => {
  await assertMisc(`${FIXTURES}pth_misc.pth`);
});

Deno.test("readPth() inflates a deflated archive", async () => {
  const entries = listZip(await Deno.readFile(`${FIXTURES}pth_misc_deflated.pth`));
  assert.ok(entries.some((e) => e.method === 8));
  await assertMisc(`${FIXTURES}pth_misc_deflated.pth`);
});

Deno.test("readPth() refuses the legacy torch.save format with a clear message", async () => {
  await assertRejects(
    () => readPth(`${FIXTURES}pth_legacy.pth`),
    TensorFileError,
    "legacy (pre torch 1.6, non-zip) torch.save format is not supported",
  );
  await assertRejects(
    () => readPth(`${FIXTURES}nope.pth`),
    TensorFileError,
    "nope.pth: cannot read",
  );
});

/**
 * Re-packs entries as stored files into a ZIP64 archive: every size and offset in the central
 * directory is 0xffffffff with the real values in the ZIP64 extra field, and the end record is
 * found through the ZIP64 locator — what a >4 GiB checkpoint looks like.
 */
function zip64(files: { name: string; data: Uint8Array }[], method = 0): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, method, true);
    lv.setUint32(18, f.data.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const c = new Uint8Array(46 + name.length + 28);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, method, true);
    cv.setUint32(20, 0xffffffff, true);
    cv.setUint32(24, 0xffffffff, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, 28, true);
    cv.setUint32(42, 0xffffffff, true);
    c.set(name, 46);
    const x = 46 + name.length;
    cv.setUint16(x, 0x0001, true);
    cv.setUint16(x + 2, 24, true);
    cv.setBigUint64(x + 4, BigInt(f.data.length), true);
    cv.setBigUint64(x + 12, BigInt(f.data.length), true);
    cv.setBigUint64(x + 20, BigInt(offset), true);
    parts.push(local, f.data);
    central.push(c);
    offset += local.length + f.data.length;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const tail = new Uint8Array(56 + 20 + 22);
  const tv = new DataView(tail.buffer);
  tv.setUint32(0, 0x06064b50, true);
  tv.setBigUint64(32, BigInt(files.length), true);
  tv.setBigUint64(40, BigInt(cdSize), true);
  tv.setBigUint64(48, BigInt(cdOffset), true);
  tv.setUint32(56, 0x07064b50, true);
  tv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
  tv.setUint32(76, 0x06054b50, true);
  tv.setUint16(86, 0xffff, true);
  tv.setUint32(88, 0xffffffff, true);
  tv.setUint32(92, 0xffffffff, true);
  const all = [...parts, ...central, tail];
  const out = new Uint8Array(all.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of all) (out.set(p, at), at += p.length);
  return out;
}

Deno.test("parsePth() reads a ZIP64 archive and names unsupported compression", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}pth_misc.pth`);
  const files = await Promise.all(
    listZip(bytes).map(async (e) => ({ name: e.name, data: await readZipEntry(bytes, e) })),
  );
  const z = zip64(files);
  assert.deepEqual(listZip(z).map((e) => e.name), files.map((f) => f.name));
  const got = await parsePth(z, "z64.pth");
  const truth = await miscTruth();
  assert.deepEqual([...got.get("model.transposed")!.data], truth.transposed.data);
  await assertRejects(
    () => parsePth(zip64(files, 12), "bz.pth"),
    TensorFileError,
    "uses compression method 12",
  );
  await assertRejects(
    () => parsePth(new Uint8Array(100), "zero.pth"),
    TensorFileError,
    "zero.pth: not a zip archive",
  );
});

Deno.test("unpickle() runs protocol 2 and 4 programs from Python's pickle", () => {
  // pickle.dumps(OrderedDict([('a', [1, -2, 300, 70000, 2.5, 'x', None, True, False]),
  //   ('t', (1, (2, 3))), ('big', 1 << 40)]), protocol=2)
  const p2 = Uint8Array.from([
    128,
    2,
    99,
    99,
    111,
    108,
    108,
    101,
    99,
    116,
    105,
    111,
    110,
    115,
    10,
    79,
    114,
    100,
    101,
    114,
    101,
    100,
    68,
    105,
    99,
    116,
    10,
    113,
    0,
    41,
    82,
    113,
    1,
    40,
    88,
    1,
    0,
    0,
    0,
    97,
    113,
    2,
    93,
    113,
    3,
    40,
    75,
    1,
    74,
    254,
    255,
    255,
    255,
    77,
    44,
    1,
    74,
    112,
    17,
    1,
    0,
    71,
    64,
    4,
    0,
    0,
    0,
    0,
    0,
    0,
    88,
    1,
    0,
    0,
    0,
    120,
    113,
    4,
    78,
    136,
    137,
    101,
    88,
    1,
    0,
    0,
    0,
    116,
    113,
    5,
    75,
    1,
    75,
    2,
    75,
    3,
    134,
    113,
    6,
    134,
    113,
    7,
    88,
    3,
    0,
    0,
    0,
    98,
    105,
    103,
    113,
    8,
    138,
    6,
    0,
    0,
    0,
    0,
    0,
    1,
    117,
    46,
  ]);
  const d = unpickle(p2) as Map<string, unknown>;
  assert.deepEqual(d.get("a"), [1, -2, 300, 70000, 2.5, "x", null, true, false]);
  assert.deepEqual(d.get("t"), [1, [2, 3]]);
  assert.equal(d.get("big"), 2 ** 40);
  // pickle.dumps({'k': ['v', 1.5]}, protocol=4): FRAME, MEMOIZE, SHORT_BINUNICODE
  const p4 = Uint8Array.from([
    128,
    4,
    149,
    25,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    125,
    148,
    140,
    1,
    107,
    148,
    93,
    148,
    40,
    140,
    1,
    118,
    148,
    71,
    63,
    248,
    0,
    0,
    0,
    0,
    0,
    0,
    101,
    115,
    46,
  ]);
  assert.deepEqual(unpickle(p4), new Map([["k", ["v", 1.5]]]));
  assertThrows(
    () => unpickle(Uint8Array.from([128, 2, 0xff]), "x.pkl"),
    TensorFileError,
    "opcode 0xff",
  );
  assertThrows(() => unpickle(Uint8Array.from([128, 2, 0x4e])), TensorFileError, "without STOP");
  const g = unpickle(
    Uint8Array.from("\x80\x02cfoo\nBar\nq\x00.", (c) => c.charCodeAt(0)),
  ) as PyGlobal;
  assert.equal(g.path, "foo.Bar");
});
