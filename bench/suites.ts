import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "../server/config-error.ts";
import { projectPath } from "../server/project-root.ts";
import { describeProblems } from "./json-files.ts";

/**
 * A task suite: the builtin tasks in bench/tasks, or a folder in the Exercism practice-exercise
 * layout that Aider's polyglot benchmark uses (`.meta/config.json` naming solution, test and example
 * files, `.docs/instructions*.md`). Tasks are plain data; the runner copies their files.
 */

export type TaskFile = { source: string; target: string };

/** The test runners whose output the benchmark can count tests in (bench/hidden-tests.ts). */
export type TestRunner = "unittest" | "pytest" | "node" | "vitest";

export type BenchTask = {
  slug: string;
  title: string;
  language: "python" | "javascript" | "typescript";
  difficulty: "easy" | "medium" | "hard";
  prompt: string;
  /** Runs after the agent stops, in a folder of its own holding the starter, solution and test files. */
  testCommand: string[];
  /** Which runner the command starts: a pass needs a positive count of passed tests in its output. */
  testRunner: TestRunner;
  starter: TaskFile[];
  /** Hidden from the agent; the tests run from a clean copy of them. */
  tests: TaskFile[];
  /** Copied over the starter files by the oracle driver; their targets are the files the tests take from the agent's workspace. */
  solution: TaskFile[];
};

export type Suite = { name: string; path: string; tasks: BenchTask[] };

export const builtinSuitePath = projectPath("bench", "tasks");

const taskJsonSchema = z.object({
  title: z.string().min(1),
  language: z.enum(["python", "javascript", "typescript"]),
  difficulty: z.enum(["easy", "medium", "hard"]),
  prompt: z.string().min(1),
  test: z.array(z.string().min(1)).min(1),
});

const exercismConfigSchema = z.object({
  files: z.object({
    solution: z.array(z.string()).min(1),
    test: z.array(z.string()).min(1),
    example: z.array(z.string()).min(1),
  }),
  difficulty: z.enum(["easy", "medium", "hard"]).optional(),
});

/** A suite folder the benchmark cannot use: one line and exit 78 wherever it is read, a resumed run's reload too. */
export class SuiteError extends ConfigError {}

/** Why a suite's JSON file was refused, on one line: the fields at fault, or the parser's reason. */
const problemOf = (error: unknown) =>
  error instanceof z.ZodError ? describeProblems(error) : (error as Error).message.replace(/\s+/g, " ");

/** Every file under a folder, as paths relative to it. */
function filesUnder(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort();
}

const filesOf = (folder: string): TaskFile[] => filesUnder(folder).map((target) => ({ source: join(folder, target), target }));

/** The runner a test command starts, or undefined when the benchmark cannot count its tests. */
function runnerOf(command: string[]): TestRunner | undefined {
  const [program, ...args] = command;
  if (program === "vitest") return "vitest";
  if (/^python3?$/.test(program!) && args[0] === "-m" && (args[1] === "unittest" || args[1] === "pytest")) return args[1];
  if (program === "pytest") return "pytest";
  if (program === "node" && args.includes("--test")) return "node";
  return undefined;
}

function loadBuiltinTask(folder: string): BenchTask {
  let parsed: z.infer<typeof taskJsonSchema>;
  try {
    parsed = taskJsonSchema.parse(JSON.parse(readFileSync(join(folder, "task.json"), "utf8")));
  } catch (error) {
    throw new SuiteError(`${join(folder, "task.json")} is not a valid task: ${problemOf(error)}`);
  }
  const testRunner = runnerOf(parsed.test);
  if (!testRunner) {
    throw new SuiteError(
      `${join(folder, "task.json")}: the test command must start python3 -m unittest, python3 -m pytest, pytest, node --test or vitest, whose output says how many tests passed.`,
    );
  }
  return {
    slug: basename(folder),
    title: parsed.title,
    language: parsed.language,
    difficulty: parsed.difficulty,
    prompt: parsed.prompt,
    testCommand: withShippedVitest(parsed.test),
    testRunner,
    starter: filesOf(join(folder, "starter")),
    tests: filesOf(join(folder, "tests")),
    solution: filesOf(join(folder, "solution")),
  };
}

/** The vitest shipped with Botboard runs Exercism's Jest-style JavaScript specs (describe/test/expect). */
const vitestCli = projectPath("node_modules", "vitest", "vitest.mjs");

/** A task's test command may start with `vitest`: the one shipped with Botboard (workspaces have no node_modules). */
function withShippedVitest(command: string[]): string[] {
  return command[0] === "vitest" ? [process.execPath, vitestCli, ...command.slice(1)] : command;
}

