import { nullDriver, oracleDriver } from "./calibration.ts";
import { claudeCodeDriver } from "./claude-code.ts";
import { codexDriver } from "./codex.ts";
import { DriverUnavailable, type Driver } from "./driver.ts";
import { openaiDriver } from "./openai.ts";

export const drivers: Record<string, Driver> = {
  oracle: oracleDriver,
  null: nullDriver,
  "claude-code": claudeCodeDriver,
  codex: codexDriver,
  openai: openaiDriver,
};

export function driverNamed(name: string): Driver {
  const driver = drivers[name];
  if (!driver) throw new DriverUnavailable(`No driver '${name}'; drivers are ${Object.keys(drivers).join(", ")}.`);
  return driver;
}
