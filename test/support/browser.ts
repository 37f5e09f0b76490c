import { mkdirSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const artifactsDir = new URL("../../test-artifacts/", import.meta.url).pathname;

/** Debian's Chromium, headless; one per test file. */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(artifactsDir, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}
