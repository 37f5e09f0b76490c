const linesOf = (text) => (text === "" ? [] : text.replace(/\n$/, "").split("\n"));

export function diffLines(before, after) {
  const a = linesOf(before);
  const b = linesOf(after);
  // suffix[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const width = b.length + 1;
  const suffix = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      suffix[i * width + j] =
        a[i] === b[j] ? suffix[(i + 1) * width + j + 1] + 1 : Math.max(suffix[(i + 1) * width + j], suffix[i * width + j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j] && suffix[i * width + j] === suffix[(i + 1) * width + j + 1] + 1) {
      ops.push({ op: "equal", line: a[i++] });
      j++;
    } else if (i < a.length && (j === b.length || suffix[(i + 1) * width + j] === suffix[i * width + j])) {
      ops.push({ op: "delete", line: a[i++] });
    } else {
      ops.push({ op: "insert", line: b[j++] });
    }
  }
  return ops;
}

const prefixes = { equal: " ", delete: "-", insert: "+" };

export function formatDiff(ops) {
  return ops.map((op) => prefixes[op.op] + op.line).join("\n");
}
