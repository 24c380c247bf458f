// Browser test of the dashboard card against the real Home Assistant of scripts/develop.
//
// Starts scripts/develop (fresh temporary config, a free loopback port, the simulated panels),
// logs in as dev/dev, puts the card on the default dashboard, and in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core; no browser is downloaded) checks:
//   1. the card loads with no console errors;
//   2. a session started from the card runs on the simulated panel;
//   3. the countdown moves while no state changes;
//   4. a refusal is shown.
// Saves screenshots (light/dark x phone/desktop) to frontend/screenshots/ (git-ignored) and
// card_first_render_ms to frontend/screenshots/metrics.json. Stops everything it started.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const shots = resolve(here, "../screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const LIGHT = "light.blockbluelight_f522";
const TIMER = "sensor.blockbluelight_f522_session_timer";
const log = (...args) => console.error("browser test:", ...args);

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on("error", fail);
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function until(what, check, seconds = 120) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const config = mkdtempSync(join(tmpdir(), "rlt-browser-"));
mkdirSync(shots, { recursive: true });
log(`starting scripts/develop on ${base} with config ${config}`);
const hassLog = [];
const hass = spawn(join(root, "scripts/develop"), ["--fresh"], {
  cwd: root,
  detached: true,
  stdio: ["ignore", "pipe", "pipe"],
  env: {
    ...process.env,
    RLT_DEV_PORT: String(port),
    RLT_DEV_CONFIG: config,
    // Another loopback address than a developer's own scripts/develop uses for its Tuya panel.
    RLT_DEV_TUYA_HOST: "127.0.0.3",
  },
});
hass.stdout.on("data", (d) => hassLog.push(String(d)));
hass.stderr.on("data", (d) => hassLog.push(String(d)));
let browser;
let current;

function stopAll() {
  try {
    process.kill(-hass.pid, "SIGTERM");
  } catch {}
}
process.on("exit", stopAll);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

async function api(path, token, body) {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function login() {
  const clientId = `${base}/`;
  const post = async (path, data, form = false) => {
    const response = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "Content-Type": form ? "application/x-www-form-urlencoded" : "application/json" },
      body: form ? new URLSearchParams(data) : JSON.stringify(data),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  };
  const flow = await post("/auth/login_flow", { client_id: clientId, handler: ["homeassistant", null], redirect_uri: clientId });
  const result = await post(`/auth/login_flow/${flow.flow_id}`, { client_id: clientId, username: "dev", password: "dev" });
  if (!result.result) throw new Error("no login yet");
  const tokens = await post("/auth/token", { grant_type: "authorization_code", code: result.result, client_id: clientId }, true);
  return { ...tokens, clientId };
}

