// The delivery-promise widget a storefront embeds on a product page:
//   <div data-orderloom-promise data-sku="HOM-0001" data-zip="10001" data-quantity="1"></div>
//   <script src="/ui/static/promise-widget.js" defer></script>
// It asks POST /promise with the page's signed-in session (a storefront on another origin calls its own
// backend, which holds the channel key, and points data-endpoint at it).
"use strict";
(function () {
  function fmt(day) {
    const d = new Date(day + "T12:00:00Z");
    return d.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" });
  }
  async function render(box) {
    const sku = box.dataset.sku, zip = (box.dataset.zip || "").trim();
    box.classList.add("promise-widget");
    if (!sku || !/^[0-9]{5}(-[0-9]{4})?$/.test(zip)) { box.textContent = "Enter a ZIP code to see when it arrives."; return; }
    box.textContent = "Checking delivery dates…";
    const res = await fetch(box.dataset.endpoint || "/promise", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Requested-With": "orderloom" },
      body: JSON.stringify({ lines: [{ sku, quantity: Number(box.dataset.quantity || 1) }], postal_code: zip.slice(0, 5) }) });
    const data = await res.json().catch(() => null);
    if (!res.ok || !data) { box.textContent = (data && data.message) || "Delivery dates are not available right now."; return; }
    const options = (data.options || []).filter((o) => o.possible);
    box.replaceChildren();
    if (options.length === 0) { box.textContent = "Not available to ship to " + zip + " at the moment."; return; }
    const best = options.reduce((a, b) => (a.delivery_date <= b.delivery_date ? a : b));
    const head = document.createElement("p");
    head.append("Get it by ");
    const b = document.createElement("b");
    b.textContent = fmt(best.delivery_date);
    head.append(b, " with " + best.service_level + " delivery to " + zip);
    box.append(head);
    const list = document.createElement("ul");
    for (const o of options) {
      const li = document.createElement("li");
      li.textContent = o.service_level + ": " + fmt(o.delivery_date) + " (" + Math.round((o.confidence || 0) * 100) + "% on time)";
      list.append(li);
    }
    box.append(list);
  }
  function all() { document.querySelectorAll("[data-orderloom-promise]").forEach(render); }
  document.addEventListener("DOMContentLoaded", () => {
    all();
    const form = document.querySelector("[data-promise-form]");
    if (form) form.addEventListener("change", () => {
      document.querySelectorAll("[data-orderloom-promise]").forEach((box) => {
        box.dataset.sku = form.sku.value; box.dataset.zip = form.zip.value; render(box);
      });
    });
  });
})();
