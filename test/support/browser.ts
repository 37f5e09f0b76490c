import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

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

export type PageWatch = {
  /** Messages of every alert/confirm/prompt the page opened. */
  dialogs: string[];
  /** Script errors and CSP violations; refused requests (4xx) are expected and left out. */
  problems: string[];
  /** Confirm dialogs are dismissed unless this is true. */
  acceptDialogs: boolean;
};

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { dialogs: [], problems: [], acceptDialogs: false };
  page.on("pageerror", (error) => watch.problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d|Response Status Error Code 4\d\d/.test(message.text())) {
      watch.problems.push(message.text());
    }
  });
  page.on("dialog", async (dialog) => {
    watch.dialogs.push(dialog.message());
    await (watch.acceptDialogs ? dialog.accept() : dialog.dismiss());
  });
  return watch;
}

/** Full-page screenshots in light and dark, saved as test-artifacts/<name>-<scheme>.png. */
export async function screenshotBothSchemes(page: Page, name: string): Promise<void> {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: `${artifactsDir}${name}-${colorScheme}.png`, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}
