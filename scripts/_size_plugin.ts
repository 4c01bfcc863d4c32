/**
 * A `deno lint` plugin that reports every function (declaration, expression,
 * arrow, method) with its length in lines, so scripts/code_sizes.ts measures
 * functions with Deno's own parser. It is not part of the project's lint
 * configuration: scripts/code_sizes.ts names it in a configuration of its own.
 *
 * @module
 */

type FunctionNode =
  | Deno.lint.FunctionDeclaration
  | Deno.lint.FunctionExpression
  | Deno.lint.ArrowFunctionExpression;

/** The name a function is known by: its own, its variable's, its key's. */
function nameOf(node: FunctionNode): string {
  if (
    (node.type === "FunctionDeclaration" ||
      node.type === "FunctionExpression") && node.id
  ) return node.id.name;
  const parent = node.parent;
  if (parent.type === "VariableDeclarator" && parent.id.type === "Identifier") {
    return parent.id.name;
  }
  if (
    (parent.type === "MethodDefinition" || parent.type === "Property" ||
      parent.type === "PropertyDefinition") &&
    parent.key.type === "Identifier"
  ) return parent.key.name;
  return "(anonymous)";
}

const plugin: Deno.lint.Plugin = {
  name: "sizes",
  rules: {
    fn: {
      create(context) {
        const text = context.sourceCode.text;
        const lineOf = (offset: number) =>
          text.slice(0, offset).split("\n").length;
        const report = (node: FunctionNode) => {
          const [start, end] = node.range;
          const lines = lineOf(end) - lineOf(start) + 1;
          context.report({ node, message: `${lines} ${nameOf(node)}` });
        };
        return {
          FunctionDeclaration: report,
          FunctionExpression: report,
          ArrowFunctionExpression: report,
        };
      },
    },
  },
};

export default plugin;
