// Browser test of the dashboard card against the real Home Assistant of scripts/develop.
//
// Starts scripts/develop (fresh temporary config, a free loopback port, the simulated panels),
// logs in as dev/dev, puts the card on the default dashboard, and in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core; no browser is downloaded) checks:
//   1. the card loads with no console errors;
//   2. a session started from the card runs on the simulated panel;
//   3. the countdown moves while no state changes;
//   4. a refusal is shown.
//   5. today's dose and the week's sessions are shown against the treatment area's limits.
//   6. in a household (two persons added), the card shows who is using the panel, picks a person
//      through the panel's select and shows that person's dose; and whose session runs.
// Saves screenshots (light/dark x phone/desktop) to frontend/screenshots/ (git-ignored) and
// card_first_render_ms to frontend/screenshots/metrics.json. Stops everything it started.
//
// RLT_BROWSER_HA_ROOT=<a Debian root with the newest Home Assistant in /opt/ha> (what
// `scripts/test-browser --ha-latest` sets): Home Assistant runs there instead (chroot, same
// network, so Chromium outside reaches it), on a copy of the integration and the dev
// configuration in a temporary folder inside that root; screenshots get a "-latest" suffix.
import { spawn } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
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
// A dashboard of its own: Home Assistant 2026.x's default page is its new "home" overview, and
// /lovelace redirects there.
const DASHBOARD = "rlt-card-test";
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
const haRoot = process.env.RLT_BROWSER_HA_ROOT;
const suffix = haRoot ? "-latest" : "";
mkdirSync(shots, { recursive: true });
const hassLog = [];
const devEnv = {
  RLT_DEV_PORT: String(port),
  // Another loopback address than a developer's own scripts/develop uses for its Tuya panel.
  RLT_DEV_TUYA_HOST: "127.0.0.3",
};
let config;
let hass;
if (haRoot) {
  // A copy of what scripts/develop needs, inside the root; its .venv is the root's /opt/ha
  // (bin and lib linked, the stamp of requirements_dev.txt written: scripts/develop must not
  // pip-install the 2025.4.4 pins into the newest Home Assistant's environment).
  config = mkdtempSync(join(haRoot, "tmp", "rlt-browser-"));
  const inside = `/tmp/${config.split("/").pop()}`;
  for (const path of ["custom_components/red_light_therapy", "scripts/develop", "scripts/develop_config", "blueprints", "requirements_dev.txt"]) {
    cpSync(join(root, path), join(config, "src", path), { recursive: true, filter: (from) => !from.includes("__pycache__") });
  }
  const venv = join(config, "src", ".venv");
  mkdirSync(venv);
  symlinkSync("/opt/ha/bin", join(venv, "bin"));
  symlinkSync("/opt/ha/lib", join(venv, "lib"));
  copyFileSync(join(haRoot, "opt/ha/pyvenv.cfg"), join(venv, "pyvenv.cfg"));
  const want = createHash("sha256").update(readFileSync(join(root, "requirements_dev.txt"))).digest("hex");
  writeFileSync(join(venv, ".requirements_dev.sha256"), `${want}\n`);
  log(`starting scripts/develop in ${haRoot} (the newest Home Assistant) on ${base} with config ${inside}/config`);
  hass = spawn(
    "chroot",
    [haRoot, "env", "-i", "HOME=/root", "PATH=/opt/ha/bin:/usr/bin:/bin", "LANG=C.UTF-8",
      ...Object.entries({ ...devEnv, RLT_DEV_CONFIG: `${inside}/config` }).map(([k, v]) => `${k}=${v}`),
      "bash", `${inside}/src/scripts/develop`, "--fresh"],
    { detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
} else {
  config = mkdtempSync(join(tmpdir(), "rlt-browser-"));
  log(`starting scripts/develop on ${base} with config ${config}`);
  hass = spawn(join(root, "scripts/develop"), ["--fresh"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...devEnv, RLT_DEV_CONFIG: config },
  });
}
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
  const version = (await api("/api/config", token)).version;
  log(`Home Assistant ${version} is up with the simulated panel`);
  check(`Home Assistant ${version}`, true);

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

  async function open(options, path = `${DASHBOARD}/0`) {
    const context = await browser.newContext(options);
    await context.addInitScript((value) => localStorage.setItem("hassTokens", value), stored);
    const page = await context.newPage();
    const errors = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${base}/${path}`);
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
  let { context, page, errors } = await open({ viewport: { width: 1280, height: 900 } }, "");
  const device = await page.evaluate((light) => document.querySelector("home-assistant").hass.entities[light].device_id, LIGHT);
  await page.evaluate(
    async ({ config, dashboard }) => {
      const hass = document.querySelector("home-assistant").hass;
      // Home Assistant 2026.x tries the HTTP settings of configuration.yaml (the test's port)
      // as "pending", asks in a dialog to confirm them and reverts (restarts) after five
      // minutes if nobody does: confirm them. Older versions have no such command.
      await hass.callWS({ type: "http/config/promote" }).catch(() => {});
      await hass.callWS({ type: "lovelace/dashboards/create", url_path: dashboard, title: "Therapy", mode: "storage" });
      await hass.callWS({ type: "lovelace/config/save", url_path: dashboard, config });
    },
    {
      dashboard: DASHBOARD,
      config: { title: "Therapy", views: [{ title: "Therapy", path: "0", cards: [{ type: "custom:red-light-therapy-card", device }] }] },
    },
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
  const status = await api("/api/services/rlt_simulator/status?return_response", token, {});
  const panel = status.service_response.panels.find((p) => p.is_on !== undefined && String(p.address ?? "").includes("3C:AB"));
  check("a session started from the card runs on the simulated panel", panel?.is_on === true, JSON.stringify(panel));
  await card.locator(".badge.active").waitFor({ timeout: 15000 });

  // 5. Today's dose and the week's sessions against the treatment area's limits, as the dose
  // sensors' attributes give them (x / y and a bar).
  const facts = await card.locator("dl.facts").first().textContent();
  const attributes = (await api(`/api/states/${LIGHT.replace("light.", "sensor.")}_dose_today`, token)).attributes;
  const weekly = (await api(`/api/states/${LIGHT.replace("light.", "sensor.")}_dose_this_week`, token)).attributes;
  const limitsShown =
    facts.includes(`/ ${attributes.max_daily_dose} J/cm²`) &&
    facts.includes(`${weekly.sessions_in_7_days} / ${weekly.max_sessions_per_week}`) &&
    (await card.locator(".bar").count()) === 2;
  check("today's dose and the week's sessions are shown against the area's limits", limitsShown,
    `${facts.replace(/\s+/g, " ").trim()} | ${JSON.stringify({ ...attributes, ...weekly })}`);

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
  check(
    "the editor shows its form (with the limits option) and the card is in the card picker",
    editor.form && editor.picked && editor.fields?.includes("show_limits"),
    JSON.stringify(editor),
  );

  // Screenshots of a running session: light and dark, phone (390 px) and desktop.
  for (const scheme of ["light", "dark"]) {
    for (const [name, viewport] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 900 }]]) {
      const shot = await open({ viewport, colorScheme: scheme });
      const shotCard = shot.page.locator("red-light-therapy-card");
      await shotCard.locator(".badge").waitFor({ timeout: 30000 });
      await sleep(1200);
      await shotCard.screenshot({ path: join(shots, `card-${scheme}-${name}${suffix}.png`) });
      check(`no console errors (${scheme}, ${name})`, shot.errors.length === 0, shot.errors.join(" | "));
      await shot.context.close();
    }
  }

  // 4. A refusal is shown: stop, log a 5-minute session that ended 25 minutes ago on the same
  // area (the few seconds run here are a test of the panel, not a treatment, so they alone
  // would not lock out), then start again: the spacing refuses.
  await card.getByRole("button", { name: "Stop" }).click();
  await until("the panel off", async () => (await api(`/api/states/${LIGHT}`, token)).state === "off", 30);
  await api("/api/services/red_light_therapy/log_session?return_response", token, {
    entity_id: LIGHT,
    started_at: new Date(Date.now() - 30 * 60_000).toISOString(),
    minutes: 5,
  });
  const logged = (await api(`/api/states/${LIGHT.replace("light.", "sensor.")}_dose_this_week`, token)).attributes;
  await until("the logged session counted on the card", async () =>
    (await card.locator("dl.facts").first().textContent()).includes(`${logged.sessions_in_7_days} / ${logged.max_sessions_per_week}`), 15)
    .then(() => check("the card's session count follows a logged session", logged.sessions_in_7_days === 1, JSON.stringify(logged)))
    .catch((error) => check("the card's session count follows a logged session", false, String(error)));
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
  await card.screenshot({ path: join(shots, `card-refused-light-desktop${suffix}.png`) });

  // Keyboard alone: the minutes field and Preview are reached with Tab and work with Enter.
  await card.getByRole("spinbutton", { name: "Minutes" }).focus();
  await page.keyboard.press("Tab");
  const focused = await card.evaluate((element) => element.shadowRoot.activeElement?.textContent?.trim());
  await page.keyboard.press("Enter");
  await card.locator(".refused, .preview").first().waitFor({ timeout: 15000 });
  check("the keyboard reaches Preview and Enter presses it", focused === "Preview", String(focused));
  // 6. A household: with a second person the panel gets "Who is using the panel" (its entry
  // reloads by itself); the card shows the persons as chips, a chip picks the person through
  // the select, and "Today" / "This week" become that person's own sensors against the limits.
  const householdErrors = errors.length;
  await page.evaluate(async () => {
    const hass = document.querySelector("home-assistant").hass;
    const listed = await hass.callWS({ type: "person/list" });
    const names = [...(listed.storage ?? []), ...(listed.config ?? [])].map((person) => person.name);
    for (const name of ["Alice", "Bob"]) if (!names.includes(name)) await hass.callWS({ type: "person/create", name });
  });
  const chips = card.locator(".persons .chip");
  try {
    await chips.getByText("Bob", { exact: true }).waitFor({ timeout: 90000 });
    await chips.getByText("Bob", { exact: true }).click();
    const select = await until("the select to say Bob", async () => {
      const states = await api("/api/states", token);
      const chosen = states.find((state) => state.entity_id.startsWith(LIGHT.replace("light.", "select.")) && state.attributes.options?.includes("Bob") && state.state === "Bob");
      return chosen && states;
    }, 30);
    const bobToday = select.find((state) => state.entity_id.startsWith(LIGHT.replace("light.", "sensor.")) && /Bob's dose today$/.test(state.attributes.friendly_name ?? ""));
    const panelToday = select.find((state) => state.entity_id === `${LIGHT.replace("light.", "sensor.")}_dose_today`);
    const shown = (value) => String(Number(Number(value).toFixed(2)));
    const expected = `Bob today${shown(bobToday.state)} / ${shown(bobToday.attributes.max_daily_dose)} J/cm²`;
    const text = await until("Bob's numbers on the card", async () => {
      const facts = (await card.locator("dl.facts").first().textContent()).replace(/\s+/g, "");
      return facts.includes(expected.replace(/\s+/g, "")) && facts.includes("Bobthisweek") ? facts : null;
    }, 15).catch(async () => (await card.locator("dl.facts").first().textContent()).replace(/\s+/g, " "));
    const pressed = await card.locator('.persons .chip[aria-pressed="true"]').allTextContents();
    check(
      "in a household the card shows who is using the panel and the chosen person's dose against the limits",
      text.replace(/\s+/g, "").includes(expected.replace(/\s+/g, "")) && pressed.join() === "Bob",
      `${text} | expected ${expected} | pressed ${pressed} | panel's today ${panelToday?.state}`,
    );
  } catch (error) {
    check("in a household the card shows who is using the panel and the chosen person's dose against the limits", false, String(error));
  }
  // Whose session: the card shows the timer's `person` while a session runs. The integration
  // writes it once sessions are recorded for a person; here the timer's state is set so (the
  // card's part alone), and the integration's next write puts it back.
  const timerNow = await api(`/api/states/${TIMER}`, token);
  const finishes = new Date(Date.now() + 5 * 60_000).toISOString();
  await api(`/api/states/${TIMER}`, token, {
    state: "active",
    attributes: { ...timerNow.attributes, duration: "0:05:00", remaining: "0:05:00", finishes_at: finishes, person: "Bob" },
  });
  const whose = await card.locator(".whose").textContent({ timeout: 15000 }).catch(() => "");
  check("while a session runs the card says whose it is", whose.trim() === "Bob's session", whose);
  await sleep(1000);
  await card.screenshot({ path: join(shots, `card-household-light-desktop${suffix}.png`) });
  check("no console errors in the household", errors.length === householdErrors, errors.slice(householdErrors).join(" | "));
  writeFileSync(join(shots, `metrics${suffix}.json`), JSON.stringify({ card_first_render_ms: Number(firstRender.toFixed(1)) }) + "\n");
  await context.close();
} catch (error) {
  failed = true;
  log("error:", error?.stack ?? error);
  if (current) {
    await current.screenshot({ path: join(shots, `failure${suffix}.png`) }).catch(() => {});
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
  writeFileSync(join(shots, `home-assistant${suffix}.log`), hassLog.join(""));
}
console.log(results.join("\n"));
process.exit(failed ? 1 : 0);
