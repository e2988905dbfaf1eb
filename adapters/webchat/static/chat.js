// botgate web chat: one WebSocket per tab, reconnecting with back-off. The bot's messages
// arrive as HTML the server rendered from Markdown with raw HTML escaped; the visitor's own
// words are only ever set as text. No inline script or handler: the page's CSP forbids them.
"use strict";
(function () {
  const body = document.body;
  const bot = body.dataset.bot;
  const max = Number(body.dataset.max) || 4000;
  const storeKey = "botgate.webchat." + bot;
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const refused = document.getElementById("refused");
  let socket = null;
  let ready = false;
  let delay = 500;
  let typingTimer = null;
  const unsent = new Map(); // id -> frame, sent again after a reconnect

  function token() {
    try { return localStorage.getItem(storeKey); } catch (e) { return null; }
  }
  function keep(value) {
    try {
      if (value) localStorage.setItem(storeKey, value); else localStorage.removeItem(storeKey);
    } catch (e) { /* storage off: the conversation lasts as long as the tab */ }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function scroll() { list.scrollTop = list.scrollHeight; }
  function say(text) { status.textContent = text; }

  function item(id) {
    let li = id ? document.getElementById("m-" + id) : null;
    if (!li) {
      li = document.createElement("li");
      if (id) li.id = "m-" + id;
      list.appendChild(li);
    }
    return li;
  }

  function show(frame) {
    hideTyping();
    const li = item(frame.id);
    li.className = "msg " + (frame.from === "bot" ? "bot" : "visitor");
    if (frame.from === "bot") {
      li.innerHTML = frame.html; // rendered and escaped by the server
      if (frame.buttons && frame.buttons.length) li.appendChild(buttons(frame));
    } else {
      li.textContent = frame.text;
    }
    scroll();
  }

  function buttons(frame) {
    const row = document.createElement("div");
    row.className = "buttons";
    for (const b of frame.buttons) {
      let el;
      if (b.url) {
        el = document.createElement("a");
        el.href = b.url; el.target = "_blank"; el.rel = "noopener noreferrer";
      } else {
        el = document.createElement("button");
        el.type = "button";
        el.addEventListener("click", function () { click(b.id, frame.id); });
      }
      el.textContent = b.label;
      row.appendChild(el);
    }
    return row;
  }

  function note(text) {
    const li = document.createElement("li");
    li.className = "note";
    li.setAttribute("role", "status");
    li.textContent = text;
    list.appendChild(li);
    scroll();
  }

  function showTyping() {
    let li = document.getElementById("typing");
    if (!li) {
      li = document.createElement("li");
      li.id = "typing"; li.className = "typing"; li.textContent = "typing…";
      list.appendChild(li);
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 6000);
    scroll();
  }
  function hideTyping() {
    const li = document.getElementById("typing");
    if (li) li.remove();
  }

  function transmit(frame) {
    if (ready && socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function send(text) {
    if (text.length > max) {
      note("Your message is " + text.length + " characters long; the limit is " + max + ".");
      return;
    }
    const frame = { type: "message", id: newId(), text: text };
    show({ id: frame.id, from: "visitor", text: text });
    unsent.set(frame.id, frame);
    transmit(frame);
  }

  function click(button, message) {
    transmit({ type: "click", button: button, message: message, id: newId() });
  }

  function receive(frame) {
    if (frame.type === "welcome") {
      keep(frame.token);
      ready = true; delay = 500;
      say("connected");
      for (const m of frame.history) show(m);
      for (const f of unsent.values()) transmit(f);
    } else if (frame.type === "message") {
      show(frame);
    } else if (frame.type === "delete") {
      const li = document.getElementById("m-" + frame.id);
      if (li) li.remove();
    } else if (frame.type === "typing") {
      showTyping();
    } else if (frame.type === "accepted") {
      unsent.delete(frame.id);
    } else if (frame.type === "error") {
      if (frame.id) {
        unsent.delete(frame.id);
        const li = document.getElementById("m-" + frame.id);
        if (li) li.classList.add("failed");
      }
      note(frame.reason);
    } else if (frame.type === "refused") {
      ready = false;
      document.getElementById("refused-reason").textContent =
        "This conversation cannot be resumed (" + frame.reason + ").";
      refused.hidden = false;
      form.hidden = true;
      say("not connected");
      document.getElementById("new-conversation").focus();
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/chat/" + encodeURIComponent(bot) + "/ws");
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ type: "hello", token: token() }));
    });
    socket.addEventListener("message", function (event) {
      try { receive(JSON.parse(event.data)); } catch (e) { /* a frame we do not know */ }
    });
    socket.addEventListener("close", function (event) {
      ready = false;
      if (event.code === 4001) return; // refused: the visitor chooses to start again
      say("reconnecting…");
      setTimeout(connect, delay + Math.random() * delay / 2);
      delay = Math.min(delay * 2, 15000);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("new-conversation").addEventListener("click", function () {
    keep(null);
    list.textContent = "";
    refused.hidden = true;
    form.hidden = false;
    input.focus();
    connect();
  });
  connect();
})();
