// Orderloom dashboard: live updates over server-sent events, and the actions people take from the pages.
// Every change goes through the JSON API with the session cookie and the X-Requested-With header.
"use strict";

async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { "X-Requested-With": "orderloom" } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const res = await fetch(url, init);
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  return { ok: res.ok, status: res.status, data };
}

function problemText(r) {
  const d = r.data || {};
  const parts = [d.message || d.detail || ("HTTP " + r.status)];
  for (const p of d.problems || []) parts.push((p.field ? p.field + ": " : "") + (p.message || ""));
  return parts.join(" — ");
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

// -- live updates ---------------------------------------------------------------------------------------
const fragments = () => Array.from(document.querySelectorAll("[data-fragment]"));
let refreshTimer = null;
let busy = 0;

function scheduleRefresh(delay = 1500) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshFragments, delay);
}

async function refreshFragments() {
  if (busy > 0 || document.querySelector("dialog[open]")) { scheduleRefresh(2000); return; }
  for (const box of fragments()) {
    const res = await fetch(box.dataset.fragment, { credentials: "same-origin" });
    if (res.ok) box.innerHTML = await res.text();
  }
}

function feedItem(ev) {
  const when = new Date(ev.at);
  const li = el("li", { class: "new", "data-type": ev.type },
    el("time", {}, when.toLocaleTimeString()),
    ev.order_id ? el("a", { href: "/ui/orders/" + encodeURIComponent(ev.order_id) }, "order " + ev.order_id) : "",
    " " + ev.what + " ", el("small", {}, ev.detail || ""));
  return li;
}

function startLive() {
  const feed = document.getElementById("feed");
  if (!feed && fragments().length === 0) return;
  const url = "/ui/events" + (feed && feed.dataset.after ? "?after=" + encodeURIComponent(feed.dataset.after) : "");
  const source = new EventSource(url);
  const live = document.getElementById("live");
  source.addEventListener("open", () => live && live.classList.add("on"));
  source.addEventListener("error", () => live && live.classList.remove("on"));
  const types = ["order.received", "order.routed", "order.status_changed", "order.routing_failed",
    "order.shipment_recorded", "order.delayed", "order.delivered", "order.cancelled", "exception.opened",
    "exception.closed", "intake.document_settled", "proposal.created", "proposal.decided", "carrier.incident",
    "inventory.discrepancy_detected", "return.requested", "return.status_changed", "return.refunded"];
  for (const type of types) {
    source.addEventListener(type, (msg) => {
      const ev = JSON.parse(msg.data);
      if (feed) {
        feed.prepend(feedItem(ev));
        while (feed.children.length > 200) feed.lastElementChild.remove();
      }
      for (const row of document.querySelectorAll(`[data-order="${CSS.escape(ev.order_id || "")}"] [data-status]`)) {
        if (ev.type === "order.status_changed") row.textContent = (ev.detail.split("→")[1] || "").trim();
      }
      scheduleRefresh();
    });
  }
}

// -- the exception queue --------------------------------------------------------------------------------
async function orderState(orderId) {
  if (!orderId) return "";
  const r = await api("GET", "/orders/" + encodeURIComponent(orderId));
  return r.ok ? r.data.status : "";
}

async function act(row, doit) {
  const out = row.querySelector("[data-result]");
  const buttons = row.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  busy += 1;
  try {
    const r = await doit();
    const link = row.querySelector("a[href^='/ui/orders/']");
    const orderId = link ? link.textContent.trim() : "";
    if (r.ok) {
      const state = await orderState(orderId);
      out.className = "result ok";
      out.textContent = (r.data.status || "done") + (state ? " · order " + orderId + " is now " + state : "");
      out.setAttribute("data-order-state", state);
      setTimeout(() => { busy -= 1; scheduleRefresh(10); }, 6000);
      return;
    }
    out.className = "result err";
    out.textContent = problemText(r);
    buttons.forEach((b) => (b.disabled = false));
  } catch (err) {
    out.className = "result err";
    out.textContent = String(err);
    buttons.forEach((b) => (b.disabled = false));
  }
  busy -= 1;
}

