import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { emptyResult, type Driver } from "./driver.ts";

/** Copies the task's reference solution into the workspace: every trial must pass, at no cost. */
export const oracleDriver: Driver = {
  name: "oracle",
  async check() {},
  async run({ task, workspace }) {
    for (const file of task.solution) {
      const target = join(workspace, file.target);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(file.source, target);
    }
    return emptyResult();
  },
};

/** Leaves the starter files as they are: every trial must fail, or a task's tests prove nothing. */
export const nullDriver: Driver = {
  name: "null",
  async check() {},
  async run() {
    return emptyResult();
  },
};
