import { mkdirSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, onTestFinished } from "vitest";

/** Screenshots go here (ignored by git); a folder path ending in a slash, so `${artifactsDir}${name}` is inside it. */
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

/**
 * One Chromium for the whole test file (both databases' suites), launched on first use and closed
 * after the file's tests. Call it at the top of the file.
 */
export function chromiumForThisFile(): () => Promise<Browser> {
  let launched: Promise<Browser> | undefined;
  afterAll(async () => {
    await (await launched)?.close();
  });
  return () => {
    launched ??= launchChromium();
    return launched;
  };
}

export type OpenPage = { context: BrowserContext; page: Page; watch: PageWatch };

/**
 * A page in a context of its own, at the size the screenshots use, watched for script errors and
 * dialogs; signed in when given an engineer's session cookie ("name=value") for the server at `url`.
 */
export async function openPage(browser: Browser, signedIn?: { cookie: string; url: string }): Promise<OpenPage> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, reducedMotion: "reduce" });
  if (signedIn) {
    const [name, value] = signedIn.cookie.split("=");
    await context.addCookies([{ name: name!, value: value!, url: signedIn.url }]);
  }
  const page = await context.newPage();
  return { context, page, watch: watchPage(page) };
}

/**
 * openPage for the running test alone: its context closes when the test ends, pass or fail, so a
 * live feed it left open does not keep streaming beside the tests after it.
 */
export async function openPageForThisTest(browser: Browser, signedIn?: { cookie: string; url: string }): Promise<OpenPage> {
  const opened = await openPage(browser, signedIn);
  onTestFinished(() => opened.context.close());
  return opened;
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
