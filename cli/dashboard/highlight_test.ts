import assert from "node:assert/strict";
import { highlightJson, highlightYaml } from "./highlight.ts";
import { lineText } from "./styled_text.ts";

/** The coloured parts of a line, as `color:text`. */
function colored(line: ReturnType<typeof highlightYaml>[number]): string[] {
  return line.filter((s) => s.color).map((s) => `${s.color}:${s.text}`);
}

Deno.test("highlightYaml colours keys, scalars, list marks and comments, and keeps every character", () => {
  const source = [
    "# a package",
    "id: greet",
    "queues:",
    "  - id: greetings # the first",
    "    retries: 3",
    "    public: true",
    '    name: "Quoted: text"',
    "    note: |",
    "---",
  ].join("\n");
  const lines = highlightYaml(source);
  assert.deepEqual(lines.map(lineText), source.split("\n"));
  assert.deepEqual(colored(lines[0]), ["gray:# a package"]);
  assert.deepEqual(colored(lines[1]), ["cyan:id", "green:greet"]);
  assert.deepEqual(colored(lines[2]), ["cyan:queues"]);
  assert.deepEqual(colored(lines[3]), [
    "blue:-",
    "cyan:id",
    "green:greetings",
    "gray: # the first",
  ]);
  assert.deepEqual(colored(lines[4]), ["cyan:retries", "magenta:3"]);
  assert.deepEqual(colored(lines[5]), ["cyan:public", "yellow:true"]);
  assert.deepEqual(colored(lines[6]), ["cyan:name", 'green:"Quoted: text"']);
  assert.deepEqual(colored(lines[7]), ["cyan:note", "blue:|"]);
  assert.deepEqual(colored(lines[8]), ["blue:---"]);
});

Deno.test("highlightJson colours keys, strings, numbers and keywords", () => {
  const source =
    '{\n  "name": "Ada",\n  "n": -1.5e3,\n  "ok": true,\n  "x": null\n}';
  const lines = highlightJson(source);
  assert.deepEqual(lines.map(lineText), source.split("\n"));
  assert.deepEqual(colored(lines[1]), ['cyan:"name"', 'green:"Ada"']);
  assert.deepEqual(colored(lines[2]), ['cyan:"n"', "magenta:-1.5e3"]);
  assert.deepEqual(colored(lines[3]), ['cyan:"ok"', "yellow:true"]);
  assert.deepEqual(colored(lines[4]), ['cyan:"x"', "yellow:null"]);
});
