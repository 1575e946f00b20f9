/* lbp-cds demo EHR: plays a GP system against this service's public CDS Hooks endpoints.
 *
 * Like any CDS client it reads discovery, fills prefetch from its own record (the scenario),
 * calls /cds-services/{id} with a signed JWT (minted per call by /demo/token for the demo
 * client), applies accepted suggestions to its draft orders and POSTs feedback. No build step.
 */
"use strict";

(function () {
  const TEXT = {
    da: {
      appName: "demo-EPJ", demoNote: "Fiktive patienter. Kalder tjenesten som demo-klienten (signeret JWT).",
      language: "Sprog", patients: "Patienter", pickPatient: "Vælg en patient",
      datesNote: "Datoerne er flyttet, så scenariets 'nu' er i dag: 3 uger siden er stadig 3 uger siden.",
      openChart: "Åbn journalen", timeline: "Forløb", orders: "Ordinationer", draftOrders: "Kladder (ikke signeret)",
      sign: "Signér", cards: "Beslutningsstøtte", feedbackSent: "Feedback sendt", developer: "Til udviklere",
      lastRequest: "Seneste kald", lastResponse: "Seneste svar", noDrafts: "Ingen kladder",
      noCards: "Ingen kort: intet at bemærke.", remove: "Fjern", years: "år", male: "mand", female: "kvinde",
      episode: "Episoden startede", week: "uge", today: "I dag", weeks: "uger",
      overrideWith: "Tilsidesæt med begrundelse:", overrideBtn: "Tilsidesæt", comment: "Kommentar (valgfri)",
      accepted: "Accepteret:", overridden: "Tilsidesat:", expectedTitle: "Scenariet lover:", got: "Tjenesten gav:",
      hidden: "Ikke vist (samme problem på et andet kort, allerede vist i konsultationen, eller over loftet):",
      match: "stemmer", mismatch: "stemmer ikke", none: "ingen kort", source: "Kilde", scenarioCall: "Scenariets kald",
      callFailed: "Kaldet mislykkedes", noEpisode: "Ingen aktiv lænderygdiagnose på problemlisten.",
      reason: "begrundelse",
      menu: { mri: "MR af lænden", xray: "Røntgen af lænden", physio: "Henvisning: fysioterapeut",
        rheum: "Henvisning: reumatolog", pain: "Henvisning: smerteklinik", ibuprofen: "Ibuprofen 400 mg",
        tramadol: "Tramadol 50 mg", paracetamol: "Paracetamol 500 mg" },
    },
    en: {
      appName: "demo EHR", demoNote: "Fictional patients. Calls the service as the demo client (signed JWT).",
      language: "Language", patients: "Patients", pickPatient: "Pick a patient",
      datesNote: "Dates are moved so that the scenario's 'now' is today: 3 weeks ago is still 3 weeks ago.",
      openChart: "Open the chart", timeline: "Episode", orders: "Orders", draftOrders: "Draft orders (not signed)",
      sign: "Sign", cards: "Decision support", feedbackSent: "Feedback sent", developer: "For developers",
      lastRequest: "Last request", lastResponse: "Last response", noDrafts: "No draft orders",
      noCards: "No cards: nothing to note.", remove: "Remove", years: "years", male: "male", female: "female",
      episode: "Episode began", week: "week", today: "Today", weeks: "weeks",
      overrideWith: "Override with a reason:", overrideBtn: "Override", comment: "Comment (optional)",
      accepted: "Accepted:", overridden: "Overridden:", expectedTitle: "The scenario promises:", got: "The service gave:",
      hidden: "Not shown (the same problem on another card, already shown in this consultation, or over the cap):",
      match: "match", mismatch: "do not match", none: "no card", source: "Source", scenarioCall: "Scenario call",
      callFailed: "The call failed", noEpisode: "No active back-pain diagnosis on the problem list.",
      reason: "reason",
      menu: { mri: "Lumbar MRI", xray: "Lumbar X-ray", physio: "Referral: physiotherapist",
        rheum: "Referral: rheumatologist", pain: "Referral: pain clinic", ibuprofen: "Ibuprofen 400 mg",
        tramadol: "Tramadol 50 mg", paracetamol: "Paracetamol 500 mg" },
    },
  };
  const SNOMED = "http://snomed.info/sct";
  const ATC = "http://www.whocc.no/atc";
  /* What the order menu puts in the basket: codes as a Danish GP system sends them. */
  const MENU = [
    { key: "mri", type: "ServiceRequest", system: SNOMED, code: "241648005", display: "MR-skanning af lændecolumna" },
    { key: "xray", type: "ServiceRequest", system: SNOMED, code: "22791004", display: "Røntgen af lændecolumna" },
    { key: "physio", type: "ServiceRequest", system: SNOMED, code: "308447003", display: "Henvisning til fysioterapeut" },
    { key: "rheum", type: "ServiceRequest", system: SNOMED, code: "306290009", display: "Henvisning til reumatolog" },
    { key: "pain", type: "ServiceRequest", system: SNOMED, code: "306265007", display: "Henvisning til smerteklinik" },
    { key: "ibuprofen", type: "MedicationRequest", system: ATC, code: "M01AE01", display: "Ibuprofen 400 mg" },
    { key: "tramadol", type: "MedicationRequest", system: ATC, code: "N02AX02", display: "Tramadol 50 mg" },
    { key: "paracetamol", type: "MedicationRequest", system: ATC, code: "N02BE01", display: "Paracetamol 500 mg" },
  ];
  const SERVICE_FOR_HOOK = {};
  const state = { lang: "da", services: {}, scenario: null, drafts: [], counter: 0, lastCall: null };
  const $ = (id) => document.getElementById(id);

  function t(key) { return TEXT[state.lang][key] ?? key; }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  /* Card detail is GitHub-flavoured markdown; raw HTML in it is shown as text, never run. */
  function markdown(text) {
    if (!window.marked) return escapeHtml(text);
    return window.marked.parse(String(text), { async: false, gfm: true, breaks: false });
  }

  function showError(message) {
    $("error").hidden = !message;
    $("error").textContent = message || "";
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    renderMenu();
    if (state.scenario) { renderScenario(); }
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  /* One signed, single-use token per call, for exactly the URL called (its aud). */
  async function token(url) {
    const response = await fetch("/demo/token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ aud: url }),
    });
    if (!response.ok) throw new Error(`token: ${response.status}`);
    return (await response.json()).token;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json",
        "Accept-Language": state.lang, Authorization: `Bearer ${await token(url)}` },
      body: JSON.stringify(body),
    });
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    return { status: response.status, body: answer };
  }

  /* Prefetch as a capable EHR fills it from its own record, following each template. */
  function fillPrefetch(templates, patient, record) {
    const out = {};
    for (const [key, template] of Object.entries(templates || {})) {
      const [path, query = ""] = template.split("?");
      const type = path.split("/")[0];
      if (type === "Patient" && path.includes("/")) { out[key] = patient; continue; }
      const types = new Set([type]);
      for (const part of query.split("&")) {
        const [name, value = ""] = part.split("=");
        if (name === "_include" && value.startsWith(`${type}:`)) types.add(value.endsWith(":medication") ? "Medication" : value);
      }
      const found = record.filter((r) => types.has(r.resourceType));
      out[key] = { resourceType: "Bundle", type: "searchset", total: found.length, entry: found.map((r) => ({ resource: r })) };
    }
    return out;
  }

  function uuid() {
    return crypto.randomUUID ? crypto.randomUUID() : "10000000-1000-4000-8000-100000000000".replace(/[018]/g,
      (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
  }

  async function callHook(hook, selections, expect) {
    const scenario = state.scenario;
    const service = SERVICE_FOR_HOOK[hook];
    const context = { userId: "Practitioner/demo-gp", patientId: scenario.patient.id };
    if (hook !== "patient-view") {
      context.draftOrders = { resourceType: "Bundle", type: "collection", entry: state.drafts.map((r) => ({ resource: r })) };
    }
    if (hook === "order-select") context.selections = selections;
    // The rule trace says which promised cards were hidden on purpose (card set, card memory, cap).
    const body = { hook, hookInstance: uuid(), context,
      prefetch: fillPrefetch(service.prefetch, scenario.patient, scenario.record),
      extension: { "lbp-cds-explain": true } };
    const url = `${location.origin}/cds-services/${service.id}`;
    showError("");
    $("dev-request").textContent = `POST ${url}\n${JSON.stringify(body, null, 2)}`;
    const answer = await post(url, body);
    $("dev-response").textContent = `${answer.status}\n${JSON.stringify(answer.body, null, 2)}`;
    state.lastCall = { hook, service, answer, expect };
    if (answer.status !== 200) showError(`${t("callFailed")}: ${answer.status}`);
    renderCards();
  }

  function ruleOf(card) { return ((card.extension || {})["dk.lbp-cds.rule"] || {}).ruleId || "?"; }

  function renderExpected() {
    const box = $("expected");
    const call = state.lastCall;
    if (!call || !call.expect) { box.hidden = true; return; }
    const cards = (call.answer.body && call.answer.body.cards) || [];
    const fmt = (list) => (list.length ? list.map((e) => `${e.rule} (${e.indicator})`).sort().join(", ") : t("none"));
    const got = cards.map((c) => ({ rule: ruleOf(c), indicator: c.indicator }));
    const wanted = [...new Set(call.expect.map((e) => `${e.rule} (${e.indicator})`))].sort().join(", ") || t("none");
    const shown = [...new Set(got.map((e) => `${e.rule} (${e.indicator})`))].sort().join(", ") || t("none");
    // A promised card the service hid on purpose (one card per problem, not repeated within the
    // consultation, the patient-view cap) is kept, not lost: the trace names it and why.
    const trace = ((call.answer.body && call.answer.body.extension) || {})["lbp-cds-trace"] || [];
    const hidden = trace.filter((e) => e.fired && e.suppressed).map((e) => ({ rule: e.rule, why: e.suppressed }));
    const hiddenRules = new Set(hidden.map((e) => e.rule));
    const shownRules = new Set(got.map((e) => e.rule));
    const promised = new Set(call.expect.map((e) => e.rule));
    const ok = wanted === shown || ([...promised].every((r) => shownRules.has(r) || hiddenRules.has(r))
      && [...shownRules].every((r) => promised.has(r)));
    box.hidden = false;
    box.className = `expected ${ok ? "ok" : "bad"}`;
    const lines = [el("div", {}, `${t("expectedTitle")} ${fmt(call.expect.map((e) => e))}`),
      el("div", {}, `${t("got")} ${fmt(got)} — ${ok ? "✓ " + t("match") : "✗ " + t("mismatch")}`)];
    if (hidden.length) lines.push(el("div", { class: "hidden-cards" }, `${t("hidden")} ${hidden.map((e) => `${e.rule} (${e.why})`).join("; ")}`));
    box.replaceChildren(...lines);
  }

  function renderCards() {
    const call = state.lastCall;
    $("cards-box").hidden = false;
    $("cards-hook").textContent = call ? `(${call.hook})` : "";
    renderExpected();
    const list = $("cards");
    list.replaceChildren();
    const cards = (call && call.answer.body && call.answer.body.cards) || [];
    if (!cards.length) { list.append(el("p", { class: "no-cards" }, t("noCards"))); return; }
    const order = { critical: 0, warning: 1, info: 2 };
    [...cards].sort((a, b) => (order[a.indicator] ?? 3) - (order[b.indicator] ?? 3))
      .forEach((card) => list.append(renderCard(card, call.service)));
  }

  function renderCard(card, service) {
    const node = el("article", { class: `card ${card.indicator}`, dataset: { rule: ruleOf(card), indicator: card.indicator } });
    node.append(el("span", { class: "rule" }, ruleOf(card)));
    node.append(el("div", { class: "summary" }, el("span", { class: "badge" }, card.indicator), card.summary));
    if (card.detail) {
      const detail = el("div", { class: "detail" });
      detail.innerHTML = markdown(card.detail);
      detail.querySelectorAll("a").forEach((a) => { a.target = "_blank"; a.rel = "noopener noreferrer"; });
      node.append(detail);
    }
    if (card.source) {
      const src = card.source.url
        ? el("a", { href: card.source.url, target: "_blank", rel: "noopener noreferrer" }, card.source.label)
        : card.source.label;
      node.append(el("div", { class: "source" }, `${t("source")}: `, src));
    }
    const actions = el("div", { class: "actions" });
    for (const suggestion of card.suggestions || []) {
      actions.append(el("button", { type: "button", class: "suggestion", onclick: () => accept(card, suggestion, service, node) },
        suggestion.label));
    }
    for (const link of card.links || []) {
      if (/^https?:/.test(link.url)) actions.append(el("a", { href: link.url, target: "_blank", rel: "noopener noreferrer" }, link.label));
    }
    node.append(actions);
    if ((card.overrideReasons || []).length) {
      const select = el("select", { class: "override-reason", "aria-label": t("reason") },
        card.overrideReasons.map((r, i) => el("option", { value: String(i) }, r.display || r.code)));
      const comment = el("input", { type: "text", class: "override-comment", placeholder: t("comment"), maxlength: "2000" });
      node.append(el("div", { class: "override" }, t("overrideWith"), select, comment,
        el("button", { type: "button", class: "override-btn",
          onclick: () => override(card, card.overrideReasons[Number(select.value)], comment.value, service, node) },
        t("overrideBtn"))));
    }
    return node;
  }

  function applyActions(actions) {
    for (const action of actions || []) {
      const ids = [].concat(action.resourceId || []);
      if (action.type === "delete") {
        state.drafts = state.drafts.filter((r) => !ids.includes(`${r.resourceType}/${r.id}`) && !ids.includes(r.id));
      } else if (action.resource && action.type === "create") {
        const resource = { ...action.resource, id: action.resource.id || `demo-${++state.counter}` };
        state.drafts.push(resource);
      } else if (action.resource && action.type === "update") {
        const key = `${action.resource.resourceType}/${action.resource.id}`;
        state.drafts = state.drafts.map((r) => (`${r.resourceType}/${r.id}` === key ? action.resource : r));
      }
    }
    renderDrafts();
  }

  function settle(node, text) {
    node.querySelectorAll("button, select, input").forEach((n) => { n.disabled = true; });
    node.append(el("div", { class: "outcome" }, text));
  }

  async function accept(card, suggestion, service, node) {
    applyActions(suggestion.actions);
    settle(node, `${t("accepted")} ${suggestion.label}`);
    await sendFeedback(service, { card: card.uuid, outcome: "accepted",
      acceptedSuggestions: [{ id: suggestion.uuid }], outcomeTimestamp: new Date().toISOString() });
  }

  async function override(card, reason, comment, service, node) {
    const overrideReason = { reason: { system: reason.system, code: reason.code, display: reason.display } };
    if (comment.trim()) overrideReason.userComment = comment.trim();
    settle(node, `${t("overridden")} ${reason.display || reason.code}`);
    await sendFeedback(service, { card: card.uuid, outcome: "overridden", overrideReason,
      outcomeTimestamp: new Date().toISOString() });
  }

  async function sendFeedback(service, item) {
    const url = `${location.origin}/cds-services/${service.id}/feedback`;
    const body = { feedback: [item] };
    const answer = await post(url, body);
    $("feedback-box").hidden = false;
    $("feedback").prepend(el("li", { class: "feedback-item", dataset: { status: String(answer.status), outcome: item.outcome } },
      `POST …/${service.id}/feedback → ${answer.status} ${JSON.stringify(answer.body)}`,
      el("details", {}, el("summary", {}, "JSON"), el("pre", {}, JSON.stringify(body, null, 2)))));
  }

  function draft(entry) {
    const id = `demo-${entry.key}-${++state.counter}`;
    const base = { resourceType: entry.type, id, status: "draft", intent: "order",
      subject: { reference: `Patient/${state.scenario.patient.id}` }, authoredOn: new Date().toISOString() };
    const concept = { coding: [{ system: entry.system, code: entry.code, display: entry.display }], text: entry.display };
    return entry.type === "MedicationRequest" ? { ...base, medicationCodeableConcept: concept } : { ...base, code: concept };
  }

  function orderName(r) {
    const c = r.code || r.medicationCodeableConcept || {};
    const coding = (c.coding || [{}])[0] || {};
    return c.text || coding.display || coding.code || r.resourceType;
  }

  function renderDrafts() {
    const list = $("drafts");
    list.replaceChildren();
    if (!state.drafts.length) list.append(el("li", { class: "empty" }, t("noDrafts")));
    for (const r of state.drafts) {
      list.append(el("li", { class: "draft", dataset: { ref: `${r.resourceType}/${r.id}` } },
        el("span", {}, orderName(r)),
        el("button", { type: "button", class: "small", onclick: () => { state.drafts = state.drafts.filter((d) => d !== r); renderDrafts(); } },
          t("remove"))));
    }
  }

  function renderMenu() {
    const menu = $("order-menu");
    menu.replaceChildren(...MENU.map((entry) => el("button", { type: "button", dataset: { order: entry.key },
      onclick: () => { const r = draft(entry); state.drafts.push(r); renderDrafts(); callHook("order-select", [`${r.resourceType}/${r.id}`]); },
    }, t("menu")[entry.key])));
  }

  function renderScenarioCalls() {
    const box = $("scenario-calls");
    box.replaceChildren();
    state.scenario.calls.forEach((call, index) => {
      const label = `${t("scenarioCall")} ${index + 1}: ${call.hook}${call.label ? ` — ${call.label}` : ""}`;
      box.append(el("button", { type: "button", class: "scenario-call", dataset: { index: String(index) }, onclick: () => runScenarioCall(index) }, label));
    });
  }

  function runScenarioCall(index) {
    const call = state.scenario.calls[index];
    state.drafts = (call.draftOrders || []).map((r) => JSON.parse(JSON.stringify(r)));
    renderDrafts();
    const selections = call.selections || state.drafts.filter((r) => ["ServiceRequest", "MedicationRequest"].includes(r.resourceType))
      .map((r) => `${r.resourceType}/${r.id}`);
    return callHook(call.hook, selections, call.expect);
  }

  function fmtDate(iso) {
    return new Date(`${iso}T12:00:00`).toLocaleDateString(state.lang === "da" ? "da-DK" : "en-GB",
      { day: "numeric", month: "short", year: "numeric" });
  }

  function renderTimeline(chart) {
    const line = $("timeline");
    line.replaceChildren();
    const episode = chart.episode;
    const today = new Date(`${chart.today}T12:00:00`);
    const start = episode ? new Date(`${episode.start}T12:00:00`) : new Date(today.getTime() - 84 * 864e5);
    const lastMark = episode ? new Date(`${episode.marks[episode.marks.length - 1].date}T12:00:00`) : today;
    const end = new Date(Math.max(today.getTime(), lastMark.getTime()) + 7 * 864e5);
    const first = new Date(start.getTime() - 7 * 864e5);
    const pos = (d) => `${Math.min(100, Math.max(0, ((d - first) / (end - first)) * 100)).toFixed(2)}%`;
    const mark = (d, text, cls) => { const m = el("div", { class: `tl-mark ${cls || ""}` }, el("span", {}, text)); m.style.left = pos(d); return m; };
    if (episode) {
      line.append(mark(start, `${t("week")} 0`));
      for (const m of episode.marks) line.append(mark(new Date(`${m.date}T12:00:00`), `${m.weeks} ${t("weeks")}`));
    }
    line.append(mark(today, t("today"), "today"));
    for (const e of chart.events) {
      const d = new Date(`${e.date}T12:00:00`);
      if (d < first) continue;
      const dot = el("div", { class: `tl-event ${e.type}`, title: `${e.date} ${e.label}` });
      dot.style.left = pos(d);
      line.append(dot);
    }
    const events = $("events");
    events.replaceChildren();
    if (episode) {
      events.append(el("li", {}, el("span", { class: "when" }, fmtDate(episode.start)),
        `${t("episode")} (${state.lang === "da" ? "for " : ""}${episode.weeks.toLocaleString(state.lang === "da" ? "da-DK" : "en-GB")} ${t("weeks")} ${state.lang === "da" ? "siden" : "ago"})`));
    } else {
      events.append(el("li", {}, t("noEpisode")));
    }
    for (const e of [...chart.events].reverse()) {
      const value = e.value !== null && e.value !== undefined ? `: ${e.value}` : "";
      const status = e.status && !["final", "active", "completed"].includes(e.status) ? ` [${e.status}]` : "";
      events.append(el("li", { class: e.struck ? "struck" : "" }, el("span", { class: "when" }, fmtDate(e.date)),
        `${e.type} · ${e.label}${value}${status}`));
    }
  }

  function renderScenario() {
    const s = state.scenario;
    const p = s.chart.patient;
    $("banner").hidden = false;
    $("patient-title").textContent = s.title;
    $("patient-facts").textContent = [p.identifier, p.gender === "female" ? t("female") : p.gender === "male" ? t("male") : p.gender,
      p.age !== null ? `${p.age} ${t("years")}` : null, s.id].filter(Boolean).join(" · ");
    $("story").textContent = s.story;
    $("timeline-box").hidden = false;
    $("orders-box").hidden = false;
    renderTimeline(s.chart);
    renderScenarioCalls();
    renderDrafts();
    if (state.lastCall) renderCards();
  }

  async function pick(id) {
    state.scenario = await getJson(`/demo/scenarios/${encodeURIComponent(id)}`);
    state.drafts = [];
    state.lastCall = null;
    $("cards-box").hidden = true;
    $("feedback-box").hidden = true;
    $("feedback").replaceChildren();
    renderScenario();
    document.body.dataset.scenario = id;
  }

  async function start() {
    const params = new URLSearchParams(location.search);
    state.lang = params.get("lang") === "en" ? "en" : "da";
    if (window.marked) {
      window.marked.use({ renderer: { html(token) { return escapeHtml(typeof token === "string" ? token : token.text); } } });
    }
    $("lang").value = state.lang;
    $("lang").addEventListener("change", () => { state.lang = $("lang").value; applyLanguage(); });
    const discovery = await getJson("/cds-services");
    for (const service of discovery.services) { SERVICE_FOR_HOOK[service.hook] = service; }
    const { scenarios } = await getJson("/demo/scenarios");
    const select = $("scenario");
    select.replaceChildren(...scenarios.map((s) => el("option", { value: s.id, title: s.story }, s.title)));
    select.addEventListener("change", () => pick(select.value));
    $("open-chart").addEventListener("click", () => callHook("patient-view", [], null));
    $("sign").addEventListener("click", () => callHook("order-sign", [], null));
    applyLanguage();
    const first = params.get("scenario") || (scenarios.find((s) => s.first) || scenarios[0] || {}).id;
    if (first) { select.value = first; await pick(first); }
    document.body.dataset.ready = "true";
  }

  window.addEventListener("DOMContentLoaded", () => { start().catch((e) => showError(String(e))); });
})();