function setupQueue() {
  const dialog = document.getElementById("edit-dialog");
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-do], [data-decide]");
    if (!button) return;
    const row = button.closest("tr");
    if (button.dataset.decide) {
      const id = row.dataset.proposal;
      act(row, () => api("POST", `/proposals/${encodeURIComponent(id)}/${button.dataset.decide}`, { note: "from the dashboard" }));
      return;
    }
    const id = row.dataset.case;
    if (button.dataset.do === "approve") {
      act(row, () => api("POST", `/exceptions/${encodeURIComponent(id)}/resolve`,
        { action: row.dataset.action, params: JSON.parse(row.dataset.params || "{}"), note: "approved the recommendation" }));
    } else if (button.dataset.do === "reject") {
      act(row, () => api("POST", `/exceptions/${encodeURIComponent(id)}/dismiss`, { note: "recommendation rejected" }));
    } else if (button.dataset.do === "edit" && dialog) {
      const form = dialog.querySelector("form");
      form.action.value = row.dataset.action;
      form.params.value = row.dataset.params || "{}";
      form.note.value = "";
      dialog.querySelector("[data-case]").textContent = "#" + id;
      dialog.querySelector("[data-error]").textContent = "";
      dialog.dataset.case = id;
      dialog.showModal();
    }
  });
  if (!dialog) return;
  dialog.querySelector("form").addEventListener("submit", (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    event.preventDefault();
    const form = event.target;
    let params;
    try { params = JSON.parse(form.params.value || "{}"); } catch (err) {
      dialog.querySelector("[data-error]").textContent = "Parameters are not valid JSON: " + err.message;
      return;
    }
    const id = dialog.dataset.case;
    const row = document.querySelector(`tr[data-case="${CSS.escape(id)}"]`);
    dialog.close();
    act(row, () => api("POST", `/exceptions/${encodeURIComponent(id)}/resolve`,
      { action: form.action.value, params, note: form.note.value || "edited from the dashboard" }));
  });
}

// -- the returns queue ----------------------------------------------------------------------------------
function setupReturns() {
  const dialog = document.getElementById("refuse-dialog");
  if (!dialog) return;
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-return]");
    if (!button) return;
    const row = button.closest("tr");
    const id = row.dataset.rma;
    if (button.dataset.return === "authorise") {
      act(row, () => api("POST", `/returns/${encodeURIComponent(id)}/authorise`,
        { reason: "evidence checked on the dashboard" }));
    } else if (button.dataset.return === "refuse") {
      dialog.querySelector("[data-rma]").textContent = id;
      dialog.querySelector("[data-error]").textContent = "";
      dialog.querySelector("form").reason.value = "";
      dialog.dataset.rma = id;
      dialog.showModal();
    }
  });
  dialog.querySelector("form").addEventListener("submit", (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    event.preventDefault();
    const reason = event.target.reason.value.trim();
    if (!reason) { dialog.querySelector("[data-error]").textContent = "Say why: the customer reads it."; return; }
    const id = dialog.dataset.rma;
    const row = document.querySelector(`tr[data-rma="${CSS.escape(id)}"]`);
    dialog.close();
    act(row, () => api("POST", `/returns/${encodeURIComponent(id)}/refuse`, { reason }));
  });
}

// -- chats ------------------------------------------------------------------------------------------------
function say(list, who, text) {
  const li = el("li", { class: who }, text);
  list.append(li);
  list.scrollTop = list.scrollHeight;
  return li;
}

