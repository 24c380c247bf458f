import { LitElement, css, html, nothing, svg, type PropertyValues, type TemplateResult } from "lit";
import {
  DOMAIN,
  type EntityEntry,
  type HassState,
  type Key,
  type Plan,
  countdown,
  dailyBars,
  withToday,
  against,
  decidingReason,
  formatClock,
  errorText,
  household,
  isRefused,
  sessionPerson,
  panelDevices,
  panelEntities,
  planOf,
  round,
  sessionDose,
  shownArea,
  shownProtocol,
} from "./logic";
import { reasonText, t, type StringKey } from "./strings";

interface Hass {
  states: Record<string, HassState>;
  entities?: Record<string, EntityEntry>;
  language?: string;
  locale?: { language?: string };
  callWS<T>(message: Record<string, unknown>): Promise<T>;
}

export interface CardConfig {
  type: string;
  device?: string;
  show_controls?: boolean;
  show_protocol?: boolean;
  show_chart?: boolean;
  show_limits?: boolean;
}

const CARD = "red-light-therapy-card";
const EDITOR = "red-light-therapy-card-editor";

function when(language: string | undefined, iso: unknown): string {
  if (typeof iso !== "string" || !iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "–";
  return date.toLocaleString(language, { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

export class RedLightTherapyCard extends LitElement {
  static properties = {
    hass: { attribute: false },
    _config: { state: true },
    _now: { state: true },
    _mode: { state: true },
    _amount: { state: true },
    _plan: { state: true },
    _message: { state: true },
    _weeks: { state: true },
    _bars: { state: true },
    _uniqueIds: { state: true },
  };

  declare hass: Hass | undefined;
  declare _config: CardConfig | undefined;
  declare _now: number;
  declare _mode: "dose" | "minutes";
  declare _amount: string;
  declare _plan: Plan | null;
  declare _message: string;
  declare _weeks: 1 | 4;
  declare _bars: { start: number; dose: number }[] | null;
  /** Unique ids of the panel's per-person sensors (entity registry), to tell whose each is. */
  declare _uniqueIds: Record<string, string>;
  private _uniqueIdsFor = "";
  private _tick: number | undefined;
  private _chartFor = "";

  constructor() {
    super();
    this._now = Date.now();
    this._mode = "dose";
    this._amount = "";
    this._plan = null;
    this._message = "";
    this._weeks = 1;
    this._bars = null;
    this._uniqueIds = {};
  }

  static getConfigElement(): HTMLElement {
    return document.createElement(EDITOR);
  }

  static getStubConfig(hass: Hass): CardConfig {
    return { type: `custom:${CARD}`, device: panelDevices(hass?.entities)[0] };
  }

  setConfig(config: CardConfig): void {
    if (!config) throw new Error("Invalid configuration");
    this._config = { show_controls: true, show_protocol: true, show_chart: true, show_limits: true, ...config };
  }

  getCardSize(): number {
    return 8;
  }

  connectedCallback(): void {
    super.connectedCallback();
    // The ring and the clock move once a second in the browser; no state is written.
    this._tick = window.setInterval(() => {
      if (this._state("session_timer")?.state === "active") this._now = Date.now();
    }, 1000);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this._tick);
  }

  private get _lang(): string | undefined {
    return this.hass?.locale?.language ?? this.hass?.language;
  }

  private _t(key: StringKey, values?: Record<string, string>): string {
    return t(this._lang, key, values);
  }

  private get _entities() {
    return panelEntities(this.hass?.entities, this._config?.device);
  }

  private _state(key: Key): HassState | undefined {
    const id = this._entities.byKey[key];
    return id ? this.hass?.states[id] : undefined;
  }

  /** The household on the panel (two persons or more), else null. */
  private get _household() {
    return this.hass ? household(this._entities, this.hass.states, this._uniqueIds) : null;
  }

  /** The "dose today" the card shows and charts: the chosen person's in a household. */
  private get _todayId(): string | undefined {
    return this._household?.today ?? this._entities.byKey.dose_today;
  }

  protected updated(changed: PropertyValues): void {
    if (changed.has("hass")) this._loadUniqueIds();
    if ((changed.has("hass") || changed.has("_weeks") || changed.has("_uniqueIds")) && this._config?.show_chart) {
      this._loadChart();
    }
  }

  /** Read the per-person sensors' unique ids once per set of sensors (households only). */
  private async _loadUniqueIds(): Promise<void> {
    const ids = this._entities;
    const wanted = [...ids.personToday, ...ids.personWeek];
    const key = wanted.join(",");
    if (!this.hass || key === this._uniqueIdsFor) return;
    this._uniqueIdsFor = key;
    if (!wanted.length) {
      this._uniqueIds = {};
      return;
    }
    try {
      const entries = await this.hass.callWS<Record<string, { unique_id?: string } | null>>({
        type: "config/entity_registry/get_entries",
        entity_ids: wanted,
      });
      const found: Record<string, string> = {};
      for (const [id, entry] of Object.entries(entries ?? {})) if (entry?.unique_id) found[id] = entry.unique_id;
      this._uniqueIds = found;
    } catch {
      // The sensors' names still tell whose each is.
    }
  }

  private _choose(person: string): void {
    const chosen = this._household;
    if (!this.hass || !chosen || person === chosen.current) return;
    this._message = "";
    this._plan = null; // a preview was for the person before
    this.hass
      .callWS({
        type: "call_service",
        domain: "select",
        service: "select_option",
        service_data: { option: person },
        target: { entity_id: chosen.select },
      })
      .catch((err) => {
        this._message = this._t("error", { message: errorText(err) });
      });
  }

  private async _loadChart(): Promise<void> {
    const today = this._todayId;
    if (!this.hass || !today) return;
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const key = `${today}|${this._weeks}|${midnight.getTime()}`;
    if (key === this._chartFor) return;
    this._chartFor = key;
    const days = this._weeks * 7;
    const start = new Date(midnight.getTime() - (days - 1) * 86_400_000);
    try {
      const result = await this.hass.callWS<Record<string, { start: number; change?: number }[]>>({
        type: "recorder/statistics_during_period",
        start_time: start.toISOString(),
        statistic_ids: [today],
        period: "day",
        types: ["change"],
      });
      this._bars = dailyBars(result[today], days, midnight.getTime());
    } catch {
      this._bars = dailyBars([], days, midnight.getTime());
    }
  }

  private async _call(service: string, data: Record<string, unknown> = {}, response = false): Promise<unknown> {
    const light = this._entities.byKey.panel;
    if (!this.hass || !light) return null;
    const result = await this.hass.callWS<{ response?: unknown }>({
      type: "call_service",
      domain: DOMAIN,
      service,
      service_data: data,
      target: { entity_id: light },
      ...(response ? { return_response: true } : {}),
    });
    return result?.response ?? null;
  }

  private _amountData(): Record<string, number> | null {
    const value = Number(this._amount);
    if (!this._amount || !Number.isFinite(value) || value <= 0) return null;
    return this._mode === "dose" ? { dose: value } : { minutes: value };
  }

  private async _preview(keepMessage = false): Promise<void> {
    const data = this._amountData();
    if (!data) return;
    if (!keepMessage) this._message = "";
    try {
      this._plan = planOf(await this._call("calculate", data, true), this._entities.byKey.panel);
    } catch (err) {
      this._plan = null;
      this._message = this._t("error", { message: errorText(err) });
    }
  }

  private async _start(): Promise<void> {
    const data = this._amountData() ?? {};
    this._message = "";
    try {
      await this._call("start_session", data);
    } catch (err) {
      // A refusal is a translated error from the integration: its sentence is shown (in
      // place of the preview's shorter refusal), with the plan.
      this._message = errorText(err);
      await this._preview(true);
    }
  }

  private async _action(service: string, data: Record<string, unknown> = {}): Promise<void> {
    this._message = "";
    try {
      await this._call(service, data);
    } catch (err) {
      this._message = this._t("error", { message: errorText(err) });
    }
  }

  private async _setChannel(entity: string, value: string): Promise<void> {
    if (!this.hass) return;
    await this.hass.callWS({
      type: "call_service",
      domain: "number",
      service: "set_value",
      service_data: { value: Number(value) },
      target: { entity_id: entity },
    });
  }

  /** A value against the area's limit: "x / y unit" and a bar, or the value alone. */
  private _against(label: string, value: unknown, limit: unknown, unit: string, digits: number): TemplateResult {
    const shown = this._config?.show_limits !== false ? against(value, limit, digits) : against(value, undefined, digits);
    return html`<dt>${label}</dt><dd>${shown.text}${unit ? ` ${unit}` : ""}
      ${shown.fraction !== null
        ? html`<div class="bar ${shown.full ? "full" : ""}" role="meter" aria-label=${`${label}: ${shown.text}`}
            aria-valuemin="0" aria-valuemax="1" aria-valuenow=${shown.fraction}>
            <span style="width: ${Math.round(shown.fraction * 100)}%"></span></div>`
        : nothing}</dd>`;
  }

  /** Who is using the panel: one chip per person (the select's options), the chosen pressed. */
  private _persons(options: string[], current: string | null): TemplateResult {
    return html`<div class="row persons" role="group" aria-label=${this._t("who")}>
      <span class="muted">${this._t("who")}</span>
      ${options.map((person) => html`<button class="chip" aria-pressed=${person === current}
        @click=${() => this._choose(person)}>${person}</button>`)}
    </div>`;
  }

  private _ring(fraction: number, label: string, sub: string): TemplateResult {
    const r = 52;
    const c = 2 * Math.PI * r;
    return html`<div class="ring" role="timer" aria-label="${label} ${sub}">
      <svg viewBox="0 0 120 120" aria-hidden="true">
        <circle class="track" cx="60" cy="60" r="${r}"></circle>
        ${svg`<circle class="progress" cx="60" cy="60" r="${r}"
          stroke-dasharray="${c}" stroke-dashoffset="${c * (1 - fraction)}"></circle>`}
      </svg>
      <div class="ring-text"><span class="clock">${label}</span><span class="sub">${sub}</span></div>
    </div>`;
  }

  private _planText(plan: Plan): TemplateResult {
    const reason = reasonText(this._lang, decidingReason(plan));
    if (isRefused(plan)) {
      const until = plan.next_allowed_at ?? (plan.refused_until as string | undefined);
      return html`<p class="refused" role="alert">
        ${until
          ? this._t("refused_until", { reason, until: when(this._lang, until) })
          : this._t("refused", { reason })}
      </p>`;
    }
    const text = this._t("preview_text", {
      minutes: round(plan.planned_minutes, 1),
      dose: round(plan.expected_dose_j_cm2, 1),
      area: String(plan.area ?? "–").replace(/_/g, " "),
    });
    return html`<p class="preview">${text}
      ${plan.verdict === "clamped" ? html`<br />${this._t("shortened", { reason })}` : nothing}</p>`;
  }

  private _controls(status: string): TemplateResult {
    if (status !== "idle") {
      return html`<div class="row buttons">
        ${status === "active"
          ? html`<button @click=${() => this._action("pause_session")}>${this._t("pause")}</button>`
          : html`<button @click=${() => this._action("resume_session")}>${this._t("resume")}</button>`}
        <button @click=${() => this._action("extend_session", { minutes: 1 })}>${this._t("extend")}</button>
        <button class="stop" @click=${() => this._action("stop_session")}>${this._t("stop")}</button>
      </div>`;
    }
    return html`<div class="start">
      <div class="row mode" role="radiogroup">
        ${(["dose", "minutes"] as const).map(
          (mode) => html`<label><input type="radio" name="mode" .checked=${this._mode === mode}
            @change=${() => { this._mode = mode; this._plan = null; }} />
            ${this._t(mode === "dose" ? "by_dose" : "by_minutes")}</label>`,
        )}
      </div>
      <div class="row">
        <label class="amount">${this._t(this._mode === "dose" ? "dose_input" : "minutes_input")}
          <input type="number" min="0.1" step="0.1" inputmode="decimal" .value=${this._amount}
            @input=${(e: Event) => { this._amount = (e.target as HTMLInputElement).value; this._plan = null; }}
            @keydown=${(e: KeyboardEvent) => e.key === "Enter" && this._preview()} />
        </label>
        <button @click=${() => this._preview()} ?disabled=${!this._amountData()}>${this._t("preview")}</button>
        <button class="primary" @click=${this._start}>${this._t("start")}</button>
      </div>
    </div>`;
  }

  private _chart(): TemplateResult {
    const todayId = this._todayId;
    const bars = withToday(this._bars ?? [], Number(todayId ? this.hass?.states[todayId]?.state : undefined));
    const max = Math.max(0.001, ...bars.map((bar) => bar.dose));
    const w = 280;
    const h = 80;
    const step = w / Math.max(1, bars.length);
    const total = bars.reduce((sum, bar) => sum + bar.dose, 0);
    return html`<section class="chart">
      <div class="row head"><h3>${this._t("chart")}</h3>
        <div class="row" role="group">
          ${([1, 4] as const).map((weeks) => html`<button class="chip" aria-pressed=${this._weeks === weeks}
            @click=${() => { this._weeks = weeks; }}>${this._t(weeks === 1 ? "one_week" : "four_weeks")}</button>`)}
        </div></div>
      ${total > 0
        ? html`<svg viewBox="0 0 ${w} ${h}" role="img" aria-label=${this._t("chart")}>
            ${bars.map((bar, i) => {
              const bh = (bar.dose / max) * (h - 4);
              return svg`<rect x=${i * step + 1} y=${h - bh} width=${Math.max(1, step - 2)} height=${bh}>
                <title>${new Date(bar.start).toLocaleDateString(this._lang)}: ${round(bar.dose, 1)} J/cm²</title></rect>`;
            })}</svg>`
        : html`<p class="muted">${this._t("no_history")}</p>`}
    </section>`;
  }

  render(): TemplateResult {
    if (!this._config || !this.hass) return html``;
    if (!this._config.device) return html`<ha-card><p class="muted pad">${this._t("no_device")}</p></ha-card>`;
    const ids = this._entities;
    if (!ids.byKey.panel) return html`<ha-card><p class="muted pad">${this._t("not_found")}</p></ha-card>`;
    const light = this.hass.states[ids.byKey.panel];
    const timer = this._state("session_timer");
    const count = countdown(timer, this._now);
    const lockout = this._state("lockout");
    const area = shownArea(this.hass.states[ids.byKey.panel], this._state("treatment_area"));
    const name = (light?.attributes.friendly_name as string | undefined) ?? this._t("name");
    const status = light?.state === "unavailable" ? "unavailable" : count.status;
    // While a session runs: its dose so far and its target, counted in the browser; otherwise
    // the last session's dose and the target of a previewed start.
    const live = sessionDose(count, Number(this._state("irradiance")?.state));
    const delivered = live ? live.delivered : this._state("session_dose")?.state;
    const target = live ? live.target : this._plan && !isRefused(this._plan) ? this._plan.expected_dose_j_cm2 : undefined;
    const protocol = shownProtocol(this._state("protocol"));
    // In a household, the chosen person's numbers against their limits (same attributes).
    const home = this._household;
    const today = home?.today ? this.hass.states[home.today] : this._state("dose_today");
    const week = home?.week ? this.hass.states[home.week] : this._state("dose_week");
    const whose = sessionPerson(timer, light);
    const showLimits = this._config.show_limits !== false;
    const spacing = today?.attributes.min_hours_between;
    return html`<ha-card>
      <div class="pad">
        <div class="row head"><h2>${name}</h2><span class="badge ${status}">${this._t(status as StringKey)}</span></div>
        ${whose && count.status !== "idle" ? html`<p class="whose">${this._t("session_of", { person: whose })}</p>` : nothing}
        ${home ? this._persons(home.options, home.current) : nothing}
        <div class="row main">
          ${this._ring(
            count.status === "idle" ? 0 : count.fraction,
            count.status === "idle" ? formatClock(count.duration) : formatClock(count.remaining),
            count.status === "idle" ? "" : this._t("remaining"),
          )}
          <dl class="facts">
            <dt>${this._t("delivered")}</dt><dd>${round(delivered, 2)} J/cm²</dd>
            ${target !== undefined ? html`<dt>${this._t("target")}</dt><dd>${round(target, 2)} J/cm²</dd>` : nothing}
            <dt>${this._t("area")}</dt><dd>${area}</dd>
            ${this._against(home?.today ? this._t("person_today", { person: home.current ?? "" }) : this._t("today"), today?.state, today?.attributes.max_daily_dose, "J/cm²", 2)}
            <dt>${home?.week ? this._t("person_week", { person: home.current ?? "" }) : this._t("week")}</dt><dd>${round(week?.state, 2)} J/cm²</dd>
            ${showLimits && week?.attributes.max_sessions_per_week !== undefined
              ? this._against(this._t("sessions_7_days"), week.attributes.sessions_in_7_days, week.attributes.max_sessions_per_week, "", 0)
              : nothing}
          </dl>
        </div>
        <p class="lockout ${lockout?.state === "on" ? "on" : ""}">
          ${lockout?.state === "on"
            ? this._t("locked_until", { until: when(this._lang, lockout.attributes.until) })
            : this._t("not_locked")}
          ${showLimits && spacing !== undefined && Number(spacing) > 0
            ? html`<span class="muted">· ${this._t("spacing", { hours: round(spacing, 1) })}</span>`
            : nothing}
        </p>
        ${this._plan && !(this._message && isRefused(this._plan)) ? this._planText(this._plan) : nothing}
        ${this._message ? html`<p class="refused" role="alert">${this._message}</p>` : nothing}
        ${this._config.show_controls !== false && status !== "unavailable" ? this._controls(count.status) : nothing}
        ${this._config.show_controls !== false && ids.channels.length
          ? html`<details><summary>${this._t("channels")}</summary>${ids.channels.map((id) => {
              const st = this.hass!.states[id];
              return html`<label class="row channel">${st?.attributes.friendly_name ?? id}
                <input type="range" min="0" max="100" .value=${st?.state ?? "0"}
                  @change=${(e: Event) => this._setChannel(id, (e.target as HTMLInputElement).value)} /></label>`;
            })}</details>`
          : nothing}
        ${this._config.show_protocol !== false && protocol
          ? html`<section class="protocol"><h3>${this._t("protocol")}: ${protocol}</h3>
              <dl class="facts">
                <dt>${this._t("next_session")}</dt><dd>${when(this._lang, this._state("next_session")?.state)}</dd>
                <dt>${this._t("progress")}</dt><dd>${round(this._state("protocol_progress")?.state, 0)} %</dd>
                <dt>${this._t("streak")}</dt><dd>${round(this._state("protocol_streak")?.state, 0)}</dd>
              </dl></section>`
          : nothing}
        ${this._config.show_chart !== false ? this._chart() : nothing}
      </div>
    </ha-card>`;
  }

  static styles = css`
    :host { display: block; }
    .pad { padding: 16px; }
    h2 { margin: 0; font-size: 1.2em; font-weight: 500; }
    h3 { margin: 8px 0 4px; font-size: 1em; font-weight: 500; }
    .row { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
    .head { justify-content: space-between; }
    .main { flex-wrap: nowrap; gap: 16px; margin: 12px 0; }
    .badge { padding: 2px 10px; border-radius: 12px; background: var(--secondary-background-color, #eee); }
    .badge.active { background: var(--error-color, #c62828); color: #fff; }
    .ring { position: relative; width: 120px; min-width: 120px; height: 120px; }
    .ring svg { transform: rotate(-90deg); width: 100%; height: 100%; }
    circle { fill: none; stroke-width: 10; }
    .track { stroke: var(--divider-color, #ddd); }
    .progress { stroke: var(--error-color, #c62828); stroke-linecap: round; }
    .ring-text { position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center; }
    .clock { font-size: 1.5em; font-variant-numeric: tabular-nums; }
    .sub, .muted { color: var(--secondary-text-color); }
    dl.facts { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
    dt { color: var(--secondary-text-color); }
    dd { margin: 0; font-variant-numeric: tabular-nums; }
    .lockout.on, .refused { color: var(--error-color, #c62828); }
    button { font: inherit; padding: 6px 12px; border-radius: 6px; cursor: pointer;
      border: 1px solid var(--divider-color, #ccc); background: var(--card-background-color, #fff); color: var(--primary-text-color); }
    button.primary { background: var(--primary-color); color: var(--text-primary-color, #fff); border-color: transparent; }
    button:focus-visible, input:focus-visible, summary:focus-visible { outline: 2px solid var(--primary-color); outline-offset: 2px; }
    button[disabled] { opacity: 0.5; cursor: default; }
    .whose { margin: 4px 0 0; font-weight: 500; }
    .persons { margin-top: 8px; gap: 6px; }
    .persons .chip { padding: 2px 10px; border-radius: 14px; }
    .chip[aria-pressed="true"] { background: var(--primary-color); color: var(--text-primary-color, #fff); }
    input[type="number"] { width: 6em; font: inherit; padding: 4px; color: var(--primary-text-color); background: var(--card-background-color); border: 1px solid var(--divider-color, #ccc); border-radius: 4px; }
    .amount { display: flex; gap: 6px; align-items: center; }
    .start, .buttons, details, .chart, .protocol { margin-top: 12px; }
    .channel { justify-content: space-between; }
    .chart svg { width: 100%; height: 80px; }
    .chart rect { fill: var(--error-color, #c62828); }
    .bar { height: 6px; margin-top: 2px; border-radius: 3px; background: var(--divider-color, #ddd); overflow: hidden; max-width: 10em; }
    .bar span { display: block; height: 100%; background: var(--primary-color, #03a9f4); }
    .bar.full span { background: var(--error-color, #c62828); }
  `;
}

export class RedLightTherapyCardEditor extends LitElement {
  static properties = { hass: { attribute: false }, _config: { state: true } };
  declare hass: Hass | undefined;
  declare _config: CardConfig | undefined;

  setConfig(config: CardConfig): void {
    this._config = config;
  }

  private _changed(ev: CustomEvent<{ value: CardConfig }>): void {
    this.dispatchEvent(new CustomEvent("config-changed", { detail: { config: ev.detail.value }, bubbles: true, composed: true }));
  }

  render(): TemplateResult {
    if (!this.hass || !this._config) return html``;
    const lang = this.hass.locale?.language ?? this.hass.language;
    const schema = [
      { name: "device", selector: { device: { integration: DOMAIN } } },
      { name: "show_controls", selector: { boolean: {} } },
      { name: "show_protocol", selector: { boolean: {} } },
      { name: "show_chart", selector: { boolean: {} } },
      { name: "show_limits", selector: { boolean: {} } },
    ];
    const labels: Record<string, StringKey> = {
      device: "editor_device",
      show_controls: "editor_show_controls",
      show_protocol: "editor_show_protocol",
      show_chart: "editor_show_chart",
      show_limits: "editor_show_limits",
    };
    return html`<ha-form .hass=${this.hass} .data=${{ show_controls: true, show_protocol: true, show_chart: true, show_limits: true, ...this._config }}
      .schema=${schema} .computeLabel=${(s: { name: string }) => t(lang, labels[s.name])}
      @value-changed=${this._changed}></ha-form>`;
  }
}

function register(): void {
  // window.customElements at this moment: Home Assistant's frontend installs its own registry
  // (a scoped-registry polyfill) while it loads, and an element defined on the browser's
  // registry before that is unknown to the dashboards.
  const registry = window.customElements;
  if (!registry.get(CARD)) registry.define(CARD, RedLightTherapyCard);
  if (!registry.get(EDITOR)) registry.define(EDITOR, RedLightTherapyCardEditor);
  const picker = window as unknown as { customCards?: Record<string, unknown>[] };
  picker.customCards = picker.customCards ?? [];
  if (!picker.customCards.some((card) => card.type === CARD)) {
    picker.customCards.push({
      type: CARD,
      name: t(navigator.language, "name"),
      description: t(navigator.language, "description"),
      preview: true,
      documentationURL: "https://github.com/red-light-therapy-ha/red_light_therapy#dashboard-card",
    });
  }
}

// The integration adds this module to every page of the frontend, which may run it before the
// frontend's own code: define the card once the app (and so its registry) is there.
window.customElements.whenDefined("home-assistant").then(register);
