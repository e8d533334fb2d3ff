// vitco's pages: buttons and forms call the /v1 API with the session's CSRF token, and the
// live event stream (Server-Sent Events) refreshes the parts of the page that change.
// Plain JavaScript, no library, nothing loaded from elsewhere. Text from the server is set
// with textContent or parsed from pages the server rendered escaped: never as raw HTML.
"use strict";
(() => {
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  async function call(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const answer = await fetch(url, init);
    let data = null;
    try {
      data = await answer.json();
    } catch (e) {
      data = null;
    }
    if (!answer.ok) {
      const message = data && data.error ? data.error.message : `HTTP ${answer.status}`;
      const error = new Error(message);
      error.status = answer.status;
      throw error;
    }
    return data;
  }

  function showError(element, error) {
    const scope = element.closest("form, .gate, .actions, section, dialog") || document;
    const slot = scope.querySelector("[data-error]");
    if (slot) slot.textContent = error.message;
  }

  function fields(form) {
    const body = {};
    for (const element of form.elements) {
      if (!element.name || element.type === "submit" || element.type === "button") continue;
      const raw = element.value.trim();
      if (raw === "") continue;
      if (element.hasAttribute("data-json")) {
        try {
          body[element.name] = JSON.parse(raw);
        } catch (e) {
          throw new Error(`${element.name}: not valid JSON (${e.message})`);
        }
      } else if (element.hasAttribute("data-list")) {
        body[element.name] = raw.split(",").map((s) => s.trim()).filter(Boolean);
      } else if (element.type === "number") {
        body[element.name] = Number(raw);
      } else {
        body[element.name] = raw;
      }
    }
    return body;
  }

  function go(target, answer) {
    if (!target || target === "reload") return refresh();
    location.assign(target.replace("{id}", encodeURIComponent(answer.id)));
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const spec = form.getAttribute("data-api");
    const start = form.hasAttribute("data-start-run");
    if (!spec && !start) return;
    event.preventDefault();
    const button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    try {
      const body = fields(form);
      if (start) {
        const project = await call("POST", "/v1/projects", {
          brief: body.brief,
          ...(body.budget_usd !== undefined ? { budget_usd: body.budget_usd } : {}),
        });
        const run = await call("POST", `/v1/projects/${encodeURIComponent(project.id)}/runs`, {
          workflow: body.workflow || "deliver-project",
        });
        location.assign(`/runs/${encodeURIComponent(run.id)}`);
        return;
      }
      const [method, url] = spec.split(" ");
      const answer = await call(method, url, body);
      const dialog = form.closest("dialog");
      if (dialog) dialog.close();
      go(form.getAttribute("data-then"), answer);
    } catch (error) {
      showError(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });

  document.addEventListener("click", async (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const action = target.closest("[data-call]");
    if (action) {
      event.preventDefault();
      const [method, url] = action.getAttribute("data-call").split(" ");
      const from = action.getAttribute("data-body-from");
      const input = from ? document.querySelector(from) : null;
      const body = input ? (input.value.trim() ? { reason: input.value.trim() } : {}) : undefined;
      action.disabled = true;
      try {
        await call(method, url, body);
        await refresh();
      } catch (error) {
        showError(action, error);
        action.disabled = false;
      }
      return;
    }
    const fork = target.closest("[data-fork]");
    const dialog = document.getElementById("fork-dialog");
    if (fork && dialog) {
      dialog.querySelector("[data-fork-at]").value = fork.getAttribute("data-fork");
      const plan = document.getElementById("plan-json");
      const edits = fork.hasAttribute("data-fork-plan") && plan
        ? { "plan.tasks": JSON.parse(plan.textContent) } : {};
      dialog.querySelector("[data-json]").value = JSON.stringify(edits, null, 2);
      dialog.querySelector("[data-fork-label]").textContent =
        `${fork.getAttribute("data-fork")} (after ${fork.getAttribute("data-fork-after")})`;
      dialog.showModal();
      dialog.querySelector("textarea, input:not([type=hidden])").focus();
      return;
    }
    if (target.closest("[data-close]")) target.closest("dialog").close();
  });

  const live = document.querySelector("[data-live-src]");
  let lastSeq = live ? Number(live.getAttribute("data-since") || 0) : 0;
  let timer = null;
  let running = null;

  function typingIn(part) {
    const active = document.activeElement;
    return active && part.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  async function refresh() {
    if (!live) return location.reload();
    if (running) return running;
    running = (async () => {
      const answer = await fetch(live.getAttribute("data-refresh"), { credentials: "same-origin" });
      if (!answer.ok) return;
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      for (const fresh of page.querySelectorAll("[data-part][id]")) {
        const old = document.getElementById(fresh.id);
        if (!old || typingIn(old)) continue;
        const focused = document.activeElement && old.contains(document.activeElement)
          ? document.activeElement.id : null;
        old.replaceWith(document.adoptNode(fresh));
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
      }
    })().finally(() => { running = null; });
    return running;
  }

  function appendEvent(event) {
    const list = document.querySelector("[data-timeline]");
    if (!list || list.querySelector(`[data-seq="${Number(event.seq)}"]`)) return;
    const item = document.createElement("li");
    item.className = `event k-${String(event.kind).replace(/[^a-z_]/g, "")}`;
    item.setAttribute("data-seq", String(Number(event.seq)));
    const when = String(event.ts).replace("T", " ").slice(0, 19);
    item.textContent = `${when} ${event.kind}${event.task ? ` [${event.task}]` : ""} ${event.message}`;
    list.appendChild(item);
  }

  function connect() {
    const url = new URL(live.getAttribute("data-live-src"), location.href);
    if (lastSeq) url.searchParams.set("since", String(lastSeq));
    const source = new EventSource(url);
    source.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      appendEvent(event);
      clearTimeout(timer);
      timer = setTimeout(refresh, 1000);
    };
    source.addEventListener("lagging", (message) => {
      source.close();
      lastSeq = JSON.parse(message.data).since;
      connect();
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  if (live && window.EventSource) connect();
})();