let failed = false;
const results = [];
function check(name, ok, detail = "") {
  results.push(`${ok ? "PASS" : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
  if (!ok) failed = true;
  log(results.at(-1));
}

try {
  const tokens = await until("Home Assistant and the dev user", login, 300);
  const token = tokens.access_token;
  await until("the simulated panel", async () => (await api(`/api/states/${LIGHT}`, token)).state === "off", 120);
  log("Home Assistant is up with the simulated panel");

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // No --user-data-dir here: playwright-core gives every launch a fresh temporary profile
      // of its own and deletes it on close.
    ],
  });

  const stored = JSON.stringify({
    access_token: token,
    token_type: "Bearer",
    expires_in: tokens.expires_in,
    refresh_token: tokens.refresh_token,
    hassUrl: base,
    clientId: tokens.clientId,
    expires: Date.now() + tokens.expires_in * 1000,
  });

  async function open(options) {
    const context = await browser.newContext(options);
    await context.addInitScript((value) => localStorage.setItem("hassTokens", value), stored);
    const page = await context.newPage();
    const errors = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${base}/lovelace/0`);
    page.on("requestfailed", (request) => request.url().includes("red-light") && errors.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
    await page.waitForFunction(
      () => document.querySelector("home-assistant")?.hass?.entities && customElements.get("red-light-therapy-card"),
      null,
      { timeout: 60000 },
    );
    current = page;
    return { context, page, errors };
  }

  // The card on the default dashboard, for the panel's device (found as the card's editor does).
  let { context, page, errors } = await open({ viewport: { width: 1280, height: 900 } });
  const device = await page.evaluate((light) => document.querySelector("home-assistant").hass.entities[light].device_id, LIGHT);
  await page.evaluate(
    (config) => document.querySelector("home-assistant").hass.callWS({ type: "lovelace/config/save", config }),
    { title: "Therapy", views: [{ title: "Therapy", path: "0", cards: [{ type: "custom:red-light-therapy-card", device }] }] },
  );
  await context.close();
  ({ context, page, errors } = await open({ viewport: { width: 1280, height: 900 } }));
  const card = page.locator("red-light-therapy-card");
  await card.locator("ha-card").waitFor({ timeout: 30000 });
  await card.locator("h2").waitFor();
  await sleep(1500);
  check("the card loads with no console errors", errors.length === 0, errors.join(" | "));

  // First render, measured in this browser: element created to its first rendered update.
  const firstRender = await page.evaluate(async (deviceId) => {
    const hass = document.querySelector("home-assistant").hass;
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const element = document.createElement("red-light-therapy-card");
      element.setConfig({ type: "custom:red-light-therapy-card", device: deviceId, show_chart: false });
      element.hass = hass;
      document.body.append(element);
      await element.updateComplete;
      runs.push(performance.now() - start);
      element.remove();
    }
    runs.sort((a, b) => a - b);
    return runs[2];
  }, device);
  log(`card_first_render_ms (median of 5) = ${firstRender.toFixed(1)}`);

  // 2. Start a 2-minute session from the card.
  await card.getByRole("radio", { name: "By minutes" }).check();
  await card.getByRole("spinbutton", { name: "Minutes" }).fill("2");
  await card.getByRole("button", { name: "Preview" }).click();
  await card.locator(".preview").waitFor({ timeout: 15000 });
  await card.getByRole("button", { name: "Start" }).click();
  await until("the panel on", async () => (await api(`/api/states/${LIGHT}`, token)).state === "on", 30);
  const sessionStarted = Date.now();
  const status = await api("/api/services/rlt_simulator/status?return_response", token, {});
  const panel = status.service_response.panels.find((p) => p.is_on !== undefined && String(p.address ?? "").includes("3C:AB"));
  check("a session started from the card runs on the simulated panel", panel?.is_on === true, JSON.stringify(panel));
  await card.locator(".badge.active").waitFor({ timeout: 15000 });

  // 3. The countdown moves while no state changes.
  await sleep(1200);
  const before = { clock: await card.locator(".clock").textContent(), timer: await api(`/api/states/${TIMER}`, token) };
  await sleep(3200);
  const after = { clock: await card.locator(".clock").textContent(), timer: await api(`/api/states/${TIMER}`, token) };
  check(
    "the countdown moves while no state changes",
    before.clock !== after.clock && before.timer.last_updated === after.timer.last_updated,
    `${before.clock} -> ${after.clock}; timer last_updated ${before.timer.last_updated} -> ${after.timer.last_updated}`,
  );

  // The visual editor renders a form with the device picker; the card is in the card picker.
  const editor = await page.evaluate(async () => {
    const element = await customElements.get("red-light-therapy-card").getConfigElement();
    element.hass = document.querySelector("home-assistant").hass;
    element.setConfig({ type: "custom:red-light-therapy-card" });
    document.body.append(element);
    await element.updateComplete;
    const form = element.shadowRoot.querySelector("ha-form");
    const picked = (window.customCards ?? []).some((card) => card.type === "red-light-therapy-card" && card.preview);
    element.remove();
    return { form: !!form, fields: form?.schema?.map((field) => field.name), picked };
  });
  check("the editor shows its form and the card is in the card picker", editor.form && editor.picked, JSON.stringify(editor));

  // Screenshots of a running session: light and dark, phone (390 px) and desktop.
  for (const scheme of ["light", "dark"]) {
    for (const [name, viewport] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 900 }]]) {
      const shot = await open({ viewport, colorScheme: scheme });
      const shotCard = shot.page.locator("red-light-therapy-card");
      await shotCard.locator(".badge").waitFor({ timeout: 30000 });
      await sleep(1200);
      await shotCard.screenshot({ path: join(shots, `card-${scheme}-${name}.png`) });
      check(`no console errors (${scheme}, ${name})`, shot.errors.length === 0, shot.errors.join(" | "));
      await shot.context.close();
    }
  }

  // 4. A refusal is shown: stop, then start again at once on the same area. The first session
  // must count as a treatment for the spacing to lock the area (README: at least 30 s on and
  // 1 J/cm²), so it runs 40 s before it is stopped.
  await sleep(Math.max(0, 40000 - (Date.now() - sessionStarted)));
  await card.getByRole("button", { name: "Stop" }).click();
  await until("the panel off", async () => (await api(`/api/states/${LIGHT}`, token)).state === "off", 30);
  await card.getByRole("button", { name: "Start" }).waitFor({ timeout: 15000 });
  await card.getByRole("spinbutton", { name: "Minutes" }).fill("2");
  await card.getByRole("button", { name: "Start" }).click();
  const refusal = card.locator(".refused").first();
  let refusalText = "";
  try {
    await refusal.waitFor({ timeout: 15000 });
    refusalText = (await refusal.textContent()).trim();
  } catch {}
  const stillOff = (await api(`/api/states/${LIGHT}`, token)).state === "off";
  check("a refusal is shown", refusalText.length > 0 && stillOff, refusalText);
  await page.waitForTimeout(300);
  await card.screenshot({ path: join(shots, "card-refused-light-desktop.png") });

  // Keyboard alone: the minutes field and Preview are reached with Tab and work with Enter.
  await card.getByRole("spinbutton", { name: "Minutes" }).focus();
  await page.keyboard.press("Tab");
  const focused = await card.evaluate((element) => element.shadowRoot.activeElement?.textContent?.trim());
  await page.keyboard.press("Enter");
  await card.locator(".refused, .preview").first().waitFor({ timeout: 15000 });
  check("the keyboard reaches Preview and Enter presses it", focused === "Preview", String(focused));
  writeFileSync(join(shots, "metrics.json"), JSON.stringify({ card_first_render_ms: Number(firstRender.toFixed(1)) }) + "\n");
  await context.close();
} catch (error) {
  failed = true;
  log("error:", error?.stack ?? error);
  if (current) {
    await current.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
    log("page:", await current.evaluate(() => JSON.stringify({
      url: location.href,
      defined: !!customElements.get("red-light-therapy-card"),
      scripts: [...document.querySelectorAll("script")].map((s) => s.src || s.textContent.slice(0, 120)).filter((s) => s.includes("red-light")),
    })).catch((e) => String(e)));
  }
  log("Home Assistant's last output:\n" + hassLog.join("").split("\n").filter((l) => !l.includes(" DEBUG ")).slice(-40).join("\n"));
} finally {
  if (browser) await browser.close().catch(() => {});
  stopAll();
  await until("Home Assistant to stop", async () => hass.exitCode !== null || hass.signalCode !== null, 60).catch(() => {});
  rmSync(config, { recursive: true, force: true });
}
console.log(results.join("\n"));
process.exit(failed ? 1 : 0);
