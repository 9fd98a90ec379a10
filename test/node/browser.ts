/**
 * A headless Chromium for browser tests that needs nothing outside `npm ci`: a system Chromium when
 * one is installed (faster to start), else the one shipped inside the `@sparticuz/chromium` npm
 * package (its executablePath() unpacks it into the temp dir once). Which one ran is printed, so a
 * run's log says what rendered the screenshots.
 */
import { existsSync } from "node:fs";
import chromiumPackage from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

const SYSTEM_CHROMIUMS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/**
 * Flags of @sparticuz/chromium's list that loosen the page's security (same-origin policy, mixed
 * content): left out, so what the tests see about the CSP is what an admin's browser enforces.
 */
const WEAKENING_FLAGS = new Set(["--disable-web-security", "--allow-running-insecure-content"]);

const COMMON_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export async function launchBrowser(): Promise<Browser> {
  const system = process.env.CHROMIUM_PATH ?? SYSTEM_CHROMIUMS.find((path) => existsSync(path));
  if (system) {
    console.log(`browser: system Chromium at ${system}`);
    return chromium.launch({ executablePath: system, args: ["--headless", ...COMMON_FLAGS] });
  }
  const executablePath = await chromiumPackage.executablePath();
  console.log(`browser: @sparticuz/chromium (npm) at ${executablePath}`);
  return chromium.launch({
    executablePath,
    args: chromiumPackage.args.filter((flag) => !WEAKENING_FLAGS.has(flag)),
  });
}