function setupOpsChat() {
  const box = document.getElementById("ops-chat");
  if (!box) return;
  const list = box.querySelector("[data-messages]");
  const pending = box.querySelector("[data-pending]");
  const thread = box.dataset.thread;
  box.querySelector("form[data-chat]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = event.target.message;
    const message = input.value.trim();
    if (!message) return;
    input.value = "";
    say(list, "me", message);
    const reply = say(list, "bot", "…");
    const res = await fetch("/ops/chat", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Requested-With": "orderloom" },
      body: JSON.stringify({ thread_id: thread, message }) });
    if (!res.ok) { reply.textContent = problemText({ status: res.status, data: await res.json().catch(() => null) }); return; }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const type = (chunk.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((chunk.match(/^data: (.*)$/m) || [null, "{}"])[1]);
        if (type === "step") reply.textContent = "… " + (data.node || data.name || "");
        if (type === "answer") reply.textContent = data.answer || "";
        if (type === "error") reply.textContent = data.message || "the assistant failed";
        if (type === "proposal") {
          reply.textContent = data.answer || "I propose an action; it waits for your decision.";
          pending.hidden = false;
          pending.querySelector("[data-pending-text]").textContent = JSON.stringify(data.proposal || data, null, 1);
        }
      }
    }
  });
  pending.addEventListener("click", async (event) => {
    const decision = event.target.dataset.decision;
    if (!decision) return;
    const r = await api("POST", `/ops/chat/${encodeURIComponent(thread)}/decision`, { decision });
    pending.hidden = true;
    say(list, "bot", r.ok ? (r.data.answer || decision + "d") : problemText(r));
  });
}

function setupCustomerChat() {
  const form = document.querySelector("form[data-customer-chat]");
  if (!form) return;
  const list = form.parentElement.querySelector("[data-messages]");
  const thread = "page-" + Math.random().toString(36).slice(2, 10);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = form.message.value.trim();
    if (!message) return;
    form.message.value = "";
    say(list, "me", message);
    const reply = say(list, "bot", "…");
    const r = await api("POST", "/customer/chat", { thread_id: thread, message });
    reply.textContent = r.ok ? r.data.answer : problemText(r);
  });
}

// -- the customer's returns form -------------------------------------------------------------------------
function setupReturnForms() {
  for (const form of document.querySelectorAll("form[data-return-form]")) {
    const swaps = () => form.querySelectorAll("select[data-swap]");
    const showSwaps = () => {
      const exchange = form.querySelector("input[name=resolution]:checked").value === "exchange";
      for (const s of swaps()) s.disabled = !exchange;
    };
    for (const r of form.querySelectorAll("input[name=resolution]")) r.addEventListener("change", showSwaps);
    showSwaps();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = form.querySelector("[data-result]");
      const button = form.querySelector("button");
      const resolution = form.querySelector("input[name=resolution]:checked").value;
      const reason = form.reason.value;
      const lines = [];
      for (const row of form.querySelectorAll("[data-line]")) {
        const units = parseInt(row.querySelector("input[data-units]").value || "0", 10);
        if (!(units > 0)) continue;
        const line = { line_no: parseInt(row.dataset.line, 10), quantity: units, reason };
        const swap = row.querySelector("select[data-swap]");
        if (resolution === "exchange" && swap && swap.value) line.exchange_sku = swap.value;
        lines.push(line);
      }
      if (!lines.length) { out.textContent = "Choose how many to send back."; return; }
      button.disabled = true;
      out.textContent = "…";
      const r = await api("POST", `/orders/${encodeURIComponent(form.dataset.order)}/returns`,
        { lines, resolution, reason_text: form.reason_text.value.trim() });
      if (!r.ok) { out.textContent = problemText(r); button.disabled = false; return; }
      const label = r.data.label ? ` Your label: ${r.data.label.carrier} ${r.data.label.tracking_number}.` : "";
      out.textContent = r.data.status === "label_issued"
        ? `Return ${r.data.rma_id} is approved.${label}`
        : `Return ${r.data.rma_id} is with our team; we'll email you.`;
      const refused = (r.data.refusals || []).map((p) => p.message);
      if (refused.length) out.textContent += ` Not included: ${refused.join("; ")}.`;
    });
  }
}

function setupLogout() {
  const form = document.querySelector("form[data-logout]");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await fetch("/ui/logout", { method: "POST", credentials: "same-origin", headers: { "X-Requested-With": "orderloom" } });
    window.location.href = "/ui/login";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  startLive();
  setupQueue();
  setupReturns();
  setupOpsChat();
  setupCustomerChat();
  setupReturnForms();
  setupLogout();
});
