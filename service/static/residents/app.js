// Proxima for residents: report (category, place, photos, contact), follow « Mes signalements », reopen, rate.
// Plain ES modules over the citizen API; no inline script (CSP); every text node set as text, never as HTML.
import { api, ApiError, NetworkError } from "./api.js";
import { formatInstant, pick, t, translatePage } from "./i18n.js";
import { PlacePicker } from "./map.js";
import { delivered, flush, newKey, outbox } from "./outbox.js";
import { MAX_PHOTOS, preparePhoto } from "./photos.js";
import { registerPush } from "./push.js";

const $ = (id) => document.getElementById(id);
const CATEGORIES_KEY = "proxima.categories";
const CLOSED_STATUSES = ["resolved", "closed", "rejected"];

/** An element with attributes (`text` sets its text, `on*` its listeners) and children (nodes or strings). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) { continue; }
    if (name === "text") { el.textContent = value; }
    else if (name.startsWith("on")) { el.addEventListener(name.slice(2), value); }
    else { el.setAttribute(name, value === true ? "" : value); }
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

const state = {
  categories: [],
  byCode: new Map(),
  photos: [],  // {blob, url}
  picker: null,
  pushEnabled: false,
  registration: null,
  pollTimer: null,
  detail: null,
};

// --- Categories and their questions -------------------------------------------------------------------------

async function loadCategories() {
  try {
    state.categories = await api.categories();
    localStorage.setItem(CATEGORIES_KEY, JSON.stringify(state.categories));
  } catch (exc) {
    state.categories = JSON.parse(localStorage.getItem(CATEGORIES_KEY) || "[]");
  }
  state.byCode = new Map(state.categories.map((c) => [c.code, c]));
  const select = $("category");
  const groups = new Map();
  for (const category of state.categories) {
    const group = category.group || "";
    if (!groups.has(group)) {
      groups.set(group, h("optgroup", { label: group }));
      select.append(groups.get(group));
    }
    groups.get(group).append(h("option", { value: category.code, text: pick(category, "label") }));
  }
}

function selectedCategory() {
  return state.byCode.get($("category").value) || null;
}

function onCategoryChange() {
  const category = selectedCategory();
  $("category-description").textContent = category ? pick(category, "description") : "";
  $("sensitive-notice").hidden = !(category && category.sensitive);
  $("emergency-hint").hidden = !(category && category.emergency_hint);
  renderQuestions(category);
  updateCoverage();
}

function renderQuestions(category) {
  const body = $("questions-body");
  body.replaceChildren();
  const attributes = category ? [...(category.attributes || [])].sort((a, b) => a.order - b.order) : [];
  $("questions").hidden = attributes.length === 0;
  for (const attribute of attributes) {
    const id = `answer-${attribute.code}`;
    const label = pick(attribute, "description");
    const values = attribute.values || [];
    if (attribute.datatype === "multivaluelist") {
      body.append(h("fieldset", { class: "choices", "data-answer": attribute.code, "data-type": "multi" },
        h("legend", { text: label }),
        ...values.map((v) => h("div", { class: "check" },
          h("input", { type: "checkbox", id: `${id}-${v.key}`, value: v.key }),
          h("label", { for: `${id}-${v.key}`, text: pick(v, "name") })))));
      continue;
    }
    let control;
    if (attribute.datatype === "singlevaluelist") {
      control = h("select", { id, required: attribute.required },
        h("option", { value: "", text: t("none_option") }),
        ...values.map((v) => h("option", { value: v.key, text: pick(v, "name") })));
    } else if (attribute.datatype === "number") {
      control = h("input", { id, type: "number", inputmode: "numeric", min: "0", step: "any",
        required: attribute.required });
    } else if (attribute.datatype === "datetime") {
      control = h("input", { id, type: "datetime-local", required: attribute.required });
    } else {
      control = h("input", { id, type: "text", maxlength: "1000", required: attribute.required });
    }
    control.dataset.answer = attribute.code;
    body.append(h("div", { class: "field" }, h("label", { for: id, text: label }), control));
  }
}

function collectAnswers() {
  const answers = {};
  document.querySelectorAll("#questions-body [data-answer]").forEach((el) => {
    if (el.dataset.type === "multi") {
      const checked = [...el.querySelectorAll("input:checked")].map((input) => input.value);
      if (checked.length) { answers[el.dataset.answer] = checked; }
    } else if (el.value !== "") {
      answers[el.dataset.answer] = el.type === "number" ? Number(el.value) : el.value;
    }
  });
  return answers;
}

// --- Place, accuracy and coverage -----------------------------------------------------------------------------

function onPlaceChange({ lat, lon }) {
  $("place").textContent = t("place_set", { lat: lat.toFixed(5), lon: lon.toFixed(5) });
  updateCoverage();
}

function locate() {
  if (!("geolocation" in navigator)) {
    $("accuracy").textContent = t("geo_denied");
    return;
  }
  $("accuracy").textContent = t("locating");
  navigator.geolocation.getCurrentPosition((position) => {
    const { latitude, longitude, accuracy } = position.coords;
    $("accuracy").textContent = t("accuracy", { m: Math.round(accuracy) });
    state.picker.set(latitude, longitude, accuracy, { zoom: true });
  }, () => {
    $("accuracy").textContent = t("geo_denied");
  }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
}

let coverageRequest = 0;

async function updateCoverage() {
  const box = $("coverage");
  const text = $("coverage-text");
  const category = selectedCategory();
  const point = state.picker && state.picker.point;
  if (!category || !point) {
    box.hidden = true;
    return;
  }
  const mine = ++coverageRequest;
  box.hidden = false;
  box.classList.remove("refused");
  text.textContent = t("coverage_loading");
  try {
    const answer = await api.coverage(point.lat.toFixed(6), point.lon.toFixed(6), category.code);
    if (mine !== coverageRequest) { return; }
    const unit = answer.unit;
    const kind = t(`kind_${unit.kind}`);
    const name = `${unit.name} (${kind}${unit.synthetic ? ", " + t("demo_unit") : ""})`;
    text.textContent = t("coverage", { unit: name, commune: answer.commune.name });
  } catch (exc) {
    if (mine !== coverageRequest) { return; }
    if (exc instanceof ApiError) {
      box.classList.add("refused");
      text.textContent = exc.message;
    } else {
      box.hidden = true;  // offline: the report will be routed when it is sent
    }
  }
}

// --- Photos --------------------------------------------------------------------------------------------------

async function onPhotosChosen(event) {
  const input = event.target;
  const files = [...input.files];
  input.value = "";
  for (const file of files) {
    if (state.photos.length >= MAX_PHOTOS) {
      showFormError(t("too_many_photos"));
      break;
    }
    try {
      const blob = await preparePhoto(file);
      state.photos.push({ blob, url: URL.createObjectURL(blob) });
    } catch (exc) {
      showFormError(t("photo_unreadable"));
    }
  }
  renderPhotos();
}

function renderPhotos() {
  const list = $("photo-list");
  list.replaceChildren(...state.photos.map((photo, i) => h("li", {},
    h("img", { src: photo.url, alt: t("photo_alt", { n: i + 1 }) }),
    h("button", { type: "button", class: "secondary", text: t("photo_remove", { n: i + 1 }),
      onclick: () => {
        URL.revokeObjectURL(photo.url);
        state.photos.splice(i, 1);
        renderPhotos();
      } }))));
  $("photos").disabled = state.photos.length >= MAX_PHOTOS;
}

// --- Sending ---------------------------------------------------------------------------------------------------

function showFormError(message) {
  $("form-error").textContent = message;
}

function collectContact() {
  const contact = {};
  for (const [field, id] of [["name", "contact-name"], ["email", "contact-email"], ["phone", "contact-phone"]]) {
    const value = $(id).value.trim();
    if (value) { contact[field] = value; }
  }
  return Object.keys(contact).length ? contact : null;
}

async function onSubmit(event) {
  event.preventDefault();
  showFormError("");
  const category = selectedCategory();
  const point = state.picker.point;
  if (!category) {
    showFormError(t("need_category"));
    $("category").focus();
    return;
  }
  if (!point) {
    showFormError(t("need_place"));
    $("locate").focus();
    return;
  }
  const body = {
    category: category.code,
    description: $("description").value.trim(),
    location: { lat: Number(point.lat.toFixed(6)), lon: Number(point.lon.toFixed(6)),
      accuracy_m: state.picker.accuracy ? Math.round(state.picker.accuracy) : null },
    ongoing: $("ongoing").checked,
    answers: collectAnswers(),
    contact: collectContact(),
  };
  const submit = $("submit");
  submit.disabled = true;
  $("network").textContent = t("sending");
  try {
    // Kept on the device before the first attempt: a lost answer or a closed tab loses nothing.
    const photos = state.photos.map((p) => p.blob);
    const entry = await outbox.add(body, photos).catch(() => null);
    if (!entry) {
      await sendWithoutOutbox(body, photos);  // no IndexedDB (a private window of some browsers)
      return;
    }
    await flush().catch(() => []);
    const created = delivered.get(entry.key);
    const left = (await outbox.all()).find((e) => e.key === entry.key);
    if (created) {
      showSent(created);
      resetForm();
    } else if (left && left.error) {
      await outbox.remove(entry.key);  // refused as it stands: the resident corrects the form
      showFormError(left.error);
    } else {
      showQueued();
      resetForm();
    }
  } finally {
    submit.disabled = false;
    updateNetworkStatus();
  }
}

async function sendWithoutOutbox(body, photos) {
  try {
    showSent(await api.sendReport(body, photos, newKey()));
    resetForm();
  } catch (exc) {
    showFormError(exc instanceof NetworkError ? t("server_error") : exc.message);
  }
}

function resetForm() {
  $("report-form").reset();
  state.photos.forEach((p) => URL.revokeObjectURL(p.url));
  state.photos = [];
  renderPhotos();
  state.picker.reset();
  $("place").textContent = t("place_none");
  $("accuracy").textContent = "";
  onCategoryChange();
}

function showSent(report) {
  const category = state.byCode.get(report.category);
  const lines = [
    h("p", { class: "reference", text: t("reference", { reference: report.reference }) }),
    category ? h("p", { text: pick(category, "label") }) : null,
    h("p", { text: t("unit_in_charge", { unit: report.unit.name }) }),
    h("p", { id: "sent-ack", text: t("ack_expected", { time: formatInstant(report.expected_acknowledgement_by) }) }),
    report.duplicate_of_incident ? h("p", { text: t("duplicate") }) : null,
    report.emergency_notice ? h("p", { class: "notice urgent", text: report.emergency_notice }) : null,
  ];
  $("sent-title").textContent = t("sent_title");
  $("sent-body").replaceChildren(...lines.filter(Boolean));
  $("sent-link").href = `#/signalement/${encodeURIComponent(report.reference)}`;
  show("sent");
  offerPush();
}

function showQueued() {
  $("sent-title").textContent = t("queued_title");
  $("sent-body").replaceChildren(h("p", { class: "notice", text: t("queued") }));
  $("sent-link").href = "#/mes-signalements";
  show("sent");
}

// --- « Mes signalements » ----------------------------------------------------------------------------------------

function statusLabel(status) {
  return t(`status_${status}`);
}

async function renderList() {
  const pending = await outbox.all();
  $("pending-list").replaceChildren(...pending.map((entry) => {
    const category = state.byCode.get(entry.body.category);
    return h("li", { class: entry.error ? "refused" : "pending" },
      h("span", { class: "title", text: category ? pick(category, "label") : entry.body.category }),
      h("span", { text: formatInstant(entry.createdAt) }),
      h("span", { class: "status", text: entry.error ? t("refused", { message: entry.error }) : t("pending") }),
      entry.error ? h("button", { type: "button", class: "secondary", text: t("discard"),
        onclick: async () => { await outbox.remove(entry.key); renderList(); } }) : null);
  }));
  let reports = [];
  try {
    reports = await api.reports();
    localStorage.setItem("proxima.reports", JSON.stringify(reports));
  } catch (exc) {
    reports = JSON.parse(localStorage.getItem("proxima.reports") || "[]");
  }
  $("report-list").replaceChildren(...reports.map((report) => {
    const category = state.byCode.get(report.category);
    return h("li", {},
      h("a", { href: `#/signalement/${encodeURIComponent(report.reference)}`, text: report.reference }),
      h("span", { class: "title", text: category ? pick(category, "label") : report.category }),
      h("span", { text: `${report.commune.name} — ${formatInstant(report.created_at)}` }),
      h("span", { class: `status status-${report.status}`, text: statusLabel(report.status) }));
  }));
  $("list-empty").hidden = reports.length + pending.length > 0;
}

// --- A report: timeline, reopen, feedback ----------------------------------------------------------------------

async function renderDetail(reference) {
  $("detail-title").textContent = t("detail_title", { reference });
  $("detail-body").replaceChildren(h("p", { text: t("loading") }));
  state.detail = null;
  await refreshDetail(reference);
  if (!state.pushEnabled) {
    const seconds = Number(document.body.dataset.pollS) || 30;
    state.pollTimer = setInterval(() => refreshDetail(reference), seconds * 1000);
  }
}

async function refreshDetail(reference) {
  let report;
  try {
    report = await api.report(reference);
  } catch (exc) {
    if (state.detail) { return; }  // keep what is shown; the next refresh may succeed
    $("detail-body").replaceChildren(h("p", { class: "error", role: "alert",
      text: exc instanceof ApiError ? t("not_found") : t("server_error") }));
    return;
  }
  if (currentRoute().name !== "detail" || currentRoute().reference !== reference) { return; }
  const previous = state.detail;
  state.detail = report;
  if (!previous) {
    $("detail-body").replaceChildren(
      h("p", { id: "detail-status", class: "status" }),
      h("dl", { class: "facts" }),
      h("h2", { text: t("timeline") }),
      h("ol", { id: "timeline", class: "timeline" }),
      threadSection(reference),
      h("div", { id: "detail-actions" }),
      h("p", {}, h("a", { href: "#/mes-signalements", text: t("back_to_list") })));
  }
  $("detail-status").textContent = t("status", { status: statusLabel(report.status) });
  const category = state.byCode.get(report.category);
  const facts = [
    [t("fact_reference"), report.reference],
    [t("fact_category"), category ? pick(category, "label") : report.category],
    [t("fact_unit"), report.unit.name],
    [t("fact_commune"), report.commune.name],
    [t("fact_description"), report.description || "—"],
    [t("fact_photos"), String(report.photos)],
  ];
  document.querySelector("#detail-body .facts").replaceChildren(...facts.flatMap(([term, value]) => [
    h("dt", { text: term }), h("dd", { text: value })]));
  $("timeline").replaceChildren(...report.timeline.map((entry) => h("li", {},
    h("time", { datetime: entry.at, text: formatInstant(entry.at) }),
    h("span", { text: ` ${entry.text || ""}` }),
    entry.outcome ? h("span", { class: "outcome", text: ` ${entry.outcome.text || entry.outcome.label}` }) : null)));
  const actionsKey = `${report.status}|${report.feedback_given}|${report.can_reopen_until}`;
  if (!previous || previous.actionsKey !== actionsKey) { renderActions(report); }
  report.actionsKey = actionsKey;
  await refreshThread(reference);
}

// --- A report's thread: messages with the unit, text and photos -------------------------------------------------

const thread = { photos: [] };  // {blob, url} of the message being written

function threadSection(reference) {
  thread.photos = [];
  return h("section", { id: "thread", "aria-labelledby": "thread-title" },
    h("h2", { id: "thread-title", text: t("messages_title") }),
    h("ol", { id: "thread-messages", class: "thread", "aria-live": "polite" }),
    h("form", { id: "message-form", novalidate: true, onsubmit: (event) => onSendMessage(event, reference) },
      h("div", { class: "field" },
        h("label", { for: "message-text", text: t("message_label") }),
        h("textarea", { id: "message-text", rows: "3", maxlength: "2000" })),
      h("div", { class: "field" },
        h("label", { for: "message-photos", text: t("message_photos") }),
        h("input", { id: "message-photos", type: "file", accept: "image/jpeg,image/png,image/*", multiple: true,
          onchange: onMessagePhotos })),
      h("ul", { id: "message-photo-list", class: "photos" }),
      h("p", { id: "message-error", class: "error", role: "alert" }),
      h("button", { type: "submit", text: t("message_send") })),
    h("p", { id: "thread-closed", class: "notice", hidden: true, text: t("messages_closed") }));
}

async function refreshThread(reference) {
  let answer;
  try {
    answer = await api.messages(reference);
  } catch (exc) {
    return;  // keep what is shown; the next refresh may succeed
  }
  if (!$("thread-messages")) { return; }
  $("thread-messages").replaceChildren(...(answer.items.length ? answer.items.map(messageItem)
    : [h("li", { class: "empty", text: t("messages_empty") })]));
  $("message-form").hidden = !answer.open;
  $("thread-closed").hidden = answer.open;
  if (answer.unread) { api.markMessagesRead(reference).catch(() => {}); }
}

function messageItem(message) {
  // The unit by its name: the API never says which officer wrote.
  const author = message.author === "unit" ? message.unit : t("message_you");
  return h("li", { class: `message message-${message.author}` },
    h("time", { datetime: message.created_at, text: formatInstant(message.created_at) }),
    h("strong", { text: ` ${author}` }),
    message.text ? h("p", { class: "message-text", text: message.text }) : null,
    message.photos ? h("p", { class: "hint", text: t("message_photo_count", { n: message.photos }) }) : null);
}

async function onMessagePhotos(event) {
  const input = event.target;
  const files = [...input.files];
  input.value = "";
  for (const file of files) {
    if (thread.photos.length >= MAX_PHOTOS) {
      $("message-error").textContent = t("too_many_photos");
      break;
    }
    try {
      const blob = await preparePhoto(file);
      thread.photos.push({ blob, url: URL.createObjectURL(blob) });
    } catch (exc) {
      $("message-error").textContent = t("photo_unreadable");
    }
  }
  renderMessagePhotos();
}

function renderMessagePhotos() {
  $("message-photo-list").replaceChildren(...thread.photos.map((photo, i) => h("li", {},
    h("img", { src: photo.url, alt: t("photo_alt", { n: i + 1 }) }),
    h("button", { type: "button", class: "secondary", text: t("photo_remove", { n: i + 1 }),
      onclick: () => {
        URL.revokeObjectURL(photo.url);
        thread.photos.splice(i, 1);
        renderMessagePhotos();
      } }))));
  $("message-photos").disabled = thread.photos.length >= MAX_PHOTOS;
}

async function onSendMessage(event, reference) {
  event.preventDefault();
  const text = $("message-text").value.trim();
  if (!text && !thread.photos.length) {
    $("message-error").textContent = t("message_empty_error");
    return;
  }
  const button = event.target.querySelector("button[type=submit]");
  button.disabled = true;
  $("message-error").textContent = "";
  try {
    await api.sendMessage(reference, text, thread.photos.map((p) => p.blob), newKey());
    thread.photos.forEach((p) => URL.revokeObjectURL(p.url));
    thread.photos = [];
    renderMessagePhotos();
    $("message-text").value = "";
    $("network").textContent = t("message_sent");
    await refreshDetail(reference);
  } catch (exc) {
    $("message-error").textContent = exc instanceof ApiError
      ? [exc.message, ...exc.fieldMessages()].join(" ") : t("server_error");
  } finally {
    button.disabled = false;
  }
}

function renderActions(report) {
  const box = $("detail-actions");
  box.replaceChildren();
  const until = report.can_reopen_until && new Date(report.can_reopen_until);
  if (until) {
    box.append(h("section", { class: "reopen", "aria-labelledby": "reopen-title" },
      h("h2", { id: "reopen-title", text: t("reopen") }),
      h("p", { text: t("reopen_until", { time: formatInstant(report.can_reopen_until) }) }),
      h("div", { class: "field" },
        h("label", { for: "reopen-reason", text: t("reopen_reason") }),
        h("textarea", { id: "reopen-reason", rows: "2", maxlength: "1000" })),
      h("p", { id: "reopen-error", class: "error", role: "alert" }),
      h("button", { type: "button", text: t("reopen"), onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api.reopen(report.reference, $("reopen-reason").value.trim());
          $("network").textContent = t("reopened");
          state.detail = null;
          await refreshDetail(report.reference);
        } catch (exc) {
          $("reopen-error").textContent = exc.message;
          event.target.disabled = false;
        }
      } })));
  }
  if (CLOSED_STATUSES.includes(report.status) && !report.feedback_given) {
    box.append(feedbackForm(report));
  } else if (report.feedback_given) {
    box.append(h("p", { id: "feedback-thanks", class: "notice", text: t("feedback_thanks") }));
  }
}

function feedbackForm(report) {
  const questions = ["reactivite", "courtoisie", "information"];
  const form = h("form", { class: "feedback", "aria-labelledby": "feedback-title", novalidate: true },
    h("h2", { id: "feedback-title", text: t("feedback_title") }),
    ...questions.map((question) => h("fieldset", { class: "scale" },
      h("legend", { text: t(`feedback_${question}`) }),
      ...[1, 2, 3, 4, 5].map((n) => h("span", { class: "score" },
        h("input", { type: "radio", name: question, id: `${question}-${n}`, value: String(n) }),
        h("label", { for: `${question}-${n}`, "aria-label": t("feedback_score", { n }), text: String(n) }))))),
    h("div", { class: "field" },
      h("label", { for: "feedback-comment", text: t("feedback_comment") }),
      h("textarea", { id: "feedback-comment", rows: "3", maxlength: "1000" })),
    h("p", { id: "feedback-error", class: "error", role: "alert" }),
    h("button", { type: "submit", text: t("feedback_send") }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const question of questions) {
      const checked = form.querySelector(`input[name="${question}"]:checked`);
      if (!checked) {
        $("feedback-error").textContent = t("feedback_missing");
        return;
      }
      body[question] = Number(checked.value);
    }
    const comment = $("feedback-comment").value.trim();
    if (comment) { body.comment = comment; }
    try {
      await api.feedback(report.reference, body);
      form.replaceWith(h("p", { id: "feedback-thanks", class: "notice", role: "status", text: t("feedback_thanks") }));
      report.feedback_given = true;
    } catch (exc) {
      $("feedback-error").textContent = exc.message;
    }
  });
  return form;
}

// --- Views, network, service worker, push ------------------------------------------------------------------------

function currentRoute() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const detail = hash.match(/^\/signalement\/(.+)$/);
  if (detail) { return { name: "detail", reference: detail[1] }; }
  if (hash === "/mes-signalements") { return { name: "list" }; }
  return { name: "form" };
}

function show(name) {
  document.querySelectorAll("[data-view]").forEach((view) => { view.hidden = view.dataset.view !== name; });
  document.querySelectorAll("nav a").forEach((link) => {
    const target = link.getAttribute("href") === "#/mes-signalements" ? "list" : "form";
    if (target === name) { link.setAttribute("aria-current", "page"); } else { link.removeAttribute("aria-current"); }
  });
  if (name === "form") { state.picker.refresh(); }
  const heading = document.querySelector(`[data-view="${name}"] h1`);
  if (heading && name !== "form") { heading.focus({ preventScroll: false }); }
}

async function route() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
  const current = currentRoute();
  show(current.name);
  if (current.name === "list") { await renderList(); }
  if (current.name === "detail") { await renderDetail(current.reference); }
}

function updateNetworkStatus() {
  $("network").textContent = navigator.onLine ? "" : t("offline");
  document.body.classList.toggle("offline", !navigator.onLine);
}

async function flushAndAnnounce() {
  try {
    const created = await flush();
    if (created.length) {
      $("network").textContent = created.map((r) => t("flushed", { reference: r.reference })).join(" ");
      if (currentRoute().name === "list") { await renderList(); }
    }
  } catch (exc) {
    // The next `online` event or start tries again.
  }
}

async function offerPush({ ask = true } = {}) {
  if (state.pushEnabled || !state.registration || !document.body.dataset.fcm) { return; }
  if (!ask && (!("Notification" in window) || Notification.permission !== "granted")) { return; }
  state.pushEnabled = await registerPush(state.registration, api.setPushToken);
}

/** The service worker forwards each push message: the report shown, if it is that one, is refreshed at once. */
function onWorkerMessage(event) {
  const message = event.data || {};
  const current = currentRoute();
  if (message.type === "report-changed" && current.name === "detail" && current.reference === message.reference) {
    refreshDetail(current.reference);
  }
}

async function start() {
  translatePage();
  state.picker = new PlacePicker($("map"), onPlaceChange);
  $("category").addEventListener("change", onCategoryChange);
  $("locate").addEventListener("click", locate);
  $("photos").addEventListener("change", onPhotosChosen);
  $("report-form").addEventListener("submit", onSubmit);
  window.addEventListener("hashchange", route);
  window.addEventListener("online", () => { updateNetworkStatus(); flushAndAnnounce(); });
  window.addEventListener("offline", updateNetworkStatus);
  updateNetworkStatus();
  await loadCategories();
  onCategoryChange();
  await route();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", onWorkerMessage);
    try {
      state.registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    } catch (exc) {
      // Without a service worker the app still works online.
    }
  }
  document.body.dataset.ready = "true";
  flushAndAnnounce();
  offerPush({ ask: false });
}

start();
