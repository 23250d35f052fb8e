// Headless Chromium (Debian's `chromium` package) driven by playwright-core, for the console
// tests: one browser per test file, a fresh context per case, screenshots under .cache/screenshots.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { REPO_ROOT } from "./server.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(REPO_ROOT, ".cache", "screenshots");

/** Starts headless Chromium (no sandbox: tests may run as root). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/**
 * Saves a full-page screenshot as .cache/screenshots/<name>.png and prints where (with `log`:
 * a program whose stdout is read prints to stderr).
 */
export async function screenshot(
  page: Page,
  name: string,
  log: (line: string) => void = console.log,
): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot: ${path}`);
  return path;
}

/** Collects the page's uncaught errors and console errors, for a test to check at its end. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    // A refused call (401, 404, ...) is an answer the page handles, not an error of the page.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource"))
      errors.push(`console: ${msg.text()}`);
  });
  return errors;
}