/** Jest-style globals, with Exercism's xtest, xit and xdescribe (skipped for students) run like test, it and describe. */
const exercismVitestConfig = projectPath("bench", "exercism-vitest.config.mjs");

function exercismTestCommand(language: BenchTask["language"], testFiles: string[]): string[] {
  if (language === "python")
    return ["python3", "-m", "unittest", ...testFiles.map((file) => file.replace(/\.py$/, "").replaceAll("/", "."))];
  return [process.execPath, vitestCli, "run", "--config", exercismVitestConfig, "--root", ".", ...testFiles];
}

function loadExercismTask(folder: string): BenchTask {
  let config: z.infer<typeof exercismConfigSchema>;
  try {
    config = exercismConfigSchema.parse(JSON.parse(readFileSync(join(folder, ".meta", "config.json"), "utf8")));
  } catch (error) {
    throw new SuiteError(`${join(folder, ".meta/config.json")} does not name solution, test and example files: ${problemOf(error)}`);
  }
  const { solution, test, example } = config.files;
  const language = solution[0]!.endsWith(".py") ? "python" : solution[0]!.endsWith(".js") ? "javascript" : undefined;
  if (!language) throw new SuiteError(`${folder}: only Python and JavaScript exercises are supported (found ${solution[0]}).`);
  const docs = join(folder, ".docs");
  const instructions = existsSync(docs)
    ? readdirSync(docs)
        .filter((name) => /^instructions.*\.md$/.test(name))
        .sort()
        .map((name) => readFileSync(join(docs, name), "utf8").trim())
    : [];
  if (instructions.length === 0) throw new SuiteError(`${folder}: no .docs/instructions.md.`);
  const hidden = new Set([".meta", ".docs", ".exercism"]);
  const starter = filesUnder(folder)
    .filter((file) => !hidden.has(file.split("/")[0]!))
    .map((target) => ({ source: join(folder, target), target }));
  return {
    slug: basename(folder),
    title: basename(folder),
    language,
    difficulty: config.difficulty ?? "medium",
    // As in Aider's benchmark: the instructions, then which files to edit; the tests are in sight (a clean copy is what runs).
    prompt: [
      ...instructions,
      `Use the above instructions to modify the supplied files: ${solution.join(", ")}. Keep the names of the functions and classes the tests use. The tests are in ${test.join(", ")}; do not change them.`,
    ].join("\n\n"),
    testCommand: exercismTestCommand(language, test),
    testRunner: language === "python" ? "unittest" : "vitest",
    starter,
    tests: test.map((target) => ({ source: join(folder, target), target })),
    solution: example.map((file, index) => ({ source: join(folder, file), target: solution[index] ?? solution[0]! })),
  };
}

/** Exercise folders (those holding .meta/config.json) under a path, a few levels deep. */
function findExercises(root: string, depth = 0): string[] {
  if (existsSync(join(root, ".meta", "config.json"))) return [root];
  if (depth >= 4) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith(".") && entry.name !== "node_modules")
    .flatMap((entry) => findExercises(join(root, entry.name), depth + 1))
    .sort();
}

/** `builtin`, or a path to builtin-style tasks (task.json) or to Exercism-layout exercises. */
export function loadSuite(nameOrPath: string, only?: string[]): Suite {
  const path = nameOrPath === "builtin" ? builtinSuitePath : resolve(nameOrPath);
  if (nameOrPath === "builtin" && !existsSync(path)) {
    throw new SuiteError(
      "The built-in tasks come with a clone of Botboard, not with the installed package: run the benchmark from a clone.",
    );
  }
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new SuiteError(`No suite folder at ${path}.`);
  const builtinStyle = readdirSync(path).filter((name) => existsSync(join(path, name, "task.json")));
  const tasks =
    builtinStyle.length > 0
      ? builtinStyle.sort().map((name) => loadBuiltinTask(join(path, name)))
      : findExercises(path).map(loadExercismTask);
  const chosen = only && only.length > 0 ? tasks.filter((task) => only.includes(task.slug)) : tasks;
  if (only) {
    const missing = only.filter((slug) => !tasks.some((task) => task.slug === slug));
    if (missing.length > 0) throw new SuiteError(`The suite has no task ${missing.join(", ")}.`);
  }
  if (chosen.length === 0) throw new SuiteError(`No tasks found in ${path}.`);
  return { name: nameOrPath === "builtin" ? "builtin" : basename(path) || dirname(path), path, tasks: chosen };
}
